"""Ensemble voting: weighted / soft / hard rules, fitted weights, member votes per character."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from handocr.ensemble import (
    HARD_TIE_WEIGHT,
    Ensemble,
    combine_votes,
    fit_voting_weights,
)
from handocr.errors import UnknownModelError, WeightsError
from handocr.models import create_model
from handocr.models.resnet import parse_resnet_name

from .conftest import draw_text_page

runner = CliRunner()


def _probs(rng: np.random.Generator, m: int, n: int, c: int = 47) -> np.ndarray:
    p = rng.random((m, n, c)) ** 4
    return (p / p.sum(2, keepdims=True)).astype(np.float32)


def test_weighted_and_soft_votes_are_weighted_means() -> None:
    per = _probs(np.random.default_rng(0), 3, 20)
    w = np.array([0.5, 0.3, 0.2])
    got = combine_votes(per, w, "weighted")
    np.testing.assert_allclose(got, np.tensordot(w, per, axes=1), rtol=1e-6)
    np.testing.assert_allclose(combine_votes(per, w, "soft"), per.mean(0), rtol=1e-6)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-5)


def test_hard_vote_follows_the_majority_and_breaks_ties_by_probability() -> None:
    per = np.zeros((3, 2, 47), np.float32)
    # crop 0: members vote 5, 5, 7 (member 2 very sure) -> majority 5
    per[0, 0, 5], per[0, 0, 7] = 0.6, 0.4
    per[1, 0, 5], per[1, 0, 7] = 0.6, 0.4
    per[2, 0, 7] = 1.0
    # crop 1: votes 1, 2, 3 -> a tie, won by the highest weighted probability (class 3)
    per[0, 1, 1], per[0, 1, 3] = 0.5, 0.5
    per[1, 1, 2], per[1, 1, 3] = 0.6, 0.4
    per[2, 1, 3] = 1.0
    got = combine_votes(per, np.full(3, 1 / 3), "hard")
    assert list(got.argmax(1)) == [5, 3]
    assert got[0, 5] == pytest.approx((1 - HARD_TIE_WEIGHT) * 2 / 3 + HARD_TIE_WEIGHT * 0.4)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="voting"):
        combine_votes(per, np.full(3, 1 / 3), "borda")


def test_fitted_weights_prefer_the_better_member() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    labels = rng.integers(0, 47, n)
    good = np.full((n, 47), 0.1 / 46, np.float32)
    good[np.arange(n), labels] = 0.9
    noise = _probs(rng, 1, n)[0]
    w = fit_voting_weights(np.stack([noise, good]), labels)
    assert w.shape == (2,) and w.sum() == pytest.approx(1.0)
    assert w[1] > 0.9
    with pytest.raises(ValueError, match="labels"):
        fit_voting_weights(np.stack([noise, good]), labels[:10])


def test_manifest_voting_weights_are_used_only_for_their_members(use_tiny_weights: Path) -> None:
    both = Ensemble.from_names(device="cpu")
    np.testing.assert_allclose(both.weights, [0.7, 0.3])
    assert Ensemble.from_names(voting="soft", device="cpu").voting == "soft"
    one = Ensemble.from_names(["cnn.tiny-b"], device="cpu")
    np.testing.assert_allclose(one.weights, [1.0])
    with pytest.raises(ValueError, match="voting"):
        Ensemble.from_names(voting="borda", device="cpu")


def test_every_character_keeps_each_members_vote(use_tiny_weights: Path) -> None:
    from handocr.api import Recognizer

    page = draw_text_page(["HELLO 42"])
    for voting in ("weighted", "soft", "hard"):
        doc = Recognizer(device="cpu", voting=voting).read(page)
        chars = [c for line in doc.pages[0].lines for c in line.all_chars()]
        assert chars
        for c in chars:
            assert [v[0] for v in c.votes] == ["cnn.tiny", "cnn.tiny-b"]
            assert all(0.0 <= v[2] <= 1.0 for v in c.votes)
        if voting == "hard":  # confidence is (almost) the share of members that agree
            agree = [len({v[1] for v in c.votes}) == 1 for c in chars]
            for c, same in zip(chars, agree, strict=True):
                if same and c.text == c.votes[0][1]:
                    assert c.confidence > 1 - 2 * HARD_TIE_WEIGHT
        js = json.loads(doc.to_json())
        first = js["pages"][0]["lines"][0]["words"][0]["chars"][0]
        assert [v["model"] for v in first["votes"]] == ["cnn.tiny", "cnn.tiny-b"]


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("resnet18", ("resnet18", "small")),
        ("resnet10t-imagenet", ("resnet10t", "imagenet")),
        ("resnet34-nopool", ("resnet34", "nopool")),
        ("cnn", None),
        ("resnet18-huge", None),
    ],
)
def test_resnet_names(name: str, parsed: tuple[str, str] | None) -> None:
    assert parse_resnet_name(name) == parsed


@pytest.mark.parametrize("name", ["resnet10t", "resnet10t-imagenet", "resnet10t-nopool"])
def test_every_stem_maps_crops_to_47_logits(name: str) -> None:
    import torch

    net = create_model(name, weights=None)
    assert next(net.parameters()).shape[1] == 1  # one input channel
    with torch.inference_mode():
        out = net(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 47) and torch.isfinite(out).all()


def test_unknown_timm_resnet_is_a_usage_error() -> None:
    with pytest.raises(UnknownModelError, match="resnet99"):
        create_model("resnet99", weights=None)


@pytest.mark.slow
def test_fit_ensemble_writes_fitted_weights(
    emnist_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr_cli.app import app

    from handocr.models.weights import read_manifest, write_manifest
    from handocr.train.calibrate import fit_ensemble
    from handocr.train.fit import TrainConfig, fit

    folder = tmp_path / "weights"
    folder.mkdir()
    for arch, seed in (("cnn", 0), ("resnet10t", 0), ("cnn", 1)):
        cfg = TrainConfig(
            arch=arch,
            data=str(emnist_sample),
            out_dir=str(tmp_path / f"{arch}{seed}"),
            tag=f"s{seed}",
            epochs=1,
            batch_size=64,
            val_fraction=0.2,
            seed=seed,
        )
        (folder / f"{arch}.s{seed}.safetensors").write_bytes(fit(cfg).weights.read_bytes())
    write_manifest(folder, ["cnn.s0"])
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(folder))
    res = runner.invoke(app, ["fit-ensemble", "cnn.s0", "resnet10t.s0", "--write"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    w = out["voting_weights"]
    assert set(w) == {"cnn.s0", "resnet10t.s0"} and sum(w.values()) == pytest.approx(1, abs=1e-4)
    assert out["nll_fitted"] <= out["nll_equal"] + 1e-6
    manifest = read_manifest(folder)
    assert manifest["default_ensemble"] == ["cnn.s0", "resnet10t.s0"]
    assert manifest["voting_weights"] == w
    ens = Ensemble.from_names(device="cpu")
    np.testing.assert_allclose(ens.weights, [w["cnn.s0"], w["resnet10t.s0"]], rtol=1e-4)
    # members validated on different splits (seed 1 holds out other crops): refused
    with pytest.raises(WeightsError, match="different splits"):
        fit_ensemble(["cnn.s0", "cnn.s1"])
