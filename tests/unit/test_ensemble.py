"""The ensemble: voting rules, members (fault injection), loading by name, and the cascade."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handocr.ensemble import (
    HARD_TIE_WEIGHT,
    Ensemble,
    Member,
    cascade_combine,
    combine_votes,
    low_margin,
    staged_combine,
)
from handocr.errors import ModelOutputError, OptionError, UnknownModelError, WeightsError
from handocr.labels import NUM_CLASSES
from handocr.models.config import parse_cascade
from handocr.result import ModelInfo
from tests.helpers import draw_text_page


def _probs(rng: np.random.Generator, m: int, n: int, c: int = NUM_CLASSES) -> np.ndarray:
    p = rng.random((m, n, c)) ** 4
    return (p / p.sum(2, keepdims=True)).astype(np.float32)


# -- voting rules ------------------------------------------------------------------------------


def test_weighted_and_soft_votes_are_weighted_means() -> None:
    per = _probs(np.random.default_rng(0), 3, 20)
    w = np.array([0.5, 0.3, 0.2])
    got = combine_votes(per, w, "weighted")
    np.testing.assert_allclose(got, np.tensordot(w, per, axes=1), rtol=1e-6)
    np.testing.assert_allclose(combine_votes(per, w, "soft"), per.mean(0), rtol=1e-6)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-5)


def test_hard_vote_follows_the_majority_and_breaks_ties_by_probability() -> None:
    per = np.zeros((3, 2, NUM_CLASSES), np.float32)
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


def test_low_margin_marks_rows_whose_top_two_are_close() -> None:
    p = np.zeros((3, NUM_CLASSES), np.float32)
    p[0, [0, 1]] = 0.5, 0.5
    p[1, [0, 1]] = 0.7, 0.3
    p[2, 0] = 1.0
    assert low_margin(p, 0.5).tolist() == [True, True, False]
    assert low_margin(p, 0.0).tolist() == [False, False, False]
    assert low_margin(p[:0], 0.5).shape == (0,)


def test_parse_cascade() -> None:
    assert parse_cascade("auto") == "auto" and parse_cascade("off") == "off"
    assert parse_cascade("0.25") == 0.25 and parse_cascade(1) == 1.0
    for bad in ("sometimes", 1.5, -0.1, True, None):
        with pytest.raises(OptionError):
            parse_cascade(bad)  # type: ignore[arg-type]


# -- members -----------------------------------------------------------------------------------


class _Faulty(torch.nn.Module):
    """A fake member that returns NaN or a wrong shape (fault injection)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nan":
            return torch.full((len(x), NUM_CLASSES), float("nan"))
        return torch.zeros(len(x), 3)


@pytest.mark.parametrize(("mode", "message"), [("nan", "non-finite"), ("shape", "shape")])
def test_faulty_member_is_named_in_the_error(mode: str, message: str) -> None:
    ens = Ensemble([Member(ModelInfo("fake", "x", ""), _Faulty(mode))])
    with pytest.raises(ModelOutputError, match=f"fake.*{message}"):
        ens.predict_proba(np.zeros((2, 1, 28, 28), np.float32))


class _Const(torch.nn.Module):
    """A torch member that is sure of class ``k``."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.full((len(x), NUM_CLASSES), -30.0)
        out[:, self.k] = 30.0
        return out


def test_soft_voting_weights_members() -> None:
    a, b = (Member(ModelInfo(n, "x", ""), _Const(k)) for n, k in (("a", 1), ("b", 2)))
    probs = Ensemble([a, b], weights=[3, 1]).predict_proba(np.zeros((1, 1, 28, 28), np.float32))
    assert probs[0, 1] == pytest.approx(0.75) and probs[0, 2] == pytest.approx(0.25)


def test_temperature_and_normalisation_of_a_member() -> None:
    class Logits(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(len(x), NUM_CLASSES)
            out[:, 0] = x.reshape(len(x), -1).mean(1)  # the mean input value as class 0's logit
            return out

    info = ModelInfo("m", "x", "")
    x = np.full((1, 1, 28, 28), 3.0, np.float32)
    plain = Ensemble([Member(info, Logits())]).predict_proba(x)
    e = np.exp(3.0)
    assert plain[0, 0] == pytest.approx(e / (e + 46), rel=1e-5)
    hot = Ensemble([Member(info, Logits(), temperature=3.0)]).predict_proba(x)
    assert hot[0, 0] == pytest.approx(np.e / (np.e + 46), rel=1e-5)
    normed = Ensemble([Member(info, Logits(), mean=1.0, std=2.0)]).predict_proba(x)
    assert normed[0, 0] == pytest.approx(np.e / (np.e + 46), rel=1e-5)


def test_bad_ensembles_raise() -> None:
    m = Member(ModelInfo("a", "x", ""), torch.nn.Identity())
    with pytest.raises(ValueError, match="voting weights"):
        Ensemble([m], weights=[1, 2])
    with pytest.raises(ValueError, match="voting weights"):
        Ensemble([m, m], weights=[1, -1])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])
    with pytest.raises(ValueError, match="voting"):
        Ensemble([m], voting="borda")
    with pytest.raises(ValueError, match="batch_size"):
        Ensemble([m], batch_size=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Ensemble([m], cascade=1.5)
    with pytest.raises(ValueError, match="not a member index"):
        Ensemble([m], cascade=0.5, cascade_first=1)


# -- loading by name (tiny untrained weights) --------------------------------------------------


def test_ensemble_probabilities_sum_to_one(use_tiny_weights: Path) -> None:
    ens = Ensemble.from_names(device="cpu")
    probs = ens.predict_proba(np.random.default_rng(0).random((5, 1, 28, 28), np.float32))
    assert probs.shape == (5, NUM_CLASSES) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert ens.predict_proba(np.zeros((0, 1, 28, 28), np.float32)).shape == (0, NUM_CLASSES)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        ens.predict_proba(np.zeros((2, 28, 28), np.float32))


def test_manifest_voting_weights_are_used_only_for_their_members(use_tiny_weights: Path) -> None:
    both = Ensemble.from_names(device="cpu")
    np.testing.assert_allclose(both.weights, [0.7, 0.3])
    assert [m.key for m in both.models] == ["cnn.tiny", "cnn.tiny-b"]
    assert Ensemble.from_names(voting="soft", device="cpu").voting == "soft"
    one = Ensemble.from_names(["cnn.tiny-b"], device="cpu")
    np.testing.assert_allclose(one.weights, [1.0])
    with pytest.raises(ValueError, match="voting"):
        Ensemble.from_names(voting="borda", device="cpu")


def test_unknown_names_and_missing_weights(use_tiny_weights: Path) -> None:
    with pytest.raises(UnknownModelError, match="resnet99"):
        Ensemble.from_names(["resnet99"], device="cpu", backend="torch")
    with pytest.raises(WeightsError, match=r"no shipped weights for cnn\.v9"):
        Ensemble.from_names(["cnn.v9"], device="cpu")


def test_batch_size_does_not_change_the_result(use_tiny_weights: Path) -> None:
    x = np.random.default_rng(1).random((10, 1, 28, 28), np.float32)
    whole = Ensemble.from_names(device="cpu").member_proba(x)
    small = Ensemble.from_names(device="cpu", batch_size=3).member_proba(x)
    np.testing.assert_allclose(small, whole, atol=1e-6)
    some = Ensemble.from_names(device="cpu").member_proba(x, members=[1])
    assert np.isnan(some[0]).all()
    np.testing.assert_allclose(some[1], whole[1], atol=1e-6)


def test_every_character_keeps_each_members_vote(use_tiny_weights: Path) -> None:
    from handocr.api import Recognizer

    page = draw_text_page(["HELLO 42"])
    for voting in ("weighted", "soft", "hard"):
        doc = Recognizer(device="cpu", voting=voting).read(page)
        chars = [c for line in doc.pages[0].lines for c in line.all_chars()]
        assert len(chars) == 7
        for c in chars:
            assert [v[0] for v in c.votes] == ["cnn.tiny", "cnn.tiny-b"]
            assert all(0.0 <= v[2] <= 1.0 for v in c.votes)
        js = json.loads(doc.to_json())
        first = js["pages"][0]["lines"][0]["words"][0]["chars"][0]
        assert [v["model"] for v in first["votes"]] == ["cnn.tiny", "cnn.tiny-b"]


def test_hard_vote_confidence_is_the_share_of_members_that_agree(use_tiny_weights: Path) -> None:
    # without context decoding a character's confidence is its voted probability: under the
    # hard rule, the share of the members that read it, give or take the tie-breaking mix
    from handocr.api import Recognizer

    page = draw_text_page(["HELLO 42", "WORLD 7"])
    doc = Recognizer(device="cpu", voting="hard", word_context=False).read(page)
    chars = [c for line in doc.pages[0].lines for c in line.all_chars()]
    assert len(chars) == 13
    shares = []
    for c in chars:
        share = sum(v[1] == c.text for v in c.votes) / len(c.votes)
        assert share > 0  # the vote is won by a class some member read
        assert abs(c.confidence - share) <= HARD_TIE_WEIGHT, (c.text, c.votes, c.confidence)
        shares.append(share)
    assert set(shares) <= {0.5, 1.0}


# -- the cascade -------------------------------------------------------------------------------


class _Counting:
    """A fake ONNX-style member: fixed logits per crop, counts the crops it saw."""

    def __init__(self, logits: np.ndarray) -> None:
        self.logits = logits
        self.seen = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.seen += len(x)
        idx = x[:, 0, 0, 0].astype(int)  # crop i carries its index in pixel (0, 0)
        return self.logits[idx]


def _fake_members(n: int = 50, seed: int = 0) -> tuple[list[Member], np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = [rng.normal(0, s, (n, NUM_CLASSES)).astype(np.float32) for s in (3.0, 2.0, 4.0)]
    x = np.zeros((n, 1, 28, 28), np.float32)
    x[:, 0, 0, 0] = np.arange(n)
    members = [
        Member(ModelInfo(f"m{k}", "t", ""), _Counting(z))  # type: ignore[arg-type]
        for k, z in enumerate(logits)
    ]
    return members, x


@pytest.fixture
def counting_members(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Member], np.ndarray]:
    """Three fake members that take the numpy (ONNX Runtime) path, and 50 numbered crops."""
    from handocr.models import runtime

    monkeypatch.setattr(runtime, "OnnxNet", _Counting)
    return _fake_members()


def test_cascade_margins_0_and_1_are_one_member_and_the_full_ensemble(counting_members) -> None:
    members, x = counting_members
    full = Ensemble(members, weights=[0.5, 0.3, 0.2])
    per = full.member_proba(x)
    none = Ensemble(members, weights=[0.5, 0.3, 0.2], cascade=0.0, cascade_first=2)
    np.testing.assert_allclose(none.predict_proba(x), per[2], atol=1e-7)
    every = Ensemble(members, weights=[0.5, 0.3, 0.2], cascade=1.0, cascade_first=2)
    np.testing.assert_allclose(every.predict_proba(x), full.predict_proba(x), atol=1e-6)


def test_cascade_runs_the_others_only_on_low_margin_crops(counting_members) -> None:
    members, x = counting_members
    ens = Ensemble(members, weights=[0.5, 0.3, 0.2], cascade=0.3, cascade_first=1)
    per_full = Ensemble(members, weights=[0.5, 0.3, 0.2]).member_proba(x)
    for m in members:
        m.net.seen = 0  # type: ignore[union-attr]
    combined, per = ens.vote(x)
    escalated = low_margin(per_full[1], 0.3)
    assert 0 < escalated.sum() < len(x)
    assert [m.net.seen for m in members] == [escalated.sum(), len(x), escalated.sum()]  # type: ignore[union-attr]
    assert np.isnan(per[0, ~escalated]).all() and not np.isnan(per[0, escalated]).any()
    expected, esc = cascade_combine(per_full, ens.weights, "weighted", 0.3, 1)
    np.testing.assert_array_equal(esc, escalated)
    np.testing.assert_allclose(combined, expected, atol=1e-6)


def test_three_stage_cascade_runs_each_stage_on_fewer_crops(monkeypatch) -> None:
    from handocr.models import runtime

    monkeypatch.setattr(runtime, "OnnxNet", _Counting)
    members, x = _fake_members(n=80)
    w = [0.5, 0.3, 0.2]
    per_full = Ensemble(members, weights=w).member_proba(x)
    for m in members:
        m.net.seen = 0  # type: ignore[union-attr]
    stages, margins = [[2], [0], [1]], [0.6, 0.3]
    ens = Ensemble(members, weights=w, cascade_stages=stages, cascade_margins=margins)
    assert (ens.cascade, ens.cascade_first) == (0.6, 2)
    combined, per = ens.vote(x)
    expected, reached = staged_combine(per_full, ens.weights, "weighted", stages, margins)
    np.testing.assert_allclose(combined, expected, atol=1e-6)
    seen = [m.net.seen for m in members]  # type: ignore[union-attr]
    assert seen == [reached[0].sum(), reached[1].sum(), len(x)]
    assert 0 < reached[1].sum() < reached[0].sum() < len(x)
    assert np.isnan(per[1, ~reached[1]]).all() and not np.isnan(per[1, reached[1]]).any()
    with pytest.raises(ValueError, match="every member once"):
        Ensemble(members, cascade_stages=[[0], [1]], cascade_margins=[0.5])
    with pytest.raises(ValueError, match=r"margins must be in \[0, 1\]"):
        Ensemble(members, cascade_stages=stages, cascade_margins=[0.5, 2.0])
    with pytest.raises(ValueError, match="margins"):
        staged_combine(per_full, ens.weights, "weighted", stages, [0.5])


def test_cascade_settings(use_onnx_weights: Path) -> None:
    fitted = Ensemble.from_names(device="cpu", cascade="auto")
    assert (fitted.cascade, fitted.models[fitted.cascade_first].tag) == (0.5, "tiny-b")
    assert Ensemble.from_names(device="cpu").cascade == 0.5  # "auto" is the default
    assert Ensemble.from_names(device="cpu", cascade="fitted").cascade == 0.5
    assert Ensemble.from_names(device="cpu", cascade="off").cascade is None
    custom = Ensemble.from_names(device="cpu", cascade=0.25)
    assert (custom.cascade, custom.cascade_first) == (0.25, 1)
    # a different set of members has no fitted cascade
    assert Ensemble.from_names(["cnn.tiny"], device="cpu", cascade="auto").cascade is None
    with pytest.raises(WeightsError, match="no fitted cascade"):
        Ensemble.from_names(["cnn.tiny", "cnn.tiny"], device="cpu", cascade="fitted")
    with pytest.raises(OptionError, match="cascade"):
        Ensemble.from_names(device="cpu", cascade="sometimes")
    with pytest.raises(OptionError, match=r"\[0, 1\]"):
        Ensemble.from_names(device="cpu", cascade=1.5)


def test_a_fitted_three_stage_cascade_is_loaded_from_the_manifest(
    onnx_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from tests.conftest import point_weights

    folder = tmp_path / "w"
    shutil.copytree(onnx_weights, folder)
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    manifest["cascade"] = {
        "members": ["cnn.tiny", "cnn.tiny-b"],
        "first": "cnn.tiny-b",
        "margin": 0.4,
        "stages": [["cnn.tiny-b"], ["cnn.tiny"]],
        "margins": [0.4],
    }
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    point_weights(folder, monkeypatch)
    ens = Ensemble.from_names(device="cpu")
    assert ens.cascade_stages == ((1,), (0,)) and ens.cascade_margins == (0.4,)
