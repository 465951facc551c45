"""Classifier metrics: scores of members and ensembles on labelled crops, and their curves.

The scores of ``handocr eval``, of training and calibration (ECE) and of ``handocr report``:
top-1, top-2 and folded accuracy, the expected calibration error and its reliability bins, the
negative log-likelihood, the members' oracle and agreement, the cascade's scores, one-vs-rest
ROC AUC and average precision per class and the macro-average ROC curve, and the confusion
matrix figure. Character error rates of page sets are :mod:`handocr.evaluate`'s.

Imports numpy only at module level: scikit-learn and matplotlib are imported by the functions
that need them, and :func:`evaluate_classifier` runs with either backend (no torch needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from handocr.ensemble import Ensemble

__all__ = [
    "ECE_BINS",
    "FOLDED_GROUPS",
    "ClassifierReport",
    "Scores",
    "confusion_png",
    "evaluate_classifier",
    "expected_calibration_error",
    "kind_report",
    "macro_roc",
    "one_vs_rest",
    "reliability",
]

FOLDED_GROUPS: tuple[str, ...] = ("0O", "1IL", "9gq", "2Z", "5S", "Ff")
"""Visually ambiguous EMNIST-47 classes counted as one for the folded accuracy."""

ECE_BINS = 15
"""Equal-width confidence bins of :func:`expected_calibration_error` and :func:`reliability`."""


def expected_calibration_error(
    probs: NDArray[np.floating[Any]], labels: NDArray[np.int64], *, bins: int = ECE_BINS
) -> float:
    """Return the expected calibration error of the top-1 confidence (Guo et al. 2017).

    Equal-width confidence bins.

    Parameters
    ----------
    probs : ndarray, shape (N, C)
        Class probabilities, rows summing to 1.
    labels : ndarray of int64, shape (N,)
    bins : int
        Number of equal-width confidence bins on ``[0, 1]``.

    Returns
    -------
    float
        ``sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|``, in ``[0, 1]``.

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.9, 0.1]]); y = np.array([0, 1])
    >>> round(expected_calibration_error(p, y), 3)
    0.4
    """
    if len(labels) == 0:
        return 0.0
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    which = np.minimum((conf * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def reliability(
    probs: NDArray[np.floating[Any]], labels: NDArray[np.int64], bins: int = ECE_BINS
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Return each confidence bin's mean confidence, accuracy and count (a reliability diagram).

    Parameters
    ----------
    probs : ndarray, shape (N, C)
        Class probabilities, rows summing to 1.
    labels : ndarray of int64, shape (N,)
    bins : int, default :data:`ECE_BINS`
        Equal-width bins of the top-1 confidence on ``[0, 1]``.

    Returns
    -------
    mean_conf, accuracy : ndarray of float64, shape (bins,)
        Per bin, in ``[0, 1]``; 0 for an empty bin.
    counts : ndarray of int64, shape (bins,)
        Crops per bin, summing to ``N``.
    """
    conf = probs.max(1)
    hit = probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    mean_conf = np.bincount(idx, conf, minlength=bins) / np.maximum(counts, 1)
    acc = np.bincount(idx, hit.astype(np.float64), minlength=bins) / np.maximum(counts, 1)
    return mean_conf, acc, counts


def _fold_table() -> NDArray[np.int64]:
    """Map every class index to the first class of its :data:`FOLDED_GROUPS` group."""
    from handocr.labels import LABELS

    table = np.arange(len(LABELS))
    for group in FOLDED_GROUPS:
        first = LABELS.index(group[0])
        for ch in group[1:]:
            table[LABELS.index(ch)] = first
    return table


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores of one classifier on labelled crops.

    Attributes
    ----------
    top1, top2 : float
        Share of crops whose label is the first / among the first two predictions.
    folded : float
        Top-1 accuracy when each group of :data:`FOLDED_GROUPS` counts as one class: the
        ceiling that the ambiguity of the classes leaves visible.
    ece : float
        Expected calibration error of the top-1 confidence (15 bins).
    nll : float
        Mean negative log-likelihood of the labels.
    """

    top1: float
    top2: float
    folded: float
    ece: float
    nll: float

    @classmethod
    def of(cls, probs: NDArray[np.floating[Any]], labels: NDArray[np.int64]) -> Scores:
        """Compute every score from ``(N, 47)`` probabilities and ``(N,)`` labels."""
        if len(labels) == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0)
        top2 = np.argsort(-probs, axis=1)[:, :2]
        fold = _fold_table()
        pred = probs.argmax(1)
        p_true = probs[np.arange(len(labels)), labels]
        return cls(
            top1=float((pred == labels).mean()),
            top2=float((top2 == labels[:, None]).any(1).mean()),
            folded=float((fold[pred] == fold[labels]).mean()),
            ece=expected_calibration_error(probs, labels),
            nll=float(-np.log(np.maximum(p_true, 1e-12)).mean()),
        )


@dataclass(frozen=True, slots=True)
class ClassifierReport:
    """Scores of every member and of the ensemble on labelled crops.

    Attributes
    ----------
    members : dict of str to Scores
        Keyed ``"arch.tag"``.
    ensemble : Scores
        Scores of the ensemble's vote (its ``voting`` rule).
    n : int
        Number of images.
    y_true, y_pred : ndarray of int64, shape (n,)
        Labels and ensemble predictions (for reports and confusion matrices).
    oracle : float
        Share of images that at least one member gets right: the most any vote could reach.
    agreement : float
        Share of images on which all members give the same top-1 class.
    cascade : Scores or None
        Scores of the ensemble's cascade (:attr:`handocr.ensemble.Ensemble.cascade`), if set;
        ``y_pred`` stays the full ensemble's.
    escalated : float or None
        Share of images the cascade sent past its first stage.
    """

    members: dict[str, Scores]
    ensemble: Scores
    n: int
    y_true: NDArray[np.int64]
    y_pred: NDArray[np.int64]
    oracle: float = 0.0
    agreement: float = 1.0
    cascade: Scores | None = None
    escalated: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"members": {name: top1}, "ensemble": top1, "n": N, "ece": e, ...}``."""
        return {
            "members": {k: v.top1 for k, v in self.members.items()},
            "ensemble": self.ensemble.top1,
            "n": self.n,
            "ece": self.ensemble.ece,
            "scores": {
                "members": {k: asdict(v) for k, v in self.members.items()},
                "ensemble": asdict(self.ensemble),
                "oracle": self.oracle,
                "agreement": self.agreement,
                "cascade": asdict(self.cascade) if self.cascade is not None else None,
                "escalated": self.escalated,
            },
        }

    def most_confused(self, k: int = 10) -> list[tuple[str, str, int]]:
        """Return the ``k`` most frequent (truth, prediction, count) confusions of the ensemble."""
        from handocr.labels import LABELS

        cm = np.zeros((len(LABELS), len(LABELS)), np.int64)
        np.add.at(cm, (self.y_true, self.y_pred), 1)
        np.fill_diagonal(cm, 0)
        flat = np.argsort(-cm, axis=None)[:k]
        pairs = [divmod(int(i), len(LABELS)) for i in flat]
        return [(LABELS[t], LABELS[p], int(cm[t, p])) for t, p in pairs if cm[t, p] > 0]


def evaluate_classifier(
    ensemble: Ensemble,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    per: NDArray[np.float32] | None = None,
) -> ClassifierReport:
    """Score an ensemble and each of its members on upright EMNIST-style images.

    Runs with the ONNX backend as well as torch: nothing here imports torch.

    Parameters
    ----------
    ensemble : Ensemble
    images : ndarray of uint8, shape (N, 28, 28)
        Upright, white ink on black (as :func:`handocr.train.data.load_emnist` returns).
    labels : ndarray of int64, shape (N,)
        Indices into :data:`handocr.labels.LABELS`.
    per : ndarray of float32, shape (M, N, 47), optional
        The members' probabilities of ``images``, when the caller already has them
        (:meth:`handocr.ensemble.Ensemble.member_proba`); computed otherwise.

    Returns
    -------
    ClassifierReport
        The full ensemble's scores; with a cascade set, also the cascade's (computed from the
        same member probabilities, as :meth:`handocr.ensemble.Ensemble.vote` would).

    Raises
    ------
    ValueError
        ``images`` is not ``(N, 28, 28)``.
    ModelOutputError
        A member returned probabilities of the wrong shape or with non-finite values.
    """
    from handocr.ensemble import combine_votes, staged_combine

    if per is None:
        per = ensemble.member_proba((images.astype(np.float32) / 255.0)[:, None])
    probs = combine_votes(per, ensemble.weights, ensemble.voting)
    cascade, escalated = None, None
    if ensemble.cascade is not None and len(ensemble.members) > 1:
        cp, reached = staged_combine(
            per,
            ensemble.weights,
            ensemble.voting,
            ensemble.cascade_stages,
            ensemble.cascade_margins,
        )
        cascade = Scores.of(cp, labels)
        escalated = float(reached[0].mean()) if reached.size else 0.0
    members = {m.info.key: Scores.of(p, labels) for m, p in zip(ensemble.members, per, strict=True)}
    pred = probs.argmax(1).astype(np.int64)
    tops = per.argmax(2)  # (M, N)
    oracle = float((tops == labels[None]).any(0).mean()) if len(labels) else 0.0
    agreement = float((tops == tops[:1]).all(0).mean()) if len(labels) else 1.0
    return ClassifierReport(
        members,
        Scores.of(probs, labels),
        len(labels),
        labels,
        pred,
        oracle,
        agreement,
        cascade,
        escalated,
    )


def one_vs_rest(
    labels: NDArray[np.int64], probs: NDArray[np.floating[Any]]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return each class's one-vs-rest ROC AUC and average precision (scikit-learn).

    Parameters
    ----------
    labels : ndarray of int64, shape (N,)
        Class indices in ``[0, C)``.
    probs : ndarray, shape (N, C)
        Scores of every class (probabilities, rows summing to 1).

    Returns
    -------
    auc, ap : ndarray of float64, shape (C,)
        ``roc_auc_score`` and ``average_precision_score`` of class ``c`` against the rest; NaN
        where they are undefined (the class is absent, or it is every label).

    Raises
    ------
    MissingExtraError
        scikit-learn is not installed (``pip install "handocr[train]"``).
    """
    from handocr.errors import require_extra

    require_extra("one-vs-rest scores", ("sklearn",))
    from sklearn.metrics import average_precision_score, roc_auc_score

    k = probs.shape[1]
    auc = np.full(k, np.nan)
    ap = np.full(k, np.nan)
    for c in np.unique(labels):
        positive = labels == c
        if 0 < positive.sum() < len(labels):
            auc[c] = roc_auc_score(positive, probs[:, c])
            ap[c] = average_precision_score(positive, probs[:, c])
    return auc, ap


def macro_roc(
    onehot: NDArray[np.integer[Any]] | NDArray[np.bool_], probs: NDArray[np.floating[Any]]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the macro-average one-vs-rest ROC curve: the classes' curves averaged.

    Each class's ROC curve (:func:`sklearn.metrics.roc_curve`) is interpolated linearly at the
    union of every class's false-positive rates, and the true-positive rates are averaged
    (scikit-learn's multiclass ROC example). On that union every class's curve is exact, so the
    average keeps the classes' points down to their smallest false-positive rates (a log axis
    shows them), and its area is the mean of the classes' AUCs.

    Parameters
    ----------
    onehot : ndarray of int or bool, shape (N, C)
        ``onehot[i, c]`` is 1 when image ``i`` is of class ``c``.
    probs : ndarray, shape (N, C)
        Scores of every class.

    Returns
    -------
    fpr, tpr : ndarray of float64, shape (P,)
        The average curve, ``fpr`` increasing from 0 to 1, both in ``[0, 1]``. Only the
        classes with both positives and negatives count; with none, ``([0, 1], [0, 1])``.

    Raises
    ------
    MissingExtraError
        scikit-learn is not installed (``pip install "handocr[train]"``).
    """
    from handocr.errors import require_extra

    require_extra("ROC curves", ("sklearn",))
    from sklearn.metrics import roc_curve

    positives = np.asarray(onehot).astype(bool).sum(0)
    valid = [c for c in range(probs.shape[1]) if 0 < positives[c] < len(probs)]
    if not valid:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    curves = [roc_curve(onehot[:, c], probs[:, c])[:2] for c in valid]
    all_fpr = np.unique(np.concatenate([fpr for fpr, _ in curves]))
    mean_tpr = np.mean([np.interp(all_fpr, fpr, tpr) for fpr, tpr in curves], axis=0)
    return all_fpr.astype(np.float64), mean_tpr.astype(np.float64)


def confusion_png(
    y_true: Sequence[int] | NDArray[np.int64],
    y_pred: Sequence[int] | NDArray[np.int64],
    labels: Sequence[str],
    path: Path,
) -> None:
    """Write a confusion-matrix heat map (rows = truth, columns = prediction) as PNG.

    Uses scikit-learn's ``ConfusionMatrixDisplay`` with matplotlib's Agg backend.

    Parameters
    ----------
    y_true, y_pred : sequence of int, shape (N,)
        Class indices in ``[0, len(labels))``.
    labels : sequence of str
        Display names of the classes, in index order.
    path : Path
        The PNG to write; its folder is created if missing.

    Raises
    ------
    OSError
        ``path`` cannot be written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(14, 14))
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=list(range(len(labels))),
        display_labels=list(labels),
        include_values=False,
        normalize="true",
        ax=ax,
        colorbar=True,
    )
    ax.set_title("EMNIST-47 confusion matrix (row-normalised)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


KINDS_PRINTED_FIRST = ("printed", "handwritten")
"""The word kinds in :func:`kind_report`'s label order (1 = printed, 0 = handwritten)."""


def kind_report(
    y_true: Sequence[int] | NDArray[Any], y_pred: Sequence[int] | NDArray[Any]
) -> dict[str, Any]:
    """Accuracy and each kind's precision, recall and support (1 = printed, 0 = handwritten).

    scikit-learn's ``accuracy_score`` and ``precision_recall_fscore_support`` (0 where a kind
    is never predicted or absent).
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    t, p = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    rep: dict[str, Any] = {
        "words": len(t),
        "accuracy": float(accuracy_score(t, p)) if len(t) else 0.0,
    }
    prec, rec, _, sup = precision_recall_fscore_support(t, p, labels=[1, 0], zero_division=0)
    for i, name in enumerate(KINDS_PRINTED_FIRST):
        rep[name] = {"precision": float(prec[i]), "recall": float(rec[i]), "support": int(sup[i])}
    return rep
