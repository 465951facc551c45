"""Printed words read by a printed-text reader: PP-OCRv5's line recognizer (issue #23).

handocr's ensemble reads handprint; typed and typeset words (a form's labels and instructions)
read better with a recognizer trained on print. :func:`read_printed` takes a page already read
and the words marked printed, and reads each run of consecutive printed words of a line as one
crop (a run reads better in context than single words) with a line member
(:class:`handocr.models.line.LineMember`, the shipped ``ppocrv5-rec.mobile``). The run's
reading is decoded by best path and split back into the run's words by where its characters'
frames fall (forced alignment; the folded alphabet has no space). Handwritten words, the lines'
order, boxes, baselines and the page's blocks are kept, so both kinds stand in one reading
order. Nothing is loaded here: the caller passes the member.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.ctc import best_path, forced_alignment
from handocr.models.line import FOLDED, LineMember, LineReading
from handocr.result import Box, Char, Page, Word

__all__ = ["MARGIN_X", "REREAD_P", "RUN_ASPECT", "TEXT_SHARE", "read_printed"]

TEXT_SHARE = 0.6
"""A run's word boxes fill this share of its crop's rows (paper above and below), as the line
crops of :mod:`handocr.linecrop`."""
MARGIN_X = 0.5
"""Paper left and right of a run, in run heights (never past the neighbouring words)."""
RUN_ASPECT = 20.0
"""A run of printed words wider than this many of its heights is read in pieces (at words).

This and :data:`TEXT_SHARE` were chosen on 2026-12-06 on the NIST example form's printed words
(``benchmarks/printed_words.py``, oracle kinds): CER 0.0315 here against 0.0358 with whole
lines and a share of 0.75; that form is an evaluation page, so other printed pages are the
real check."""


REREAD_P = 0.5
"""Words whose P(printed) (:mod:`handocr.kind`) is at least this are read again as printed text:
every word the kind classifier calls printed.

Chosen on the development sets (``handocr eval-pages ../shared/data/pages --charset
orand_car_a=digits``, M2, 2026-12-06). With the first kind classifier (features only) it had to
be 0.99: at 0.5 handwritten names taken for printed and read by PP-OCRv5 alone raised
kaggle_names from 0.009 to 0.022 and kaggle_names_more from 0.026 to 0.038. With the word-kind
network beside the features (:mod:`handocr.kind_net`), which calls every one of the 1,011 words
of kaggle_names_more handwritten (``python benchmarks/kind_words.py hand
../shared/data/pages/kaggle_names_more``), 0.99, 0.9 and 0.5 all read every set as before
(0.009, 0.026, nist 0.027, orand 0.014), and 0.5 reads the NIST form's printed text at CER
0.025 (0.038 at 0.99; ``python benchmarks/form_kinds.py``)."""


def read_printed(
    page: Page,
    gray: NDArray[np.uint8],
    member: LineMember,
    printed: Sequence[bool],
) -> Page:
    """Re-read the printed words of a page with a line member.

    Parameters
    ----------
    page : Page
        A read page, boxes in ``gray``'s pixels.
    gray : ndarray of uint8, shape (H, W)
        The input page, 0 = black (dark ink on light paper).
    member : LineMember
        The printed-text reader (``Recognizer().line_members``: PP-OCRv5 mobile).
    printed : sequence of bool
        Per word of the page in reading order (lines, then their words): whether it is printed.

    Returns
    -------
    Page
        The same page with each printed word's characters replaced by the member's reading of
        it and its ``kind`` set to ``"printed"``; every other word, the lines (their count,
        order, boxes and baselines) and the blocks as they were. A printed word the member
        reads no character in is dropped, unless that would leave its line empty.

    Raises
    ------
    ValueError
        ``printed`` does not hold one flag per word, or ``gray`` is not ``(H, W)`` uint8.
    ModelOutputError
        The member returned output of the wrong shape or non-finite values.
    """
    n_words = sum(len(line.words) for line in page.lines)
    if len(printed) != n_words:
        raise ValueError(f"{len(printed)} printed flags for a page of {n_words} words")
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"gray must be (H, W) uint8, not {gray.shape} {gray.dtype}")
    flags = iter(bool(f) for f in printed)
    per_line = [[next(flags) for _ in line.words] for line in page.lines]
    runs: list[tuple[int, int, int]] = []  # (line, first word, one past the last)
    for li, marks in enumerate(per_line):
        w = 0
        while w < len(marks):
            if marks[w]:
                end = w
                while end < len(marks) and marks[end]:
                    end += 1
                runs.extend(_chunks(page.lines[li].words, li, w, end))
                w = end
            else:
                w += 1
    if not runs:
        return page
    crops, x0s = zip(*(_run_crop(gray, page.lines[li].words, a, b) for li, a, b in runs),
                     strict=True)  # fmt: skip
    readings = member.read(list(crops))
    new_words: dict[tuple[int, int], Word | None] = {}
    for (li, a, b), reading, x0 in zip(runs, readings, x0s, strict=True):
        words = page.lines[li].words[a:b]
        for k, word in enumerate(_split_run(reading, x0, words, member.key)):
            new_words[li, a + k] = word
    lines = []
    for li, line in enumerate(page.lines):
        kept = [new_words.get((li, w), word) for w, word in enumerate(line.words)]
        words = tuple(w for w in kept if w is not None)
        if not words and line.words:
            words = tuple(dataclasses.replace(w, kind="printed") for w in line.words)
        lines.append(line if words == line.words else dataclasses.replace(line, words=words))
    return dataclasses.replace(page, lines=tuple(lines))


def _chunks(words: Sequence[Word], li: int, a: int, b: int) -> list[tuple[int, int, int]]:
    """Split words ``a:b`` of line ``li`` into runs at most :data:`RUN_ASPECT` heights wide."""
    out = []
    start = a
    for end in range(a + 1, b + 1):
        box = Box.enclosing([w.box for w in words[start:end]])
        if end - start > 1 and box.width > RUN_ASPECT * box.height:
            out.append((li, start, end - 1))
            start = end - 1
    out.append((li, start, b))
    return out


def _run_crop(
    gray: NDArray[np.uint8], words: Sequence[Word], a: int, b: int
) -> tuple[NDArray[np.uint8], int]:
    """Cut words ``a:b`` of a line with paper margins; return the crop and its first column."""
    box = Box.enclosing([w.box for w in words[a:b]])
    h, w = gray.shape
    t = box.height
    my = max(1, round((t / TEXT_SHARE - t) / 2))
    mx = max(2, round(MARGIN_X * t))
    left = words[a - 1].box.x1 if a > 0 else 0
    right = words[b].box.x0 if b < len(words) else w
    x0 = max(0, min(box.x0, max(left, box.x0 - mx)))
    x1 = min(w, max(box.x1, min(right, box.x1 + mx)))
    y0, y1 = max(0, box.y0 - my), min(h, box.y1 + my)
    crop = np.ascontiguousarray(gray[y0:y1, x0:x1])
    if crop.size == 0:
        return np.full((max(1, t), max(1, box.width)), 255, np.uint8), box.x0
    return crop, x0


def _split_run(reading: LineReading, x0: int, words: Sequence[Word], key: str) -> list[Word | None]:
    """Decode a run's reading and give each character to the word its frames fall in."""
    lp = reading.log_probs
    labels = best_path(lp)
    spans = forced_alignment(lp, labels) if labels else []
    out_chars: list[list[tuple[float, int, tuple[int, int]]]] = [[] for _ in words]
    for sym, span in zip(labels, spans or [], strict=False):
        s0, s1 = span if span[1] > span[0] else (span[0], span[0] + 1)
        centre = x0 + 0.5 * (s0 + s1) * reading.width
        out_chars[_nearest_word(words, centre)].append((centre, sym, (s0, s1)))
    result: list[Word | None] = []
    for word, chars in zip(words, out_chars, strict=True):
        if not chars:
            result.append(None)
            continue
        centres = [c for c, _, _ in chars]
        cuts = [word.box.x0, *(round((p + q) / 2) for p, q in pairwise(centres)),
                word.box.x1]  # fmt: skip
        new = []
        for n, (_, sym, (s0, s1)) in enumerate(chars):
            a = min(max(cuts[n], word.box.x0), word.box.x1 - 1)
            b = max(a + 1, min(cuts[n + 1], word.box.x1))
            box = Box(a, word.box.y0, b, word.box.y1)
            new.append(_char(reading, sym, s0, s1, box, key))
        result.append(Word(tuple(new), word.box, "printed"))
    return result


def _nearest_word(words: Sequence[Word], x: float) -> int:
    """Index of the word whose columns hold ``x``, or the nearest one."""
    dist = [max(w.box.x0 - x, x - (w.box.x1 - 1), 0.0) for w in words]
    return int(np.argmin(dist))


def _char(reading: LineReading, sym: int, s0: int, s1: int, box: Box, key: str) -> Char:
    """Return a character from its class (index into the folded posteriors) and frames."""
    post = np.exp(reading.log_probs[s0:s1].astype(np.float64)).mean(0)
    text = FOLDED[sym - 1]
    if text in string.ascii_uppercase:
        k = string.ascii_uppercase.index(text)
        if float(reading.upper[s0:s1, k].mean()) < 0.5:
            text = text.lower()
    order = np.argsort(-post[1:])
    alts = tuple(
        (_cased_like(FOLDED[j], text), float(post[j + 1])) for j in order[:3] if j + 1 != sym
    )[:2]
    seg = np.exp(reading.log_probs[s0:s1, 1:].astype(np.float64)).max(0)
    top = int(np.argmax(seg))
    vote = (key, FOLDED[top], float(min(1.0, seg[top])))
    return Char(text, box, float(min(1.0, post[sym])), alts, (vote,))


def _cased_like(sym: str, text: str) -> str:
    """``sym`` in the case of ``text`` (letters only)."""
    return sym.lower() if text.islower() and sym.isalpha() else sym
