"""Probabilities + segmentation -> result objects (characters, words, lines, a page).

:func:`decode_page` restricts a page's voted probabilities to the charset, passes each line
through the context of :mod:`handocr.decode_context` (the letter prior, the letter/digit and
case mixtures, bars read as ``I``; re-exported here), picks each character and its runners-up
(:func:`decode_chars`), records every member's vote (:func:`attach_votes`) and groups the
characters into words and lines (:func:`assemble_page`).

Output case: EMNIST-47 merges ``c i j k l m o p s u v w x y z`` into their capitals, so the
classifier cannot tell their case. They print in lower case in a word decided lower case, and
after the first letter of a title-case or mixed-case word (``Smith``, ``McDonald``);
otherwise in upper case. The eleven lower-case-only classes print in lower case, as the
classifier saw them. One exception: the merged class ``L`` also holds lower-case ``l``, a
plain bar; in a line of capitals a bar-shaped glyph is read as ``I`` (:data:`BAR_ASPECT`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.decode_context import (
    BAR_ASPECT,
    CASE_PRIOR,
    LETTER_PRIOR,
    LINE_TYPE_PRIOR,
    TYPE_PRIOR,
    DecodeConfig,
    apply_case_context,
    apply_letter_prior,
    apply_line_context,
    apply_word_context,
    read_bars_as_i,
)
from handocr.labels import LABELS, MERGED_LOWER
from handocr.result import Baseline, Box, Char, Line, Page, Word, group_blocks

__all__ = [
    "BAR_ASPECT",
    "CASE_PRIOR",
    "LETTER_PRIOR",
    "DecodeConfig",
    "LINE_TYPE_PRIOR",
    "TOP_K",
    "TYPE_PRIOR",
    "apply_case_context",
    "apply_letter_prior",
    "apply_line_context",
    "apply_word_context",
    "assemble_page",
    "attach_votes",
    "decode_chars",
    "decode_page",
]

TOP_K = 3
"""Characters kept per position: the choice plus ``TOP_K - 1`` alternatives."""

_MERGED = np.array([ch.lower() in MERGED_LOWER for ch in LABELS])


def decode_chars(
    probs: NDArray[np.float32],
    boxes: Sequence[Box],
    *,
    word_starts: Sequence[bool] | None = None,
    line_sizes: Sequence[int] | None = None,
    top_k: int = TOP_K,
    letter_prior: float = LETTER_PRIOR,
    case_context: bool = True,
    bars_as_i: bool = True,
) -> list[Char]:
    """Pick the most probable class of each crop and keep the runners-up.

    Parameters
    ----------
    probs : ndarray of float32, shape (N, 47)
        Ensemble probabilities, rows summing to 1, columns in ``LABELS`` order.
    boxes : sequence of Box
        ``N`` boxes in page pixels.
    word_starts : sequence of bool, optional
        ``N`` flags, True where a word begins; when given, each line's probabilities pass
        through :func:`apply_line_context` and :func:`apply_case_context` first, and the
        merged classes print in the case that decides.
    line_sizes : sequence of int, optional
        Characters per line, in order (default: all in one line).
    top_k : int
        Candidates kept per character (>= 1).
    letter_prior : float, default :data:`LETTER_PRIOR`
        Weight of the letter-frequency prior applied with the context
        (:func:`apply_letter_prior`); 0 turns it off.
    case_context : bool, default True
        Apply :func:`apply_case_context` with the line context; without it, merged classes
        print in upper case.
    bars_as_i : bool, default True
        In a line that is not lower case, read a bar-shaped glyph (:data:`BAR_ASPECT`) that
        the classifier files under ``L`` as ``I``.

    Returns
    -------
    list of Char
        ``confidence`` is the probability of the chosen class, in ``[0, 1]``.

    Raises
    ------
    ValueError
        ``probs``, ``boxes``, ``word_starts`` or ``line_sizes`` disagree in length.
    """
    if len(probs) != len(boxes):
        raise ValueError(f"{len(probs)} probability rows for {len(boxes)} boxes")
    lower = np.zeros(len(probs), bool)
    if word_starts is not None:
        if len(word_starts) != len(boxes):
            raise ValueError(f"{len(word_starts)} word flags for {len(boxes)} boxes")
        sizes = list(line_sizes) if line_sizes is not None else [len(boxes)]
        if sum(sizes) != len(boxes):
            raise ValueError(f"line sizes {sizes} do not add up to {len(boxes)} boxes")
        bounds = np.cumsum([0, *sizes])
        probs = apply_letter_prior(probs, letter_prior)
        parts, flags = [], []
        for a, b in pairwise(bounds):
            if b > a:
                line = apply_line_context(probs[a:b], word_starts[a:b])
                line_lower = np.zeros(b - a, bool)
                if case_context:
                    line, line_lower = apply_case_context(line, word_starts[a:b])
                parts.append(read_bars_as_i(line, boxes[a:b]) if bars_as_i else line)
                flags.append(line_lower)
        if parts:
            probs, lower = np.concatenate(parts), np.concatenate(flags)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    out = []
    for row, idx, box, low in zip(probs, order, boxes, lower, strict=True):
        cands = [(_printed(int(k), bool(low)), float(row[k])) for k in idx]
        out.append(Char(cands[0][0], box, cands[0][1], tuple(cands[1:])))
    return out


def _printed(k: int, lower: bool) -> str:
    """Class ``k``'s character, a merged class in lower case when ``lower``."""
    return LABELS[k].lower() if lower and _MERGED[k] else LABELS[k]


def attach_votes(
    chars: Sequence[Char], per_member: NDArray[np.float32], members: Sequence[str]
) -> list[Char]:
    """Record each member's own top class and probability on every character.

    Parameters
    ----------
    chars : sequence of Char
        ``N`` decoded characters.
    per_member : ndarray of float32, shape (N, M, 47)
        The members' probabilities for the same crops (before context decoding); NaN rows
        mark members that did not read a crop (a cascade's unescalated characters).
    members : sequence of str
        ``M`` member names (``"arch.tag"``).

    Returns
    -------
    list of Char
        Copies with :attr:`Char.votes` filled, one per member that read the crop.

    Raises
    ------
    ValueError
        The shapes disagree.
    """
    if per_member.shape[:2] != (len(chars), len(members)):
        raise ValueError(
            f"votes of shape {per_member.shape} for {len(chars)} characters and "
            f"{len(members)} members"
        )
    ran = ~np.isnan(per_member[:, :, 0])
    top = np.nan_to_num(per_member, nan=-1.0).argmax(2)
    return [
        dataclasses.replace(
            c,
            votes=tuple(
                (name, LABELS[int(top[i, k])], float(per_member[i, k, top[i, k]]))
                for k, name in enumerate(members)
                if ran[i, k]
            ),
        )
        for i, c in enumerate(chars)
    ]


def assemble_page(
    chars: Sequence[Char],
    line_sizes: Sequence[int],
    word_starts: Sequence[bool],
    *,
    index: int,
    width: int,
    height: int,
    source: str | None,
    blocks: Sequence[int] | None = None,
    baselines: Sequence[Baseline | None] | None = None,
) -> Page:
    """Group decoded characters into words and lines (and the lines into blocks).

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
    blocks : sequence of int, optional
        One per line of ``line_sizes``: its reading block; consecutive lines with the same id
        form one :class:`~handocr.result.Block`. None: the page records no blocks.
    baselines : sequence of (Baseline or None), optional
        One per line of ``line_sizes``: its baseline in page pixels.

    Returns
    -------
    Page
        A line without characters is left out, with its block id and baseline.

    Raises
    ------
    ValueError
        ``blocks`` or ``baselines`` has not one entry per line.
    """
    for name, per_line in (("block ids", blocks), ("baselines", baselines)):
        if per_line is not None and len(per_line) != len(line_sizes):
            raise ValueError(f"{len(per_line)} {name} for {len(line_sizes)} lines")
    lines = []
    kept: list[int] = []
    pos = 0
    for li, n in enumerate(line_sizes):
        words: list[list[Char]] = []
        for k in range(pos, pos + n):
            if word_starts[k] or not words:
                words.append([])
            words[-1].append(chars[k])
        pos += n
        wobjs = tuple(Word(tuple(w), Box.enclosing([c.box for c in w])) for w in words)
        if wobjs:
            base = None if baselines is None else baselines[li]
            lines.append(Line(wobjs, Box.enclosing([w.box for w in wobjs]), base))
            kept.append(li)
    grouped = () if blocks is None else group_blocks(lines, [blocks[li] for li in kept])
    return Page(index, width, height, tuple(lines), source, blocks=grouped)


def decode_page(
    lines: Sequence[Sequence[Box]],
    starts: Sequence[Sequence[bool]],
    probs: NDArray[np.float32],
    members: Sequence[str],
    *,
    index: int,
    width: int,
    height: int,
    source: str | None = None,
    cfg: DecodeConfig | None = None,
    to_page: Callable[[Box], Box] | None = None,
    blocks: Sequence[int] | None = None,
    baselines: Sequence[Baseline | None] | None = None,
) -> Page:
    """Decode one page's classified glyphs into a :class:`~handocr.result.Page`.

    The charset restriction comes first (:meth:`handocr.labels.Charset.restrict`), then the
    context (:func:`decode_chars`: letter prior, line and case context), then each member's
    vote is attached (:func:`attach_votes`) and the boxes are mapped to the input page.

    Parameters
    ----------
    lines : sequence of sequence of Box
        Each line's glyph boxes, left to right, in the pixels the page was segmented in.
    starts : sequence of sequence of bool
        Per line, one flag per glyph: True where a word begins.
    probs : ndarray of float32, shape (N, 1 + M, 47)
        One row per glyph in reading order: the voted probabilities, then each of the ``M``
        members' own (NaN where a cascade did not run that member).
    members : sequence of str
        The ``M`` members' names (``"arch.tag"``).
    index, width, height : int
        Page position in its document and size in pixels.
    source : str, optional
    cfg : DecodeConfig, optional
        The stage's options (charset, word and case context, letter prior, bars as ``I``;
        :func:`decode_chars`); default :class:`DecodeConfig`'s defaults.
    to_page : callable, optional
        Maps a box to the input page's pixels (e.g.
        :meth:`handocr.preprocess.LevelledPage.to_input` after deskewing); applied after
        decoding, so the context sees the boxes it was segmented with. A baseline's end
        points are mapped as zero-size boxes (to the pixel they fall in).
    blocks : sequence of int, optional
        Per line, its reading block (:attr:`handocr.segment.PageLayout.blocks`): the page's
        :attr:`~handocr.result.Page.blocks`. None: the page records none (one block).
    baselines : sequence of (Baseline or None), optional
        Per line, its baseline in the pixels the page was segmented in
        (:attr:`handocr.segment.PageLayout.baselines`).

    Returns
    -------
    Page

    Raises
    ------
    ValueError
        ``probs`` has not one row per glyph, or ``blocks`` or ``baselines`` not one entry
        per line.
    """
    sizes = [len(row) for row in lines]
    if len(probs) != sum(sizes):
        raise ValueError(f"{len(probs)} probability rows for {sum(sizes)} glyphs")
    flat_starts = [s for row in starts for s in row]
    chars: list[Char] = []
    if sum(sizes):  # a blank page has no character and needs no model output
        cfg = cfg or DecodeConfig()
        voted, per_member = probs[:, 0], probs[:, 1:]
        if cfg.charset is not None:
            voted = cfg.charset.restrict(voted)
        chars = decode_chars(
            voted,
            [b for row in lines for b in row],
            word_starts=flat_starts if cfg.word_context else None,
            line_sizes=sizes if cfg.word_context else None,
            letter_prior=cfg.letter_prior,
            case_context=cfg.case_context,
            bars_as_i=cfg.bars_as_i,
        )
        chars = attach_votes(chars, per_member, members)
        if to_page is not None:
            chars = [dataclasses.replace(c, box=to_page(c.box)) for c in chars]
            if baselines is not None:
                baselines = [None if b is None else _map_baseline(b, to_page) for b in baselines]
    return assemble_page(
        chars,
        sizes,
        flat_starts,
        index=index,
        width=width,
        height=height,
        source=source,
        blocks=blocks,
        baselines=baselines,
    )


def _map_baseline(base: Baseline, to_page: Callable[[Box], Box]) -> Baseline:
    """Map a baseline's end points by a box mapping, each as a zero-size box."""
    (xa, ya), (xb, yb) = base
    a, b = to_page(Box(xa, ya, xa, ya)), to_page(Box(xb, yb, xb, yb))
    return ((a.x0, a.y0), (b.x0, b.y0))
