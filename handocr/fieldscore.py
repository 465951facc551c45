"""Fields judged whole: exact match, read rate at a fixed field error, calibration (issue #24).

Readers of names, amounts and dates are compared by how many fields they read exactly right
and how many they can *accept* without a person checking, at a fixed share of accepted fields
that are wrong (read rate at 1 % or 0.1 % field error; the measure of industrial cheque and
form readers, e.g. Gorski et al. 1999, "A2iA Check Reader", and the ORAND CAR-A benchmark,
Diem et al. 2014, ICFHR). A field's confidence (:func:`field_confidence`) orders the fields;
its calibration (:func:`calibration_error`) says whether it can be read as a probability.

Every function takes per-field arrays: ``confidence`` (float in ``[0, 1]``) and ``correct``
(bool: the field's text equals its truth under the set's rule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from handocr.result import Document

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "CALIBRATION_BINS",
    "FIELD_ERRORS",
    "calibration_error",
    "field_confidence",
    "paired_bootstrap",
    "read_rate",
    "reliability_bins",
    "share_interval",
    "read_rate_interval",
    "word_outcomes",
]

FIELD_ERRORS = (0.01, 0.001)
"""The field error rates at which read rates are reported (1 % and 0.1 %)."""

BOOTSTRAP_RESAMPLES = 2000
"""Resamples of every bootstrap interval (:func:`paired_bootstrap`)."""

CALIBRATION_BINS = 10
"""Equal-width confidence bins of :func:`calibration_error` and :func:`reliability_bins`."""


def field_confidence(document: Document) -> float:
    """Return the confidence that a document's whole text is exactly right, in ``[0, 1]``.

    The product of its lines' confidences (each line's probability of being exactly right,
    :attr:`handocr.result.Line.confidence`, the lines taken as independent); 0 for a document
    without text, which is never right about a field that has one.
    """
    lines = [line for page in document.pages for line in page.lines]
    if not lines:
        return 0.0
    return float(np.prod([line.confidence for line in lines]))


def read_rate(confidence: ArrayLike, correct: ArrayLike, max_error: float) -> float:
    """Return the largest share of fields acceptable with at most ``max_error`` of them wrong.

    Fields are accepted in order of decreasing confidence, all fields of one confidence
    together (a threshold cannot split them); the accepted fields' error is the share of them
    that are wrong. Computed from scikit-learn's precision-recall curve (precision = 1 - the
    accepted fields' error; accepted = recall x correct fields / precision).

    Parameters
    ----------
    confidence : array of float, shape (N,)
    correct : array of bool, shape (N,)
    max_error : float
        In ``[0, 1)``, e.g. 0.01.

    Returns
    -------
    float
        In ``[0, 1]``; 0 when even the most confident field is wrong (or there are none), 1
        when every field is right.

    Raises
    ------
    ValueError
        The arrays differ in length, or ``max_error`` is outside ``[0, 1)``.

    Examples
    --------
    >>> read_rate([0.9, 0.8, 0.7, 0.6], [True, True, False, True], 0.01)
    0.5
    >>> read_rate([0.9, 0.8, 0.7, 0.6], [True, True, False, True], 0.25)
    1.0
    """
    conf = np.asarray(confidence, np.float64)
    ok = np.asarray(correct, bool)
    if conf.shape != ok.shape or conf.ndim != 1:
        raise ValueError(f"confidence {conf.shape} and correct {ok.shape} must be (N,) alike")
    if not 0.0 <= max_error < 1.0:
        raise ValueError(f"max_error must be in [0, 1), not {max_error}")
    if len(ok) == 0 or not ok.any():
        return 0.0
    if ok.all():
        return 1.0
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(ok, conf)
    accepted = recall * ok.sum() / np.maximum(precision, 1e-12)
    fine = (precision >= 1.0 - max_error - 1e-12) & (recall > 0)
    return float(accepted[fine].max() / len(ok)) if fine.any() else 0.0


def paired_bootstrap(
    arrays: Sequence[NDArray[Any]],
    statistic: Any,
    *,
    level: float = 0.95,
    seed: int = 0,
    vectorized: bool = False,
) -> tuple[float, float]:
    """Percentile interval of a statistic of per-image arrays resampled together (scipy).

    :data:`BOOTSTRAP_RESAMPLES` resamples of the images (Efron and Tibshirani 1993), seeded,
    so the same set gives the same interval.

    Raises
    ------
    MissingExtraError
        scipy is not installed (``pip install "handocr[train]"``).
    """
    from handocr.errors import require_extra

    require_extra("bootstrap confidence intervals", ("scipy",))
    from scipy.stats import bootstrap

    res = bootstrap(
        tuple(arrays),
        statistic,
        paired=True,
        vectorized=vectorized,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=level,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def read_rate_interval(
    confidence: ArrayLike,
    correct: ArrayLike,
    max_error: float,
    *,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap interval of :func:`read_rate`, the fields resampled (percentile, seeded).

    Returns ``(rate, rate)`` for fewer than two fields or when every resample must agree
    (all fields right, or all wrong).
    """
    conf = np.asarray(confidence, np.float64)
    ok = np.asarray(correct, bool)
    rate = read_rate(conf, ok, max_error)
    if len(ok) < 2 or ok.all() or not ok.any():
        return rate, rate
    return paired_bootstrap(
        (conf, ok), lambda c, k: read_rate(c, k, max_error), level=level, seed=seed
    )


def share_interval(
    correct: ArrayLike, *, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of the share of fields right (the exact-match share), seeded."""
    ok = np.asarray(correct, np.float64)
    if len(ok) < 2 or ok.min() == ok.max():
        share = float(ok.mean()) if len(ok) else 0.0
        return share, share
    return paired_bootstrap((ok,), lambda k: float(np.mean(k)), level=level, seed=seed)


def reliability_bins(
    confidence: ArrayLike, correct: ArrayLike, bins: int = CALIBRATION_BINS
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Each confidence bin's mean confidence, share right and count (a reliability diagram).

    Equal-width bins on ``[0, 1]``; an empty bin has NaN means and count 0.
    """
    conf = np.clip(np.asarray(confidence, np.float64), 0.0, 1.0)
    ok = np.asarray(correct, np.float64)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, minlength=bins) / count
        share = np.bincount(which, ok, minlength=bins) / count
    return mean_conf, share, count.astype(np.int64)


def calibration_error(
    confidence: ArrayLike, correct: ArrayLike, bins: int = CALIBRATION_BINS
) -> float:
    """Return the expected calibration error of a field confidence (Guo et al. 2017).

    The binary form: ``sum_b |B_b| / N * |share right(B_b) - mean confidence(B_b)|`` over
    equal-width bins: 0
    when the fields of confidence p are right a share p of the time.

    Examples
    --------
    >>> calibration_error([0.9, 0.9, 0.1, 0.1], [True, False, False, False])
    0.25
    """
    mean_conf, share, count = reliability_bins(confidence, correct, bins)
    if count.sum() == 0:
        return 0.0
    used = count > 0
    return float(np.sum(count[used] * np.abs(share[used] - mean_conf[used])) / count.sum())


def word_outcomes(
    rows: Sequence[dict[str, Any]], normalise: Callable[[str], str]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Return each word's confidence and whether it reads right, from eval-pages' rows.

    A word is judged where its image's output has as many words as its truth (split at
    whitespace): each word against the truth word at its place, both ``normalise``-d (the CER
    rule's folding, :func:`handocr.evaluate.normalise_for_cer`). Images whose segmentation
    gives another number of words are left out (their words cannot be paired with the truth's).

    Parameters
    ----------
    rows : sequence of dict
        :attr:`handocr.evaluate.PageSetScore.rows` (each with ``truth`` and ``words``).
    normalise : callable
        ``str -> str`` applied to both sides before they are compared.

    Returns
    -------
    (ndarray of float64, ndarray of bool), shape (N,)
    """
    conf: list[float] = []
    right: list[bool] = []
    for r in rows:
        truth = r["truth"].split()
        words = r.get("words") or []
        if len(words) != len(truth):
            continue
        for (text, c), want in zip(words, truth, strict=True):
            conf.append(float(c))
            right.append(normalise(text) == normalise(want))
    return np.asarray(conf, np.float64), np.asarray(right, bool)
