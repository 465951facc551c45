"""Training: a tiny CPU run learns, exports metadata, resumes to the same result, stops early."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import DataError
from handocr.models.factory import create_model
from handocr.models.weights import load_weights
from handocr.train.config import TrainConfig
from handocr.train.data import load_emnist, to_label_space
from handocr.train.fit import fit
from tests.helpers import Payload


def _sample(emnist_sample: Path) -> tuple[np.ndarray, np.ndarray]:
    s = load_emnist(emnist_sample, "pool47", "train")
    return s.images, to_label_space(s)


@pytest.mark.slow
def test_tiny_run_learns_and_exports_metadata(emnist_sample: Path, tmp_path: Path) -> None:
    images, labels = _sample(emnist_sample)
    cfg = TrainConfig(out_dir=str(tmp_path), epochs=4, batch_size=32, val_fraction=0.1, tag="t")
    res = fit(cfg, train_set=(images, labels), test_set=(images[:47], labels[:47]))
    losses = [r["train_loss"] for r in res.history]
    assert losses[-1] < losses[0]
    info = load_weights(create_model("cnn", weights=None), res.weights, sha256=res.sha256)
    assert info.train["config"]["epochs"] == 4 and info.train["seed"] == 0
    assert set(info.metrics) >= {"val_accuracy", "test_accuracy"}
    assert (tmp_path / "history.csv").is_file() and (tmp_path / "curves.png").is_file()
    page = (tmp_path / "report" / "index.html").read_text()  # the report's layout, curves only
    assert '<img src="curves_0.png"' in page and (tmp_path / "report" / "curves_0.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("ema", [None, 0.9])
def test_interrupted_and_resumed_run_matches_uninterrupted(
    emnist_sample: Path, tmp_path: Path, ema: float | None
) -> None:
    images, labels = _sample(emnist_sample)
    keep = np.concatenate([np.flatnonzero(labels == k)[:5] for k in range(47)])
    data = (images[keep], labels[keep])

    def cfg(name: str) -> TrainConfig:
        return TrainConfig(
            out_dir=str(tmp_path / name), epochs=3, batch_size=32, val_fraction=0.2, ema=ema
        )

    full = fit(cfg("a"), train_set=data)

    def interrupt(done: int, total: int) -> None:
        if done == total // 2:  # mid-epoch 2 of 3
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(cfg("b"), train_set=data, progress=interrupt)
    again = fit(cfg("b"), train_set=data, resume=True)

    def strip(rows: list[dict[str, float]]) -> list[dict[str, float]]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert strip(again.history) == strip(full.history)
    assert {k: v for k, v in again.metrics.items() if k != "seconds"} == {
        k: v for k, v in full.metrics.items() if k != "seconds"
    }


def test_resume_without_checkpoint_is_a_data_error(tmp_path: Path) -> None:
    images = np.zeros((40, 28, 28), np.uint8)
    labels = np.arange(40) % 2
    with pytest.raises(DataError, match="no checkpoint"):
        fit(TrainConfig(out_dir=str(tmp_path), epochs=1), train_set=(images, labels), resume=True)


def test_precision_resolves_to_an_autocast_dtype() -> None:
    import torch

    from handocr.train.fit import autocast_dtype

    cpu = torch.device("cpu")
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cpu) in (None, torch.bfloat16)


@pytest.mark.slow
def test_early_stopping_ends_the_run_and_exports_the_best_epoch(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)  # noise: nothing to learn
    labels = np.arange(200) % 4
    cfg = TrainConfig(
        out_dir=str(tmp_path), epochs=30, batch_size=50, val_fraction=0.2, patience=2, ema=0.5
    )
    res = fit(cfg, train_set=(images, labels))
    accs = [r["val_accuracy"] for r in res.history]
    assert len(accs) < 30 and res.metrics.get("stopped_early") is True
    assert len(accs) - (int(np.argmax(accs)) + 1) == 2  # stopped 2 epochs after the best
    assert res.metrics["val_accuracy"] == pytest.approx(max(accs), abs=1e-5)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


def test_fine_tuning_starts_from_the_given_weights(emnist_sample: Path, tmp_path: Path) -> None:
    import torch

    from handocr.models.weights import WeightsInfo, save_weights

    images, labels = _sample(emnist_sample)
    torch.manual_seed(123)
    start = create_model("cnn", weights=None)
    init = tmp_path / "cnn.start.safetensors"
    save_weights(start, init, WeightsInfo(arch="cnn", tag="start"))
    cfg = TrainConfig(
        out_dir=str(tmp_path / "run"),
        epochs=1,
        batch_size=64,
        lr=1e-9,
        val_fraction=0.2,
        init=str(init),
        lowres=0.5,
        augment=True,
    )
    res = fit(cfg, train_set=(images, labels))
    tuned = create_model("cnn", weights=None)
    load_weights(tuned, res.weights)
    ref = create_model("cnn", weights=None)
    load_weights(ref, init)
    w0 = dict(ref.named_parameters())
    for name, p in tuned.named_parameters():  # lr 1e-9: still the initial weights
        torch.testing.assert_close(p, w0[name], atol=2e-3, rtol=0)
    with pytest.raises(ValueError, match="lowres"):
        TrainConfig(lowres=1.5)


def _tiny_data(emnist_sample: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _sample(emnist_sample)
    keep = np.concatenate([np.flatnonzero(labels == k)[:5] for k in range(47)])
    return images[keep], labels[keep]


@pytest.mark.slow
def test_corrupt_checkpoint_is_detected_on_resume(emnist_sample: Path, tmp_path: Path) -> None:
    data = _tiny_data(emnist_sample)
    cfg = TrainConfig(out_dir=str(tmp_path), epochs=1, batch_size=32, val_fraction=0.2)
    fit(cfg, train_set=data)
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(DataError, match="checkpoint"):
        fit(cfg, train_set=data, resume=True)
    marker = tmp_path / "pwned"
    ckpt.write_bytes(pickle.dumps({"model": Payload(marker)}))
    with pytest.raises(DataError, match="checkpoint"):
        fit(cfg, train_set=data, resume=True)
    assert not marker.exists()


def test_absent_classes_get_the_mean_prior_not_a_tiny_one() -> None:
    """A digits specialist: letters must be penalised like any wrong class, not excused."""
    from handocr.train.fit import class_log_prior

    labels = np.repeat(np.arange(10), [100, 100, 100, 100, 100, 100, 100, 100, 100, 300])
    prior = class_log_prior(labels)
    assert prior.shape == (47,)
    np.testing.assert_allclose(prior[10:], np.log(120 / (1200 + 37 * 120)))  # the mean count
    assert prior[9] > prior[0] and np.exp(prior).sum() == pytest.approx(1.0)
    full = class_log_prior(np.arange(47))
    np.testing.assert_allclose(full, np.log(np.full(47, 1 / 47)))  # a full run: the shares
