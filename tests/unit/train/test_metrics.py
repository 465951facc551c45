"""Classifier metrics: scores, calibration, the cascade's report, one-vs-rest AUC, macro ROC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.labels import NUM_CLASSES, index_of
from handocr.train.metrics import (
    Scores,
    evaluate_classifier,
    expected_calibration_error,
    macro_roc,
    one_vs_rest,
    reliability,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_scores_fold_ambiguous_classes_and_count_top2() -> None:
    labels = np.array([index_of("O"), index_of("A")])
    probs = np.full((2, NUM_CLASSES), 0.001)
    probs[0, index_of("0")] = 0.9  # O read as 0: wrong, right when folded
    probs[0, index_of("O")] = 0.05
    probs[1, index_of("B")] = 0.6  # A read as B, A second
    probs[1, index_of("A")] = 0.3
    probs /= probs.sum(1, keepdims=True)
    sc = Scores.of(probs, labels)
    assert sc.top1 == 0.0 and sc.top2 == 1.0 and sc.folded == 0.5
    assert 0.0 < sc.ece <= 1.0 and sc.nll > 0
    assert Scores.of(probs[:0], labels[:0]) == Scores(0.0, 0.0, 0.0, 0.0, 0.0)


def test_expected_calibration_error() -> None:
    y = np.array([0, 0, 1, 1])
    sure_right = np.eye(2)[y]
    assert expected_calibration_error(sure_right, y) == 0.0
    assert expected_calibration_error(np.eye(2)[1 - y], y) == 1.0
    assert expected_calibration_error(np.zeros((0, 2)), y[:0]) == 0.0


def test_the_reliability_bins_add_up_to_the_ece() -> None:
    rng = np.random.default_rng(1)
    probs = _softmax(rng.normal(size=(500, 5)) * 2)
    y = rng.integers(0, 5, 500)
    conf, acc, counts = reliability(probs, y)
    assert counts.sum() == 500 and conf.shape == acc.shape == counts.shape == (15,)
    ece = float((counts / 500 * np.abs(acc - conf)).sum())
    assert ece == pytest.approx(expected_calibration_error(probs, y))


def test_one_vs_rest_scores_agree_with_scikit_learn_and_skip_undefined_classes() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 200)  # class 3 never occurs
    probs = _softmax(rng.normal(size=(200, 4)) + 2 * np.eye(4)[y])
    auc, ap = one_vs_rest(y, probs)
    assert np.isnan(auc[3]) and np.isnan(ap[3])
    for c in range(3):
        assert auc[c] == pytest.approx(roc_auc_score(y == c, probs[:, c]))
        assert ap[c] == pytest.approx(average_precision_score(y == c, probs[:, c]))


def test_the_macro_roc_keeps_the_classes_points_at_low_false_positive_rates() -> None:
    # the macro curve once sat on a grid of 201 linear steps: on the report's log axis it was
    # flat from 1e-4 to 5e-3; averaged at the union of the classes' points it reaches down
    from sklearn.metrics import auc, roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    k, n = 5, 20_000
    y = rng.integers(0, k, n)
    probs = _softmax(rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y])
    onehot = (y[:, None] == np.arange(k)[None]).astype(np.int64)
    fpr, tpr = macro_roc(onehot, probs)
    low = [f[(f > 0) & (f < 1e-3)] for f in (roc_curve(y == c, probs[:, c])[0] for c in range(k))]
    assert all(len(f) for f in low)  # every class's curve has points below 1e-3 ...
    assert np.isin(np.concatenate(low), fpr).all()  # ... and the average keeps each of them
    assert np.all(np.diff(fpr) > 0) and fpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0
    assert np.all(np.diff(tpr) >= 0) and tpr.min() >= 0.0 and tpr.max() <= 1.0
    at_low = tpr[(fpr > 0) & (fpr < 1e-3)]
    assert len(np.unique(at_low)) > 10  # rising there, not one flat value
    aucs = [roc_auc_score(y == c, probs[:, c]) for c in range(k)]
    assert auc(fpr, tpr) == pytest.approx(np.mean(aucs), abs=1e-3)


def test_the_macro_roc_leaves_out_classes_without_positives() -> None:
    from sklearn.metrics import auc

    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.3, 0.7, 0.0], [0.2, 0.8, 0.0]])
    onehot = (y[:, None] == np.arange(3)[None]).astype(np.int64)
    fpr, tpr = macro_roc(onehot, probs)
    assert np.isfinite(tpr).all() and tpr[-1] == 1.0
    assert auc(fpr, tpr) == pytest.approx(1.0)  # both present classes are separable
    none = macro_roc(np.zeros((3, 2), np.int64), np.full((3, 2), 0.5))
    assert [list(a) for a in none] == [[0.0, 1.0], [0.0, 1.0]]


def test_eval_reports_the_cascade(use_onnx_weights: Path, emnist_sample: Path) -> None:
    from handocr.ensemble import Ensemble, cascade_combine, combine_votes
    from handocr.train.data import load_emnist, to_label_space

    test = load_emnist(emnist_sample, "pool47", "test")
    ens = Ensemble.from_names(device="cpu", cascade="auto")
    report = evaluate_classifier(ens, test.images, to_label_space(test))
    assert report.cascade is not None and report.escalated is not None
    per = ens.member_proba((test.images / np.float32(255)).astype(np.float32)[:, None])
    expected, esc = cascade_combine(per, ens.weights, "weighted", 0.5, 1)
    labels = to_label_space(test)
    assert report.cascade.top1 == pytest.approx((expected.argmax(1) == labels).mean())
    assert report.escalated == pytest.approx(esc.mean())
    full = combine_votes(per, ens.weights, "weighted")
    assert report.ensemble.top1 == pytest.approx((full.argmax(1) == labels).mean())
    assert report.to_dict()["scores"]["escalated"] == report.escalated
    assert set(report.members) == {"cnn.tiny", "cnn.tiny-b"} and report.n == 470
    best = max(s.top1 for s in report.members.values())
    assert best <= report.oracle <= 1.0
    assert all(n >= 1 for _, _, n in report.most_confused(3))
