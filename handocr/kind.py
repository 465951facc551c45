"""Printed or handwritten, per word: evidence that transfers, and a small fitted classifier.

A word's kind is decided from what reading already has, not from its text: the regularity of
its characters' boxes (heights, widths, gaps, the baseline), the stroke width and its spread
(distance transform of the word's ink), the ink's gray-level spread, how much of its edges run
along the axes (printed glyphs have straight stems and bars), and the readers' own evidence --
the ensemble's confidence and agreement (:attr:`handocr.result.Char.votes`, including how many
members the cascade had to ask) and whether the PP-OCRv5 line member, a printed-text engine,
read the same characters. :func:`word_features` turns a read :class:`~handocr.result.Page`
and its gray image into one row per word; :class:`KindClassifier` (logistic regression,
numpy only) gives each row its probability of being printed; :func:`assign_kinds` labels the
words in reading order.

The classifier's weights are ``weights/kind.json`` (fitted by :func:`handocr.train.kind.fit_kind`
on generated pages only: printed words rendered with real fonts and degraded like scans, and
handprint from EMNIST train glyphs and ORAND-CAR-A train images); the file holds the
``classifier`` block, its ``sha256`` (checked by :func:`load_kind_classifier`) and the fit's
report under ``train``. Call :func:`assign_kinds` on a page as read, before any re-reading of
its printed words: the votes are part of the evidence.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import WeightsError
from handocr.result import KINDS, Line, Page, Word, group_blocks, page_blocks

__all__ = [
    "FEATURES",
    "HANDWRITTEN",
    "KIND_FILE",
    "NET_FILE",
    "LINE_MEMBER_KEY",
    "PRINTED",
    "assign_kinds",
    "classifier_sha256",
    "keep_kind",
    "KindClassifier",
    "load_kind_classifier",
    "page_words",
    "printed_proba",
    "word_features",
    "word_lines",
]

log = logging.getLogger(__name__)

HANDWRITTEN = "handwritten"
PRINTED = "printed"
KIND_FILE = "kind.json"
NET_FILE = "kindnet.onnx"
"""The word-kind network beside :data:`KIND_FILE` in the weights folder (ONNX)."""
"""File name of the kind classifier in a weights folder."""
LINE_MEMBER_KEY = "ppocrv5"
"""A vote whose member name contains this is the printed-text line member's."""

FEATURES = (
    "log_chars",
    "rel_height",
    "height_cv",
    "width_spread",
    "gap_spread",
    "top_spread",
    "bottom_spread",
    "stroke_rel",
    "stroke_spread",
    "ink_gray_spread",
    "axis_edges",
    "ens_confidence",
    "ens_agreement",
    "ens_members",
    "line_agreement",
    "line_confidence",
    "line_voted",
)
"""Names of the columns of :func:`word_features`, in order."""

_AXIS_TOL_DEG = 8.0


def page_words(page: Page) -> list[Word]:
    """Return the page's words in reading order (lines top to bottom, words left to right)."""
    return [w for line in page.lines for w in line.words]


def _spread(x: NDArray[np.float64], scale: float) -> float:
    """Median absolute deviation of ``x`` over ``scale`` (0 for fewer than two values)."""
    if x.size < 2 or scale <= 0:
        return 0.0
    return float(np.median(np.abs(x - np.median(x))) / scale)


SPREAD_MIN_CHARS = 3
"""A word of fewer characters takes its box spreads (heights, widths, gaps, tops, bottoms) from
its whole line: one or two glyphs have no spread to measure, and a spread of 0 reads as the
regularity of print (a handwritten name written in spaced capitals is a line of one-letter
words)."""


def _box_features(word: Word) -> list[float]:
    b = np.array([[c.box.x0, c.box.y0, c.box.x1, c.box.y1] for c in word.chars], np.float64)
    if b.size == 0:
        wb = word.box
        b = np.array([[wb.x0, wb.y0, wb.x1, wb.y1]], np.float64)
    h = np.maximum(b[:, 3] - b[:, 1], 1.0)
    w = np.maximum(b[:, 2] - b[:, 0], 1.0)
    hm = float(np.median(h))
    gaps = b[1:, 0] - b[:-1, 2]
    return [
        float(np.log1p(len(b))),
        float(h.std() / h.mean()) if len(h) > 1 else 0.0,
        _spread(w, hm),
        _spread(gaps, hm),
        _spread(b[:, 1], hm),
        _spread(b[:, 3], hm),
    ]


def _ink_features(crop: NDArray[np.uint8], char_height: float) -> list[float]:
    """Stroke width, its spread, the ink's gray spread and axis-aligned edges of one word crop.

    ``crop`` is gray, 0 = black.
    """
    import cv2  # reading dependency; imported here so `import handocr` stays free of it

    if crop.size == 0 or min(crop.shape) < 3:
        return [0.0, 0.0, 0.0, 0.0]
    _, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    on = ink > 0
    if not on.any() or on.all():
        return [0.0, 0.0, 0.0, 0.0]
    dist = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    # ridge pixels: the local maxima of the distance (the stroke's medial axis)
    ridge = on & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)) - 1e-6)
    widths = 2.0 * dist[ridge]
    if widths.size == 0:
        widths = 2.0 * dist[on]
    med = float(np.median(widths))
    q1, q3 = np.percentile(widths, [25, 75])
    paper = float(np.median(crop[~on]))
    inkv = crop[on].astype(np.float64)
    contrast = max(paper - float(np.median(inkv)), 1.0)
    gx = cv2.Sobel(crop, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(crop, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    total = float(mag.sum())
    if total > 0:
        ang = np.degrees(np.arctan2(np.abs(gy), np.abs(gx)))  # 0..90
        axis = (ang < _AXIS_TOL_DEG) | (ang > 90.0 - _AXIS_TOL_DEG)
        axis_frac = float(mag[axis].sum() / total)
    else:
        axis_frac = 0.0
    inner = inkv[inkv <= np.percentile(inkv, 75)]
    return [
        med / max(char_height, 1.0),
        float((q3 - q1) / max(med, 1.0)),
        float(inner.std() / contrast) if inner.size > 1 else 0.0,
        axis_frac,
    ]


def _vote_features(word: Word) -> list[float]:
    conf: list[float] = []
    agree: list[float] = []
    members: list[float] = []
    line_agree: list[float] = []
    line_conf: list[float] = []
    line_voted: list[float] = []
    for c in word.chars:
        conf.append(c.confidence)
        own = [(t, p) for m, t, p in c.votes if LINE_MEMBER_KEY not in m]
        line = [(t, p) for m, t, p in c.votes if LINE_MEMBER_KEY in m]
        text = c.text.casefold()
        if own:
            agree.append(float(np.mean([t.casefold() == text for t, _ in own])))
            members.append(len(own))
        if line:
            line_voted.append(1.0)
            line_agree.append(float(any(t.casefold() == text for t, _ in line)))
            line_conf.append(max(p for _, p in line))
        else:
            line_voted.append(0.0)
    if not conf:
        conf = [word.confidence]

    def mean(x: Sequence[float], default: float) -> float:
        return float(np.mean(x)) if len(x) else default

    return [
        mean(conf, 0.0),
        mean(agree, 1.0),
        mean(members, 1.0),
        mean(line_agree, 0.5),
        mean(line_conf, 0.5),
        mean(line_voted, 0.0),
    ]


def word_features(page: Page, gray: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Evidence of each word's kind, one row per word in reading order.

    Parameters
    ----------
    page : Page
        A read page; its boxes are in ``gray``'s pixels (as every result's are).
    gray : ndarray of uint8, shape (H, W)
        The input page, 0 = black (dark ink on light paper).

    Returns
    -------
    ndarray of float64, shape (N_words, len(FEATURES))
        Finite values; columns named by :data:`FEATURES`. ``(0, F)`` for a page without words.

    Raises
    ------
    ValueError
        ``gray`` is not a 2-D uint8 array.
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"gray must be a 2-D uint8 page, got {gray.dtype} {gray.shape}")
    rows: list[list[float]] = []
    height, width = gray.shape
    words = page_words(page)
    char_h = [
        float(np.median([c.box.y1 - c.box.y0 for c in w.chars] or [w.box.y1 - w.box.y0]))
        for w in words
    ]
    page_h = float(np.median(char_h)) if char_h else 1.0
    line_box = [
        _box_features(Word(line.all_chars(), line.box)) for line in page.lines for _ in line.words
    ]
    for word, h, of_line in zip(words, char_h, line_box, strict=True):
        b = word.box
        crop = gray[max(b.y0, 0) : min(b.y1, height), max(b.x0, 0) : min(b.x1, width)]
        box = _box_features(word)
        if len(word.chars) < SPREAD_MIN_CHARS:  # too few glyphs for a spread: the line's
            box = [box[0], *of_line[1:]]
        rel_height = float(np.log(max(h, 1.0) / max(page_h, 1.0)))
        ink = _ink_features(np.ascontiguousarray(crop), h)
        rows.append([box[0], rel_height, *box[1:], *ink, *_vote_features(word)])
    out = np.asarray(rows, np.float64).reshape(len(rows), len(FEATURES))
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True, slots=True)
class KindClassifier:
    """Logistic regression over standardised :func:`word_features`: P(printed) per word.

    With ``quadratic``, the standardised features ``z`` are expanded to ``[z, z**2]`` (a
    quadratic decision boundary, still fitted as a logistic regression).

    Attributes
    ----------
    weights : ndarray of float64, shape (F,) or (2F,) with ``quadratic``
    bias : float
    mean, scale : ndarray of float64, shape (F,)
        Standardisation: ``(x - mean) / scale`` before the weights.
    features : tuple of str
        The feature names the weights were fitted for (must equal :data:`FEATURES`).
    threshold : float
        P(printed) at or above which a word is printed.
    line_weight : float
        In :func:`assign_kinds`, a word's log-odds are mixed with the mean log-odds of its
        line's words with this weight (0: each word alone; 1: one kind per line).
    quadratic : bool
        Whether the weights are for ``[z, z**2]``.
    net_weight : float
        Share in [0, 1] of the word-kind network's log-odds (:mod:`handocr.kind_net`) in a
        word's own log-odds, the features' taking the rest; 0: no network.
    net_sha256 : str
        The sha256 of the network's file (:data:`NET_FILE`) this classifier was fitted with;
        empty without a network.
    net : KindNet or None
        The network itself, attached by :func:`load_kind_classifier` (not serialised).
    """

    weights: NDArray[np.float64]
    bias: float
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    features: tuple[str, ...] = FEATURES
    threshold: float = 0.5
    line_weight: float = 0.0
    quadratic: bool = False
    net_weight: float = 0.0
    net_sha256: str = ""
    net: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Check that every vector has one value per feature."""
        n = len(self.features)
        for name in ("weights", "mean", "scale"):
            v = getattr(self, name)
            want = 2 * n if name == "weights" and self.quadratic else n
            if np.shape(v) != (want,) or not np.all(np.isfinite(v)):
                raise WeightsError(f"kind classifier: {name} must be {want} finite values")
        if np.any(np.asarray(self.scale) <= 0):
            raise WeightsError("kind classifier: scale must be positive")
        if not 0.0 <= self.line_weight <= 1.0:
            raise WeightsError("kind classifier: line_weight must be in [0, 1]")
        if not 0.0 <= self.net_weight <= 1.0:
            raise WeightsError("kind classifier: net_weight must be in [0, 1]")

    def decision(
        self,
        features: NDArray[np.float64],
        lines: NDArray[np.int64] | None = None,
        net_logits: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Return the log-odds of printed per row, shape ``(N,)``.

        With ``net_logits`` (the network's log-odds per row) and a :attr:`net_weight`, each
        row's log-odds are ``(1 - net_weight) * features' + net_weight * network's``; with
        ``lines`` (each row's line number), then mixed with its line's mean by
        :attr:`line_weight`.
        """
        z = np.asarray(self.expand(features) @ self.weights + self.bias, np.float64)
        if net_logits is not None and self.net_weight > 0 and len(z):
            z = (1.0 - self.net_weight) * z + self.net_weight * np.asarray(net_logits, np.float64)
        if lines is not None and self.line_weight > 0 and len(z):
            lines = np.asarray(lines, np.int64)
            _, inv = np.unique(lines, return_inverse=True)
            means = np.bincount(inv, z) / np.bincount(inv)
            z = (1.0 - self.line_weight) * z + self.line_weight * means[inv]
        return z

    def expand(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the standardised features (and their squares with :attr:`quadratic`)."""
        x = np.asarray(features, np.float64).reshape(-1, len(self.features))
        z = (x - self.mean) / self.scale
        return np.hstack([z, z * z]) if self.quadratic else z

    def predict_proba(
        self,
        features: NDArray[np.float64],
        lines: NDArray[np.int64] | None = None,
        net_logits: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Return P(printed) of each row, shape ``(N,)``, in [0, 1] (:meth:`decision`)."""
        z = self.decision(features, lines, net_logits)
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))), np.float64)

    def predict(
        self, features: NDArray[np.float64], lines: NDArray[np.int64] | None = None
    ) -> list[str]:
        """Return ``"printed"`` or ``"handwritten"`` per row."""
        p = self.predict_proba(features, lines)
        return [PRINTED if v >= self.threshold else HANDWRITTEN for v in p]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form :meth:`from_dict` reads."""
        return {
            "format": "handocr-kind-v1",
            "features": list(self.features),
            "weights": [float(v) for v in self.weights],
            "bias": float(self.bias),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "threshold": float(self.threshold),
            "line_weight": float(self.line_weight),
            "quadratic": bool(self.quadratic),
            "net_weight": float(self.net_weight),
            "net_sha256": self.net_sha256,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KindClassifier:
        """Build from :meth:`to_dict`'s form.

        Raises
        ------
        WeightsError
            A key is missing, or the features differ from :data:`FEATURES`.
        """
        try:
            features = tuple(str(f) for f in d["features"])
            if features != FEATURES:
                raise WeightsError(
                    f"kind classifier fitted for features {features}, this version computes "
                    f"{FEATURES}: refit it (handocr.train.kind.fit_kind)"
                )
            return cls(
                np.asarray(d["weights"], np.float64),
                float(d["bias"]),
                np.asarray(d["mean"], np.float64),
                np.asarray(d["scale"], np.float64),
                features,
                float(d.get("threshold", 0.5)),
                float(d.get("line_weight", 0.0)),
                bool(d.get("quadratic", False)),
                float(d.get("net_weight", 0.0)),
                str(d.get("net_sha256", "")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise WeightsError(f"kind classifier: malformed weights ({err!r})") from err


def load_kind_classifier(folder: Path | None = None) -> KindClassifier:
    """Load ``kind.json`` from a weights folder.

    The folder defaults to :func:`handocr.models.manifest.weights_dir`. The file's ``sha256``
    (of its ``classifier`` block, canonical JSON) is checked.

    Raises
    ------
    WeightsError
        The file is missing, unreadable, malformed, or its checksum does not match.
    """
    if folder is None:
        from handocr.models.manifest import weights_dir

        folder = weights_dir()
    path = folder / KIND_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        block = raw["classifier"]
        sha = raw["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WeightsError(f"{path}: missing or unreadable kind classifier ({err})") from err
    if classifier_sha256(block) != sha:
        raise WeightsError(f"{path.name}: sha256 mismatch; the file is corrupt or was edited")
    clf = KindClassifier.from_dict(block)
    if clf.net_weight > 0:
        from handocr.kind_net import KindNet
        from handocr.models.weights import file_sha256

        net_path = folder / NET_FILE
        if not net_path.is_file():
            raise WeightsError(f"{net_path}: the word-kind network is missing")
        if file_sha256(net_path) != clf.net_sha256:
            raise WeightsError(f"{NET_FILE}: sha256 mismatch with {KIND_FILE}; refit or reinstall")
        clf = dataclasses.replace(clf, net=KindNet(net_path))
    return clf


def classifier_sha256(block: dict[str, Any]) -> str:
    """Return the sha256 of a classifier block's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(block, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assign_kinds(
    page: Page, gray: NDArray[np.uint8], classifier: KindClassifier | None = None
) -> list[str]:
    """Return ``"printed"`` or ``"handwritten"`` for each word of ``page`` in reading order.

    Parameters
    ----------
    page : Page
    gray : ndarray of uint8, shape (H, W)
        The page's input image, 0 = black.
    classifier : KindClassifier, optional
        Default: the shipped one (:func:`load_kind_classifier`).

    Raises
    ------
    WeightsError
        No classifier given and the shipped one is missing or corrupt.
    """
    clf = classifier if classifier is not None else load_kind_classifier()
    return [PRINTED if q >= clf.threshold else HANDWRITTEN for q in printed_proba(page, gray, clf)]


def printed_proba(
    page: Page,
    gray: NDArray[np.uint8],
    classifier: KindClassifier,
    known: Sequence[bool] | None = None,
) -> NDArray[np.float64]:
    """Return P(printed) of each word of ``page`` in reading order, shape ``(N_words,)``.

    The classifier's probability on :func:`word_features` and, when it has one, the word-kind
    network's log-odds on the words' pixels (:mod:`handocr.kind_net`), each word mixed with its
    line (:meth:`KindClassifier.decision`); ``gray`` is the page's input image, 0 = black.
    ``known`` (per word) marks words whose kind the caller has already decided, whole lines of
    them: the network does not run on them and their value is 1.0.
    """
    feats = word_features(page, gray)
    if len(feats) == 0:
        return np.zeros(0, np.float64)
    done = np.zeros(len(feats), bool) if known is None else np.asarray(known, bool)
    net_logits = None
    if classifier.net is not None and classifier.net_weight > 0:
        from handocr.kind_net import word_crops

        net_logits = np.zeros(len(feats), np.float64)
        if not done.all():
            net_logits[~done] = classifier.net.logits(word_crops(page, gray)[~done])
    proba = classifier.predict_proba(feats, word_lines(page), net_logits)
    return np.where(done, 1.0, proba)


def keep_kind(page: Page, kind: str) -> Page:
    """Return ``page`` with only its words of ``kind``; lines left without words are dropped.

    A kept line keeps its box and baseline (the line as the layout found it); each block keeps
    its lines that are left, with its box their union (:func:`handocr.result.group_blocks`), and
    a block left without lines is dropped (a page without blocks stays without).

    Parameters
    ----------
    page : Page
    kind : {"handwritten", "printed"}
        The kind of word to keep (:data:`handocr.result.KINDS`).

    Returns
    -------
    Page
        ``page`` itself when every word is of ``kind``.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`handocr.result.KINDS`.

    Examples
    --------
    >>> from handocr.result import Box, Char, Line, Word
    >>> ch = Char("A", Box(0, 0, 5, 5), 0.9)
    >>> line = Line((Word((ch,), ch.box), Word((ch,), ch.box, "printed")), Box(0, 0, 5, 5))
    >>> page = Page(0, 5, 5, (line,))
    >>> [w.kind for w in keep_kind(page, "printed").lines[0].words]
    ['printed']
    >>> keep_kind(page, "printed").text, keep_kind(page, "handwritten").text
    ('A', 'A')
    """
    if kind not in KINDS:
        raise ValueError(f"word kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if all(w.kind == kind for line in page.lines for w in line.words):
        return page
    lines: list[Line] = []
    ids: list[int] = []
    for k, block in enumerate(page_blocks(page)):
        for line in block.lines_of(page):
            words = tuple(w for w in line.words if w.kind == kind)
            if words:  # a line that lost words loses its exact probability
                exact = line.exact if words == line.words else None
                lines.append(dataclasses.replace(line, words=words, exact=exact))
                ids.append(k)
    blocks = group_blocks(lines, ids) if page.blocks else ()
    return dataclasses.replace(page, lines=tuple(lines), blocks=blocks)


def word_lines(page: Page) -> NDArray[np.int64]:
    """Return each word's line number (0-based, reading order), shape ``(N_words,)``."""
    return np.asarray([i for i, line in enumerate(page.lines) for _ in line.words], np.int64)
