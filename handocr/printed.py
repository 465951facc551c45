"""Printed words read by a printed-text reader: PP-OCRv5's line recognizer (issue #23).

handocr's ensemble reads handprint; typed and typeset words (a form's labels and instructions)
read better with a recognizer trained on print. :func:`read_printed` takes a page already read
and the words marked printed, and reads each run of consecutive printed words of a line as one
crop (a run reads better in context than single words) with a line member
(:class:`handocr.models.line.LineMember`, the shipped ``ppocrv5-rec.mobile``) in the printed
alphabet :data:`handocr.models.line.PRINTED` (case, punctuation such as ``( ) ;`` and the space
between words). The run's reading is decoded by best path and cut into words at the spaces it
reads, each character placed by the frames it falls on (forced alignment), so the words are
the printed reader's, not the handprint segmentation's (which splits and joins printed words:
``THENU MBERS``). Handwritten words, the lines' order and baselines and the page's blocks are
kept, so both kinds stand in one reading order. Nothing is loaded here: the caller passes the
member.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.ctc import best_path, forced_alignment
from handocr.models.line import PRINTED, LineMember, LineReading
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
        The same page with each run of printed words replaced by the words the member reads
        in it (cut at its spaces, boxes within the run's old word boxes, ``kind`` set to
        ``"printed"``); every other word, the lines (their count, order, boxes and baselines)
        and the blocks as they were. A run the member reads no character in is dropped, unless
        that would leave its line empty.

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
    readings = member.read(list(crops), printed=True)
    new_words: dict[tuple[int, int], tuple[Word, ...]] = {}
    for (li, a, b), reading, x0 in zip(runs, readings, x0s, strict=True):
        new_words[li, a] = tuple(_run_words(reading, x0, page.lines[li].words[a:b], member.key))
        new_words.update({(li, w): () for w in range(a + 1, b)})
    lines = []
    for li, line in enumerate(page.lines):
        kept = [x for w, word in enumerate(line.words) for x in new_words.get((li, w), (word,))]
        if not kept and line.words:
            kept = [dataclasses.replace(w, kind="printed") for w in line.words]
        words = tuple(kept)
        same = words == line.words  # a line read again loses its fused exact probability
        lines.append(line if same else dataclasses.replace(line, words=words, exact=None))
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


def _run_words(reading: LineReading, x0: int, words: Sequence[Word], key: str) -> list[Word]:
    """Decode a run's reading and cut it into words at the spaces it reads.

    A new word's columns run between the midpoints to its neighbours' characters; its box is
    the ink of the run's old word boxes within those columns (the old boxes' rows), so a word
    the handprint segmentation split or joined comes out as the printed reader spaced it.
    """
    lp = reading.log_probs
    labels = best_path(lp)
    spans = forced_alignment(lp, labels) if labels else []
    space = 1 + PRINTED.index(" ")
    # (centre column in the page, class, frames) of each character but spaces
    chars: list[tuple[float, int, tuple[int, int]]] = []
    groups: list[list[int]] = [[]]
    for sym, span in zip(labels, spans or [], strict=False):
        if sym == space:
            groups.append([])
            continue
        s0, s1 = span if span[1] > span[0] else (span[0], span[0] + 1)
        groups[-1].append(len(chars))
        chars.append((x0 + 0.5 * (s0 + s1) * reading.width, sym, (s0, s1)))
    centres = [c for c, _, _ in chars]
    cuts = [-np.inf, *((p + q) / 2 for p, q in pairwise(centres)), np.inf]
    run = Box.enclosing([w.box for w in words])
    out = []
    for group in groups:
        if not group:
            continue
        lo, hi = cuts[group[0]], cuts[group[-1] + 1]
        parts = [Box(max(b.x0, math.floor(lo)) if lo > -np.inf else b.x0, b.y0,
                     min(b.x1, math.ceil(hi)) if hi < np.inf else b.x1, b.y1)
                 for b in (w.box for w in words) if b.x1 > lo and b.x0 < hi]  # fmt: skip
        parts = [b for b in parts if b.x1 > b.x0]
        if parts:
            box = Box.enclosing(parts)
        else:  # a mark beside the ink (a bracket the segmentation dropped)
            c = round(centres[group[0]])
            box = Box(c, run.y0, c + 1, run.y1)
        inner = [box.x0, *(round(cuts[k + 1]) for k in group[:-1]), box.x1]
        new = []
        for n, k in enumerate(group):
            _, sym, (s0, s1) = chars[k]
            a = min(max(inner[n], box.x0), box.x1 - 1)
            b = max(a + 1, min(inner[n + 1], box.x1))
            new.append(_char(reading, sym, s0, s1, Box(a, box.y0, b, box.y1), key))
        out.append(Word(tuple(new), box, "printed"))
    return out


def _char(reading: LineReading, sym: int, s0: int, s1: int, box: Box, key: str) -> Char:
    """Return a character from its class (index into the posteriors over :data:`PRINTED`)."""
    post = np.exp(reading.log_probs[s0:s1].astype(np.float64)).mean(0)
    text = PRINTED[sym - 1]
    order = np.argsort(-post[1:])
    alts = tuple((PRINTED[j], float(post[j + 1])) for j in order[:3] if j + 1 != sym)[:2]
    seg = np.exp(reading.log_probs[s0:s1, 1:].astype(np.float64)).max(0)
    top = int(np.argmax(seg))
    vote = (key, PRINTED[top], float(min(1.0, seg[top])))
    return Char(text, box, float(min(1.0, post[sym])), alts, (vote,))
