"""Evaluation: classifier accuracy on EMNIST, and character error rate (CER) on real pages.

The CER rule is that of ``shared/data/pages/README.md`` so that figures compare: Levenshtein
distance over the truth length, summed over a set (micro-average), after upper-casing and removing
all whitespace on both sides; for digit-string sets (``orand_car_a``) every non-digit character
is removed from both sides.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import DataError, ExitCode, OptionError

if TYPE_CHECKING:
    from handocr.api import Recognizer
    from handocr.ensemble import Ensemble
    from handocr.result import Box, Page

__all__ = [
    "DIGIT_SETS",
    "FOLDED_GROUPS",
    "ClassifierReport",
    "Scores",
    "expected_calibration_error",
    "PageSetScore",
    "evaluate_classifier",
    "cer_difference_interval",
    "cer_interval",
    "evaluate_page_set",
    "evaluate_page_sets",
    "find_page_sets",
    "normalise_for_cer",
    "text_in_box",
]

log = logging.getLogger(__name__)

DIGIT_SETS = frozenset({"orand_car_a"})
"""Sets scored on digits only (their truth transcribes no separators)."""


FOLDED_GROUPS: tuple[str, ...] = ("0O", "1IL", "9gq", "2Z", "5S", "Ff")
"""Visually ambiguous EMNIST-47 classes counted as one for the folded accuracy."""

ECE_BINS = 15


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


def _fold_table() -> NDArray[np.int64]:
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


_WS = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"[^0-9]")


def normalise_for_cer(text: str, *, digits_only: bool = False) -> str:
    r"""Apply the scoring normalisation: upper case, no whitespace, optionally digits only.

    A literal ``\n`` in a truth file stands for a line break and is removed like whitespace.

    Examples
    --------
    >>> normalise_for_cer(r"Le Cam\nx")
    'LECAMX'
    >>> normalise_for_cer("1.500,-", digits_only=True)
    '1500'
    """
    text = text.replace("\\n", "\n").upper()
    text = _WS.sub("", text)
    return _NON_DIGIT.sub("", text) if digits_only else text


def text_in_box(page: Page, box: Box) -> str:
    """Return the text of the characters whose box centre lies inside ``box``.

    For forms with known field positions: the characters are taken in reading order (lines
    top to bottom, each left to right), without spaces.

    Parameters
    ----------
    page : Page
        A read page.
    box : Box
        The field, in the page's pixels (``x1``/``y1`` exclusive).

    Returns
    -------
    str
        Possibly empty.
    """
    out = []
    for line in page.lines:
        for word in line.words:
            for c in word.chars:
                cx, cy = (c.box.x0 + c.box.x1) / 2, (c.box.y0 + c.box.y1) / 2
                if box.x0 <= cx < box.x1 and box.y0 <= cy < box.y1:
                    out.append(c.text)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class PageSetScore:
    """Scores of one folder of images with ``truth.tsv``.

    Attributes
    ----------
    name : str
        Folder name.
    images : int
        Images scored (failures count as empty output).
    cer : float
        Summed edit distance over summed truth length (micro-average), >= 0.
    exact : float
        Share of images whose normalised output equals the normalised truth, in ``[0, 1]``.
    seconds_per_image : float
        Wall time per image, reading and recognition included.
    digits_only : bool
        Whether non-digits were removed before scoring.
    failures : list of str
        Images that could not be read, with the reason.
    rows : list of dict
        Per image: ``file``, ``truth``, ``output``, ``distance``.
    charset : str or None
        The character set the output was restricted to (``ReadOptions.charset``).
    cer_low, cer_high : float
        95% bootstrap confidence interval of ``cer`` (:func:`cer_interval`: images resampled).
    """

    name: str
    images: int
    cer: float
    exact: float
    seconds_per_image: float
    digits_only: bool
    failures: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    charset: str | None = None
    cer_low: float = 0.0
    cer_high: float = 0.0

    def to_dict(self, *, rows: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict (per-image rows only when ``rows``)."""
        d: dict[str, Any] = {
            "images": self.images,
            "cer": self.cer,
            "cer_ci95": [self.cer_low, self.cer_high],
            "exact": self.exact,
            "seconds_per_image": self.seconds_per_image,
            "digits_only": self.digits_only,
            "charset": self.charset,
            "failures": self.failures,
        }
        if rows:
            d["rows"] = self.rows
        return d


def read_truth(path: Path) -> list[tuple[str, str]]:
    """Read ``truth.tsv`` (``filename<TAB>text`` per line).

    Raises
    ------
    DataError
        The file is unreadable or a line has no tab.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read ({err})") from err
    out = []
    for k, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        name, sep, text = line.partition("\t")
        if not sep:
            raise DataError(f"{path}:{k}: expected 'filename<TAB>text'")
        out.append((name, text))
    return out


def find_page_sets(root: Path) -> list[Path]:
    """Return the sub-folders of ``root`` (or ``root`` itself) that hold ``truth.tsv``, sorted.

    Raises
    ------
    DataError
        ``root`` is not a folder or holds no such set.
    """
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    sets = [root] if (root / "truth.tsv").is_file() else []
    sets += sorted(p for p in root.iterdir() if p.is_dir() and (p / "truth.tsv").is_file())
    if not sets:
        raise DataError(f"{root}: no sub-folder holds images plus truth.tsv")
    return sets


BOOTSTRAP_RESAMPLES = 2000
"""Resamples of :func:`cer_interval`."""


def cer_interval(
    distances: Sequence[int] | NDArray[np.int64],
    lengths: Sequence[int] | NDArray[np.int64],
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap confidence interval of a set's CER, resampling its images.

    The CER of a resample is its summed edit distance over its summed truth length (the
    micro-average of :class:`PageSetScore`); the interval is the percentile interval of
    :data:`BOOTSTRAP_RESAMPLES` resamples (:func:`scipy.stats.bootstrap`, Efron and
    Tibshirani 1993), seeded, so the same set gives the same interval.

    Parameters
    ----------
    distances, lengths : sequence of int
        Per image: edit distance and normalised truth length.
    confidence : float, default 0.95
    seed : int

    Returns
    -------
    (low, high) : tuple of float
        ``(cer, cer)`` for fewer than two images.

    Examples
    --------
    >>> low, high = cer_interval([0, 1, 0, 2, 0, 0], [10, 10, 10, 10, 10, 10])
    >>> 0.0 <= low < 0.05 < high
    True
    """
    d = np.asarray(distances, np.float64)
    n = np.asarray(lengths, np.float64)
    if len(d) < 2 or n.sum() == 0 or np.all(d / np.maximum(n, 1) == d[0] / max(n[0], 1)):
        cer = float(d.sum() / max(n.sum(), 1))
        return cer, cer

    def micro(dist: NDArray[np.float64], length: NDArray[np.float64], axis: int) -> Any:
        return dist.sum(axis=axis) / np.maximum(length.sum(axis=axis), 1)

    return _paired_bootstrap((d, n), micro, confidence, seed)


def _paired_bootstrap(
    samples: tuple[NDArray[np.float64], ...],
    statistic: Callable[..., Any],
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """Percentile interval of a statistic of per-image arrays resampled together (scipy).

    Raises
    ------
    MissingExtraError
        scipy is not installed (``pip install "handocr[train]"``).
    """
    from handocr.errors import require_extra

    require_extra("bootstrap confidence intervals", ("scipy",))
    from scipy.stats import bootstrap

    res = bootstrap(
        samples,
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def cer_difference_interval(
    distances_a: Sequence[int] | NDArray[np.int64],
    distances_b: Sequence[int] | NDArray[np.int64],
    lengths: Sequence[int] | NDArray[np.int64],
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """CER of reading B minus reading A on the same images, with a paired bootstrap interval.

    Both readings are scored on the same images, so the images are resampled together: the
    interval reflects how much the difference depends on which writers happen to be in the set
    (percentile bootstrap, :data:`BOOTSTRAP_RESAMPLES` resamples, seeded).

    Parameters
    ----------
    distances_a, distances_b : sequence of int
        Per image, the edit distance of each reading.
    lengths : sequence of int
        Per image, the normalised truth length.

    Returns
    -------
    (difference, low, high) : tuple of float
        A negative difference means B reads better; an interval that excludes 0 is a
        difference the set can tell apart.

    Examples
    --------
    >>> diff, low, high = cer_difference_interval([1, 2, 1, 3], [0, 1, 0, 1], [10, 10, 10, 10])
    >>> round(diff, 3), low < 0 and high < 0
    (-0.125, True)
    """
    a = np.asarray(distances_a, np.float64)
    b = np.asarray(distances_b, np.float64)
    n = np.asarray(lengths, np.float64)
    diff = float((b.sum() - a.sum()) / max(n.sum(), 1))
    if len(a) < 2 or np.all(b - a == (b - a)[0]):
        return diff, diff, diff

    def delta(da: Any, db: Any, length: Any, axis: int) -> Any:
        return (db.sum(axis=axis) - da.sum(axis=axis)) / np.maximum(length.sum(axis=axis), 1)

    return (diff, *_paired_bootstrap((a, b, n), delta, confidence, seed))


def evaluate_page_set(
    recognizer: Recognizer,
    folder: Path,
    *,
    digits_only: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PageSetScore:
    """Read every image listed in ``folder/truth.tsv`` and score it with the CER rule.

    The images are read by :meth:`handocr.Recognizer.read_inputs` (shared batches; an image
    that cannot be read counts as empty output and is listed in ``failures``).

    Parameters
    ----------
    recognizer : Recognizer
    folder : Path
    digits_only : bool, optional
        Remove non-digits before scoring; default: when the folder's name is in
        :data:`DIGIT_SETS`.
    progress : callable, optional
        ``progress(done, total)`` after every image.

    Returns
    -------
    PageSetScore

    Raises
    ------
    DataError
        ``truth.tsv`` is unreadable or malformed.
    WeightsError, UnknownModelError, ModelOutputError
        The models could not be loaded or failed.
    """
    from rapidfuzz.distance import Levenshtein

    if digits_only is None:
        digits_only = folder.name in DIGIT_SETS
    truth = read_truth(folder / "truth.tsv")
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    dists, lens = [], []
    t0 = time.perf_counter()
    results = recognizer.read_inputs(
        [folder / name for name, _ in truth], errors="report", progress=progress
    )
    for (name, text), result in zip(truth, results, strict=True):
        if result.error is not None:
            if result.error.exit_code != ExitCode.BAD_INPUT:
                raise result.error
            failures.append(f"{name}: {result.error}")
        out = result.document.text if result.document is not None else ""
        ref = normalise_for_cer(text, digits_only=digits_only)
        hyp = normalise_for_cer(out, digits_only=digits_only)
        dist = Levenshtein.distance(ref, hyp)
        dists.append(dist)
        lens.append(len(ref))
        rows.append(
            {"file": name, "truth": text, "output": out, "distance": dist, "length": len(ref)}
        )
    seconds = time.perf_counter() - t0
    n = len(truth)
    low, high = cer_interval(dists, lens)
    charset = recognizer.options.charset
    return PageSetScore(
        folder.name,
        n,
        sum(dists) / max(sum(lens), 1),
        sum(r["distance"] == 0 for r in rows) / max(n, 1),
        seconds / max(n, 1),
        digits_only,
        failures,
        rows,
        str(charset) if charset is not None else None,
        low,
        high,
    )


def evaluate_page_sets(
    recognizer: Recognizer,
    root: Path,
    *,
    charsets: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, PageSetScore]:
    """Score every set under ``root`` (:func:`find_page_sets`), models loaded once.

    Parameters
    ----------
    recognizer : Recognizer
    root : Path
    charsets : dict of str to str, optional
        Set name -> charset to read that set with (``orand_car_a=digits``); the others keep
        the recognizer's.
    progress : callable, optional
        ``progress(done, total)`` within each set.

    Returns
    -------
    dict of str to PageSetScore
        By set name, in :func:`find_page_sets` order.

    Raises
    ------
    DataError
        ``root`` holds no set, or a truth file is malformed.
    OptionError
        A charset is not valid, or ``charsets`` names a set that ``root`` does not hold.
    WeightsError, UnknownModelError, ModelOutputError
        The models could not be loaded or failed.
    """
    charsets = dict(charsets or {})
    sets = find_page_sets(root)
    unknown = set(charsets) - {folder.name for folder in sets}
    if unknown:
        raise OptionError(f"--charset names no set under {root}: {', '.join(sorted(unknown))}")
    # checked (a bad charset) before any loading; the readers share the recognizer's models
    readers = {name: recognizer.with_options(charset=cs) for name, cs in charsets.items()}
    recognizer.ensemble  # noqa: B018 - load the models before any clock starts
    return {
        folder.name: evaluate_page_set(
            readers.get(folder.name, recognizer), folder, progress=progress
        )
        for folder in sets
    }


def confusion_png(
    y_true: Sequence[int] | NDArray[np.int64],
    y_pred: Sequence[int] | NDArray[np.int64],
    labels: Sequence[str],
    path: Path,
) -> None:
    """Write a confusion-matrix heat map (rows = truth, columns = prediction) as PNG.

    Uses scikit-learn's ``ConfusionMatrixDisplay`` with matplotlib's Agg backend.
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
