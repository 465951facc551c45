"""Training: a tiny CPU run learns, exports metadata, and resumes to the same result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.models import create_model
from handocr.models.weights import load_weights
from handocr.train.augment import AugmentConfig, augment_batch
from handocr.train.data import load_emnist, to_label_space
from handocr.train.fit import TrainConfig, fit


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
    from handocr.errors import DataError

    images = np.zeros((40, 28, 28), np.uint8)
    labels = np.arange(40) % 2
    with pytest.raises(DataError, match="no checkpoint"):
        fit(TrainConfig(out_dir=str(tmp_path), epochs=1), train_set=(images, labels), resume=True)


def test_config_checks_ranges() -> None:
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainConfig(label_smoothing=1.5)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="ema"):
        TrainConfig(ema=1.0)
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=0)


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


def test_augmentation_keeps_shape_and_range() -> None:
    import torch

    x = torch.rand(16, 1, 28, 28)
    out = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    same = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    assert torch.equal(out, same)


@pytest.mark.slow
def test_calibrate_refits_temperature_on_the_training_validation_split(
    emnist_sample: Path, tmp_path: Path
) -> None:
    from handocr.train.calibrate import calibrate_weights

    cfg = TrainConfig(
        data=str(emnist_sample), out_dir=str(tmp_path), epochs=2, batch_size=32, val_fraction=0.2
    )
    res = fit(cfg)
    assert 0.05 <= res.metrics["temperature"] <= 20
    out = tmp_path / "calibrated.safetensors"
    got = calibrate_weights(res.weights, out=out)
    info = load_weights(create_model("cnn", weights=None), out)
    assert info.metrics["temperature"] == got["temperature"]
    assert got["val_ece"] <= got["val_ece_raw"] + 1e-6


def test_low_resolution_rendering_makes_thin_strokes_blocky_and_thick() -> None:
    import torch

    x = torch.zeros(8, 1, 28, 28)
    x[:, 0, 4:24, 13:15] = 1.0  # a thin vertical bar, 2 px wide
    cfg = AugmentConfig(
        rotate_deg=0, shear=0, scale=0, translate_px=0, stroke_p=0, lowres_p=1.0, lowres_px=(9, 9)
    )
    out = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    width_in = (x[0, 0, 14] > 0.5).sum()
    width_out = (out[:, 0, 14] > 0.5).sum(1)
    assert (width_out > width_in).all()  # one low-res pixel is 3 px wide at 28 px
    untouched = augment_batch(
        x, AugmentConfig(lowres_p=0.0, stroke_p=0, rotate_deg=0, shear=0, scale=0, translate_px=0)
    )
    assert torch.allclose(untouched, x, atol=1e-5)


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
