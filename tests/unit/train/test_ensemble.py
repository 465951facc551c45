"""Fitting an ensemble: voting weights and the cascade, from validation probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.ensemble import combine_votes, staged_combine
from handocr.labels import NUM_CLASSES
from handocr.train.ensemble import (
    CASCADE_TOLERANCE,
    balanced_accuracy,
    fit_cascade,
    fit_voting_weights,
)


def _probs(rng: np.random.Generator, m: int, n: int, c: int = NUM_CLASSES) -> np.ndarray:
    p = rng.random((m, n, c)) ** 4
    return (p / p.sum(2, keepdims=True)).astype(np.float32)


def test_fitted_weights_prefer_the_better_member() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    labels = rng.integers(0, NUM_CLASSES, n)
    good = np.full((n, NUM_CLASSES), 0.1 / 46, np.float32)
    good[np.arange(n), labels] = 0.9
    noise = _probs(rng, 1, n)[0]
    w = fit_voting_weights(np.stack([noise, good]), labels)
    assert w.shape == (2,) and w.sum() == pytest.approx(1.0)
    assert w[1] > 0.9
    with pytest.raises(ValueError, match="labels"):
        fit_voting_weights(np.stack([noise, good]), labels[:10])


def test_sample_weights_shift_the_fit() -> None:
    # member 0 is right on the first half, member 1 on the second: weighting one half decides
    n = 400
    labels = np.zeros(n, np.int64)
    right = np.full(NUM_CLASSES, 0.1 / 46, np.float32)
    right[0] = 0.9
    wrong = np.full(NUM_CLASSES, 0.9 / 46, np.float32)
    wrong[0] = 0.1
    half = np.arange(n) < n // 2
    a = np.where(half[:, None], right, wrong)
    b = np.where(half[:, None], wrong, right)
    per = np.stack([a, b])
    w = fit_voting_weights(per, labels, sample_weight=np.where(half, 10.0, 1.0))
    assert w[0] > 0.6
    w = fit_voting_weights(per, labels, sample_weight=np.where(half, 1.0, 10.0))
    assert w[1] > 0.6


def test_balanced_accuracy_is_the_mean_recall() -> None:
    labels = np.array([0, 0, 0, 1])
    p = np.zeros((4, NUM_CLASSES))
    p[:, 0] = 1.0  # always class 0: recall 1 for class 0, 0 for class 1
    assert balanced_accuracy(p, labels) == pytest.approx(0.5)
    assert CASCADE_TOLERANCE == 0.0005


def test_fit_cascade_picks_the_cheapest_within_tolerance() -> None:
    rng = np.random.default_rng(1)
    n, c = 400, NUM_CLASSES
    y = rng.integers(0, c, n)
    eye = np.eye(c, dtype=np.float32)
    # member 0 (cheap): confident and right on 80 %, unsure and wrong on the rest;
    # member 1 (costly): always right with a moderate margin.
    unsure = np.arange(n) < n // 5
    p0 = 0.9 * eye[y] + 0.1 / c
    wrong = (y + 1) % c
    p0[unsure] = 0.4 * eye[wrong[unsure]] + 0.35 * eye[y[unsure]] + 0.25 / c
    p1 = 0.6 * eye[y] + 0.4 / c
    per = np.stack([p0, p1]).astype(np.float32)
    w = np.array([0.5, 0.5])
    fit = fit_cascade(per, y, w, [1.0, 10.0], tolerance=0.0)
    assert fit["first"] == 0 and fit["escalated"] == pytest.approx(0.2, abs=0.01)
    assert fit["accuracy"] >= fit["accuracy_full"]
    assert fit["cost"] == pytest.approx(1.0 + fit["escalated"] * 10.0, abs=0.1)
    loose = fit_cascade(per, y, w, [1.0, 10.0], tolerance=1.0)
    assert (loose["first"], loose["margin"], loose["cost"]) == (0, 0.0, 1.0)


def test_fit_cascade_does_not_take_a_lucky_dip() -> None:
    c = NUM_CLASSES
    eye = np.eye(c, dtype=np.float32)
    # A: the cheap member is right but unsure (margin 0.3), the costly one confidently wrong;
    # B: the cheap member is confidently wrong, the costly one right; C: the cheap member is
    # confidently right, the costly one unsure and wrong. The cheap member alone ties the full
    # ensemble (20 of 30) by luck: escalating only A (margin 0.5) drops to 10 of 30.
    groups = [
        (0.6 * eye[0] + 0.3 * eye[1] + 0.1 / c, 0.99 * eye[1] + 0.01 / c, 0),
        (0.95 * eye[3] + 0.05 / c, 0.99 * eye[2] + 0.01 / c, 2),
        (0.9 * eye[4] + 0.1 / c, 0.5 * eye[5] + 0.4 * eye[4] + 0.1 / c, 4),
    ]
    cheap = np.stack([g[0] for g in groups for _ in range(10)])
    costly = np.stack([g[1] for g in groups for _ in range(10)])
    y = np.array([g[2] for g in groups for _ in range(10)])
    per = np.stack([cheap, costly]).astype(np.float32)
    fit = fit_cascade(
        per, y, np.array([0.5, 0.5]), [1.0, 10.0], tolerance=0.0, margins=np.array([0, 0.5, 1])
    )
    assert (fit["first"], fit["margin"]) == (1, 0.5)  # not the lucky dip (0, 0.0)


@pytest.mark.slow
def test_fitted_three_stage_cascade_keeps_accuracy_at_all_larger_margins() -> None:
    rng = np.random.default_rng(0)
    n, c = 600, NUM_CLASSES
    y = rng.integers(0, c, n)
    per = []
    for noise in (1.2, 1.5, 1.8):  # three members of decreasing quality
        z = rng.normal(0, noise, (n, c))
        z[np.arange(n), y] += 2.5
        e = np.exp(z - z.max(1, keepdims=True))
        per.append(e / e.sum(1, keepdims=True))
    per_m = np.stack(per).astype(np.float32)
    w = np.full(3, 1 / 3)
    tol = 0.0
    fit = fit_cascade(per_m, y, w, [10.0, 200.0, 5.0], tolerance=tol)
    full = combine_votes(per_m, w, "weighted")
    assert "stages" in fit  # the costly member last: three stages beat two
    grid = np.linspace(0, 1, 41)[::2]
    m1, m2 = fit["margins"]
    for a in grid[grid >= m1 - 1e-9]:
        for b in grid[grid >= m2 - 1e-9]:
            p, _ = staged_combine(per_m, w, "weighted", fit["stages"], (a, b))
            assert balanced_accuracy(p, y) >= balanced_accuracy(full, y) - tol - 1e-9
            assert (p.argmax(1) == y).mean() >= (full.argmax(1) == y).mean() - tol - 1e-9
    assert fit["stages"][-1] == [1]  # the costly member reads only the hardest crops
    assert fit["cost"] < 0.7 * 215.0
