"""Character error rate (CER) of page sets: folders of images with their ``truth.tsv``.

The CER rule is that of ``shared/data/pages/README.md`` so that figures compare: Levenshtein
distance over the truth length, summed over a set (micro-average), after upper-casing and removing
all whitespace on both sides. A set whose every truth is a digit string (:func:`is_digit_truth`,
e.g. cheque amounts, whose truth leaves separators out) is scored on digits only: every
non-digit character is removed from both sides. Classifier scores on labelled crops are
:mod:`handocr.train.metrics`'.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import DataError, ExitCode, OptionError
from handocr.fieldscore import BOOTSTRAP_RESAMPLES, paired_bootstrap

if TYPE_CHECKING:
    from handocr.api import Recognizer
    from handocr.result import Box, Document, Page

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "PageSetScore",
    "cer_difference_interval",
    "cer_interval",
    "evaluate_page_set",
    "evaluate_page_sets",
    "find_page_sets",
    "is_digit_truth",
    "normalise_for_cer",
    "read_truth",
    "text_in_box",
]

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"[^0-9]")
_DIGITS = re.compile(r"[0-9]*")


def normalise_for_cer(text: str, *, digits_only: bool = False) -> str:
    r"""Apply the scoring normalisation: upper case, no whitespace, optionally digits only.

    A literal ``\n`` in a truth file stands for a line break and is removed like whitespace.

    Parameters
    ----------
    text : str
        A truth or a reading.
    digits_only : bool, default False
        Also remove every character that is not one of the digits 0-9.

    Returns
    -------
    str
        Upper case, without whitespace; possibly empty.

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


def is_digit_truth(texts: Iterable[str]) -> bool:
    """Return whether a set's truth transcribes digit strings only, so it is scored on digits.

    The rule that :func:`evaluate_page_set` applies when not told: a set whose every truth,
    after :func:`normalise_for_cer`, is made of the digits 0-9 (at least one non-empty) has
    no separators in its truth (e.g. ORAND-CAR-A's cheque amounts, where ``1.500,-`` is
    transcribed ``1500``), so the readings' separators are not counted as errors. A set with
    any letter or punctuation in its truth is scored on every character.

    Parameters
    ----------
    texts : iterable of str
        The truth texts of the set (the second column of ``truth.tsv``).

    Returns
    -------
    bool
        False for an empty set or one whose truths are all empty.

    Examples
    --------
    >>> is_digit_truth(["1500", "23 10"]), is_digit_truth(["1500", "AB"]), is_digit_truth([])
    (True, False, False)
    """
    normalised = [normalise_for_cer(t) for t in texts]
    return any(normalised) and all(_DIGITS.fullmatch(t) for t in normalised)


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
        Per image: ``file``, ``truth``, ``output``, ``distance``, ``length``, ``confidence``
        (the field's) and ``words`` (``[text, confidence]`` of each word read).
    charset : str or None
        The character set the output was restricted to (``ReadOptions.charset``).
    cer_low, cer_high : float
        95% bootstrap confidence interval of ``cer`` (:func:`cer_interval`: images resampled).
    exact_low, exact_high : float
        95% bootstrap confidence interval of ``exact``.
    read_rates : dict of str to (float, float, float)
        Per field error rate (``"0.01"``, ``"0.001"``: :data:`handocr.fieldscore.FIELD_ERRORS`),
        the read rate (:func:`handocr.fieldscore.read_rate`: the largest share of images that
        can be accepted, most confident first, with at most that share of them wrong) and its
        95% bootstrap interval; each image's confidence is
        :func:`handocr.fieldscore.field_confidence`.
    calibration_error : float
        Expected calibration error of that confidence against "the image reads exactly
        right" (:func:`handocr.fieldscore.calibration_error`).
    lexicon : str or None
        The lexicon the set was read with (``ReadOptions.lexicon``).
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
    exact_low: float = 0.0
    exact_high: float = 0.0
    read_rates: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    calibration_error: float = 0.0
    lexicon: str | None = None

    def to_dict(self, *, rows: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict (per-image rows only when ``rows``)."""
        d: dict[str, Any] = {
            "images": self.images,
            "cer": self.cer,
            "cer_ci95": [self.cer_low, self.cer_high],
            "exact": self.exact,
            "exact_ci95": [self.exact_low, self.exact_high],
            "read_rate": {
                e: {"rate": r, "ci95": [lo, hi]} for e, (r, lo, hi) in self.read_rates.items()
            },
            "calibration_error": self.calibration_error,
            "seconds_per_image": self.seconds_per_image,
            "digits_only": self.digits_only,
            "charset": self.charset,
            "lexicon": self.lexicon,
            "failures": self.failures,
        }
        if rows:
            d["rows"] = self.rows
        return d


def read_truth(path: Path) -> list[tuple[str, str]]:
    r"""Read ``truth.tsv`` (``filename<TAB>text`` per line).

    Parameters
    ----------
    path : Path
        The file (UTF-8). Blank lines are skipped.

    Returns
    -------
    list of (str, str)
        ``(filename, text)`` in file order; ``text`` as written (a literal ``\n`` kept).

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

    Parameters
    ----------
    root : Path
        A set (a folder with ``truth.tsv``) or a folder of sets.

    Returns
    -------
    list of Path
        ``root`` first when it is a set itself, then its sub-folders by name.

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

    return paired_bootstrap((d, n), micro, level=confidence, seed=seed, vectorized=True)


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

    return (diff, *paired_bootstrap((a, b, n), delta, level=confidence, seed=seed, vectorized=True))


def evaluate_page_set(
    recognizer: Recognizer,
    folder: Path,
    *,
    digits_only: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PageSetScore:
    """Read every image listed in ``folder/truth.tsv`` and score it with the CER rule.

    Each image is also judged whole (its normalised text equal to the truth's): the exact
    share, the read rates at 1 % and 0.1 % field error and the calibration of the field
    confidence (:mod:`handocr.fieldscore`), with bootstrap intervals. The images are read by
    :meth:`handocr.Recognizer.read_inputs` (shared batches; an image that cannot be read
    counts as empty output and is listed in ``failures``).

    Parameters
    ----------
    recognizer : Recognizer
    folder : Path
    digits_only : bool, optional
        Remove non-digits before scoring; default: when every truth of the set is a digit
        string (:func:`is_digit_truth`).
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

    from handocr.fieldscore import (
        FIELD_ERRORS,
        calibration_error,
        field_confidence,
        read_rate,
        read_rate_interval,
        share_interval,
    )

    truth = read_truth(folder / "truth.tsv")
    if digits_only is None:
        digits_only = is_digit_truth(text for _, text in truth)
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
        conf = field_confidence(result.document) if result.document is not None else 0.0
        ref = normalise_for_cer(text, digits_only=digits_only)
        hyp = normalise_for_cer(out, digits_only=digits_only)
        dist = Levenshtein.distance(ref, hyp)
        dists.append(dist)
        lens.append(len(ref))
        row = {"file": name, "truth": text, "output": out, "distance": dist, "length": len(ref)}
        words = _words(result.document)
        rows.append({**row, "confidence": conf, "words": words})
    seconds = time.perf_counter() - t0
    n = len(truth)
    low, high = cer_interval(dists, lens)
    charset = recognizer.options.charset
    right = np.asarray([r["distance"] == 0 for r in rows], bool)
    confs = np.asarray([r["confidence"] for r in rows], np.float64)
    return PageSetScore(
        folder.name,
        n,
        sum(dists) / max(sum(lens), 1),
        float(right.mean()) if n else 0.0,
        seconds / max(n, 1),
        digits_only,
        failures,
        rows,
        str(charset) if charset is not None else None,
        low,
        high,
        *share_interval(right),
        {
            str(e): (read_rate(confs, right, e), *read_rate_interval(confs, right, e))
            for e in FIELD_ERRORS
        },
        calibration_error(confs, right),
        recognizer.options.decode.lexicon,
    )


def _words(document: Document | None) -> list[list[Any]]:
    """Each word of a document as ``[text, confidence]``, in reading order."""
    if document is None:
        return []
    return [[w.text, w.confidence] for p in document.pages for ln in p.lines for w in ln.words]


def evaluate_page_sets(
    recognizer: Recognizer,
    root: Path,
    *,
    charsets: dict[str, str] | None = None,
    lexicons: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, PageSetScore]:
    """Score every set under ``root`` (:func:`find_page_sets`), models loaded once.

    Parameters
    ----------
    recognizer : Recognizer
    root : Path
    charsets : dict of str to str, optional
        Set name -> charset to read that set with (``orand_car_a=digits``); the others keep
        the recognizer's. Which sets are scored on digits only does not depend on it
        (:func:`is_digit_truth`).
    lexicons : dict of str to str, optional
        Set name -> lexicon to read that set with (``kaggle_names_more=names``,
        :func:`handocr.lexicon.load_lexicon`); the others keep the recognizer's.
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
        A charset or lexicon is not valid, or one names a set that ``root`` does not hold.
    WeightsError, UnknownModelError, ModelOutputError
        The models could not be loaded or failed.
    """
    per_set: dict[str, dict[str, str]] = {}
    for option, given in (("charset", charsets), ("lexicon", lexicons)):
        for name, value in (given or {}).items():
            per_set.setdefault(name, {})[option] = value
    sets = find_page_sets(root)
    unknown = set(per_set) - {folder.name for folder in sets}
    if unknown:
        raise OptionError(
            f"--charset/--lexicon name no set under {root}: {', '.join(sorted(unknown))}"
        )
    # checked (a bad charset) before any loading; the readers share the recognizer's models
    readers = {name: recognizer.with_options(**opts) for name, opts in per_set.items()}
    recognizer.ensemble  # noqa: B018 - load the models before any clock starts
    for reader in (recognizer, *readers.values()):
        reader.lexicon  # noqa: B018 - and the lexicons
    return {
        folder.name: evaluate_page_set(
            readers.get(folder.name, recognizer), folder, progress=progress
        )
        for folder in sets
    }
