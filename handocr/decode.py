"""Probabilities + segmentation -> result objects (characters, words, lines, a page).

Output case: EMNIST-47 merges ``c i j k l m o p s u v w x y z`` into their capitals, so those
classes print in upper case; the eleven lower-case classes ``a b d e f g h n q r t`` print in
lower case, as the classifier saw them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from handocr.labels import LABELS
from handocr.result import Box, Char, Line, Page, Word

__all__ = ["TOP_K", "assemble_page", "decode_chars"]

TOP_K = 3
"""Characters kept per position: the choice plus ``TOP_K - 1`` alternatives."""


def decode_chars(
    probs: NDArray[np.float32], boxes: Sequence[Box], *, top_k: int = TOP_K
) -> list[Char]:
    """Pick the most probable class of each crop and keep the runners-up.

    Parameters
    ----------
    probs : ndarray of float32, shape (N, 47)
        Ensemble probabilities, rows summing to 1, columns in ``LABELS`` order.
    boxes : sequence of Box
        ``N`` boxes in page pixels.
    top_k : int
        Candidates kept per character (>= 1).

    Returns
    -------
    list of Char
        ``confidence`` is the probability of the chosen class, in ``[0, 1]``.

    Raises
    ------
    ValueError
        ``probs`` and ``boxes`` disagree in length.
    """
    if len(probs) != len(boxes):
        raise ValueError(f"{len(probs)} probability rows for {len(boxes)} boxes")
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    out = []
    for row, idx, box in zip(probs, order, boxes, strict=True):
        cands = [(LABELS[int(k)], float(row[k])) for k in idx]
        out.append(Char(cands[0][0], box, cands[0][1], tuple(cands[1:])))
    return out


def assemble_page(
    chars: Sequence[Char],
    line_sizes: Sequence[int],
    word_starts: Sequence[bool],
    *,
    index: int,
    width: int,
    height: int,
    source: str | None,
) -> Page:
    """Group decoded characters into words and lines.

    Parameters
    ----------
    chars : sequence of Char
        All characters of the page in reading order.
    line_sizes : sequence of int
        Number of characters of each line, in order; they sum to ``len(chars)``.
    word_starts : sequence of bool
        One per character: True where a new word begins (True for each line's first).
    index, width, height : int
        Page position and size in pixels.
    source : str or None

    Returns
    -------
    Page
    """
    lines = []
    pos = 0
    for n in line_sizes:
        words: list[list[Char]] = []
        for k in range(pos, pos + n):
            if word_starts[k] or not words:
                words.append([])
            words[-1].append(chars[k])
        pos += n
        wobjs = tuple(Word(tuple(w), Box.enclosing([c.box for c in w])) for w in words)
        if wobjs:
            lines.append(Line(wobjs, Box.enclosing([w.box for w in wobjs])))
    return Page(index, width, height, tuple(lines), source)
