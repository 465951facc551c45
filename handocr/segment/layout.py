"""Grouping components into text lines, glyphs and words, in reading order.

Reading order: the page is first cut into blocks by a recursive XY-cut (Nagy and Seth 1984,
"Hierarchical representation of optically scanned documents"): a vertical gutter of white at
least :attr:`SegmentConfig.column_gap` text heights wide through a block of several lines
separates columns, read left before right; a horizontal white band of at least
:attr:`SegmentConfig.block_gap` heights separates blocks read top before bottom. Within a block,
lines follow their own baseline: a component joins the line whose *nearby* components (the
last :attr:`SegmentConfig.track` big ones to its left) are centred closest to it, so a line
that rises or sags across the page stays one line. Glyphs are grouped by horizontal overlap
within a line (dots of i/j, detached bars), words by gaps larger than a share of the line's
median glyph height.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box
from handocr.segment.components import Component, Glyph, Piece, find_components
from handocr.segment.config import SegmentConfig

__all__ = [
    "TextLine",
    "find_lines",
    "reading_blocks",
    "segment_page",
    "segment_pieces",
    "text_height",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TextLine:
    """A line of glyphs, left to right.

    Attributes
    ----------
    box : Box
        Union of the glyph boxes.
    glyphs : tuple of Glyph
    word_starts : tuple of bool
        ``True`` where the glyph starts a new word (always ``True`` for the first).
    """

    box: Box
    glyphs: tuple[Glyph, ...]
    word_starts: tuple[bool, ...]


class _LineAcc:
    """A line being built: its components; centre and height come from the big ones only.

    Big components arrive left to right, so the last ``track`` of them give the line's
    centre where the next one would join (its local baseline).
    """

    def __init__(self, c: Component, track: int) -> None:
        self.track = track
        self.members = [c]
        self.cys = [float(c.cy)]  # kept sorted: the medians are read once per candidate
        self.hs = [float(c.box.height)]
        self.track_x = [float(c.cx)]  # big members' centres in arrival (x) order
        self.track_y = [float(c.cy)]
        self.lo = self.hi = float(c.cy)  # range of the big members' centres

    def near(self, cy: float, reach: float) -> bool:
        """Whether ``cy`` lies within ``reach`` of the range of the line's centres (cheap)."""
        return self.lo - reach <= cy <= self.hi + reach

    @staticmethod
    def _median(v: list[float]) -> float:
        n = len(v)
        return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

    @property
    def cy(self) -> float:
        return self._median(self.cys)

    @property
    def h(self) -> float:
        return self._median(self.hs)

    def cy_at(self, x: float) -> float:
        """Return the line's centre near ``x``: the median of its ``track`` nearest big members."""
        k = bisect.bisect_left(self.track_x, x)
        lo, hi = max(0, k - self.track), min(len(self.track_x), k + self.track)
        near = sorted(range(lo, hi), key=lambda i: abs(self.track_x[i] - x))[: self.track]
        return self._median(sorted(self.track_y[i] for i in near))

    def add(self, c: Component, *, big: bool = True) -> None:
        self.members.append(c)
        if big:
            bisect.insort(self.cys, float(c.cy))
            bisect.insort(self.hs, float(c.box.height))
            k = bisect.bisect_right(self.track_x, float(c.cx))
            self.track_x.insert(k, float(c.cx))
            self.track_y.insert(k, float(c.cy))
            self.lo, self.hi = min(self.lo, float(c.cy)), max(self.hi, float(c.cy))


def text_height(comps: Sequence[Component]) -> float:
    """Return the page's dominant text height: the ink-weighted median component height.

    Each component counts with its ink area (the area its outer contour encloses, at least
    1 px), so a few large characters outweigh many specks of background texture or fragments
    of an erased underline, which a plain median of the heights would follow.

    Parameters
    ----------
    comps : sequence of Component
        The page's components (:func:`handocr.segment.find_components`).

    Returns
    -------
    float
        Height in pixels; 0.0 when ``comps`` is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from handocr.result import Box
    >>> def comp(w, h):
    ...     c = np.array([[[0, 0]], [[w - 1, 0]], [[w - 1, h - 1]], [[0, h - 1]]], np.int32)
    ...     return Component(Box(0, 0, w, h), c)
    >>> text_height([comp(20, 30), comp(18, 28)] + [comp(6, 1)] * 5)
    30.0
    """
    import cv2

    if not comps:
        return 0.0
    heights = np.array([c.box.height for c in comps], np.float64)
    areas = np.array([max(1.0, cv2.contourArea(c.contour)) for c in comps], np.float64)
    order = np.argsort(heights, kind="stable")
    cum = np.cumsum(areas[order])
    return float(heights[order][int(np.searchsorted(cum, cum[-1] / 2))])


def _group_lines(comps: list[Component], cfg: SegmentConfig, h_page: float) -> list[_LineAcc]:
    big = [c for c in comps if c.box.height >= cfg.big_ratio * h_page]
    small = [c for c in comps if c.box.height < cfg.big_ratio * h_page]
    lines: list[_LineAcc] = []
    for c in sorted(big, key=lambda c: (c.box.x0, c.cy)):
        best, best_d = None, np.inf
        for line in lines:
            reach = cfg.line_band * max(line.h, c.box.height)
            if not line.near(c.cy, reach):
                continue
            d = abs(c.cy - line.cy_at(c.cx))
            if d <= reach and d < best_d:
                best, best_d = line, d
        if best is None:
            lines.append(_LineAcc(c, cfg.track))
        else:
            best.add(c)
    for c in small:
        best, best_d = None, np.inf
        for line in lines:
            reach = line.h * (0.5 + cfg.line_band)
            if not line.near(c.cy, reach):
                continue
            d = abs(c.cy - line.cy_at(c.cx))
            if d <= reach and d < best_d:
                best, best_d = line, d
        if best is not None:
            best.add(c, big=False)
    return lines


def _widest_gap(spans: list[tuple[int, int]]) -> tuple[int, int]:
    """Return ``(width, position)`` of the widest uncovered gap between sorted-by-start spans."""
    best, pos = 0, 0
    reach = spans[0][1]
    for a, b in spans[1:]:
        if a - reach > best:
            best, pos = a - reach, (reach + a) // 2
        reach = max(reach, b)
    return best, pos


def reading_blocks(
    comps: Sequence[Component], h_page: float, cfg: SegmentConfig | None = None
) -> list[list[Component]]:
    """Cut the page's components into blocks in reading order (recursive XY-cut).

    Parameters
    ----------
    comps : sequence of Component
    h_page : float
        The page's text height in pixels (:func:`text_height`).
    cfg : SegmentConfig, optional
        ``column_gap``, ``column_min_height`` and ``block_gap`` (in text heights).

    Returns
    -------
    list of list of Component
        Blocks: columns left to right, bands top to bottom, recursively. One block when the
        page has no gutter or band wide enough.
    """
    cfg = cfg or SegmentConfig()
    out: list[list[Component]] = []
    stack = [list(comps)]
    while stack:
        block = stack.pop()
        if len(block) < 2 or h_page <= 0:
            out.append(block)
            continue
        y0 = min(c.box.y0 for c in block)
        y1 = max(c.box.y1 for c in block)
        xs = sorted((c.box.x0, c.box.x1) for c in block)
        gap_x, cut_x = _widest_gap(xs)
        if gap_x >= cfg.column_gap * h_page and y1 - y0 >= cfg.column_min_height * h_page:
            left = [c for c in block if c.cx < cut_x]
            right = [c for c in block if c.cx >= cut_x]
            stack += [right, left]  # popped left first
            continue
        ys = sorted((c.box.y0, c.box.y1) for c in block)
        gap_y, cut_y = _widest_gap(ys)
        if gap_y >= cfg.block_gap * h_page:
            top = [c for c in block if c.cy < cut_y]
            bottom = [c for c in block if c.cy >= cut_y]
            stack += [bottom, top]
            continue
        out.append(block)
    return out


def _glyphs_of(members: list[Component], cfg: SegmentConfig, h_line: float) -> list[Glyph]:
    groups: list[list[Component]] = []
    for c in sorted(members, key=lambda c: c.box.x0):
        if groups:
            g = groups[-1]
            gx0 = min(p.box.x0 for p in g)
            gx1 = max(p.box.x1 for p in g)
            overlap = min(gx1, c.box.x1) - max(gx0, c.box.x0)
            narrow = min(gx1 - gx0, c.box.width)
            wide = max(gx1, c.box.x1) - gx0 > cfg.max_glyph_width * h_line
            if overlap >= cfg.merge_overlap * narrow and not wide:
                g.append(c)
                continue
        groups.append([c])
    glyphs = [Glyph.of(g) for g in groups]
    return [g for g in glyphs if g.box.height >= cfg.min_glyph_height * h_line]


def _drop_stray_marks(glyphs: list[Glyph], h_med: float, cfg: SegmentConfig) -> list[Glyph]:
    """Drop small glyphs far from every other glyph of their line (see ``mark_gap``)."""
    if len(glyphs) < 2:
        return glyphs
    keep = []
    for i, g in enumerate(glyphs):
        if g.box.height < cfg.mark_height * h_med:
            gaps = [
                max(o.box.x0 - g.box.x1, g.box.x0 - o.box.x1)
                for j, o in enumerate(glyphs)
                if j != i
            ]
            if min(gaps) > cfg.mark_gap * h_med:
                log.debug("dropped a stray mark %.0f px high at x=%d", g.box.height, g.box.x0)
                continue
        keep.append(g)
    return keep


def _word_starts(glyphs: list[Glyph], h_med: float, cfg: SegmentConfig) -> list[bool]:
    """Word breaks from gap statistics: a gap far wider than the line's usual one."""
    gaps = []
    right = glyphs[0].box.x1
    for g in glyphs[1:]:
        gaps.append(g.box.x0 - right)
        right = max(right, g.box.x1)
    if not gaps:
        return [True]
    typical = float(np.median(np.maximum(gaps, 0)))
    threshold = max(cfg.min_word_gap * h_med, min(cfg.word_gap * h_med, cfg.gap_factor * typical))
    return [True] + [gap > threshold for gap in gaps]


def segment_page(ink: NDArray[np.uint8], cfg: SegmentConfig | None = None) -> list[TextLine]:
    """Segment an ink map into text lines of glyphs with word starts, in reading order.

    Parameters
    ----------
    ink : ndarray of uint8, shape (H, W)
        255 = ink (:func:`handocr.preprocess.ink_map`).
    cfg : SegmentConfig, optional

    Returns
    -------
    list of TextLine
        In reading order (:func:`reading_blocks`, then top to bottom within a block); glyphs
        left to right. Empty for a blank page.
    """
    cfg = cfg or SegmentConfig()
    comps = find_components(ink, cfg)
    if not comps:
        return []
    h_page = text_height(comps)
    result: list[TextLine] = []
    for block in reading_blocks(comps, h_page, cfg):
        result += _lines_of_block(block, cfg, h_page)
    log.debug("segmented %d components into %d lines", len(comps), len(result))
    return result


def _lines_of_block(comps: list[Component], cfg: SegmentConfig, h_page: float) -> list[TextLine]:
    """Lines of one reading block, top to bottom."""
    out = []
    for acc in _group_lines(comps, cfg, h_page):
        glyphs = _glyphs_of(acc.members, cfg, acc.h)
        if not glyphs:
            continue
        h_med = float(np.median([g.box.height for g in glyphs]))
        glyphs = _drop_stray_marks(glyphs, h_med, cfg)
        if h_med < cfg.min_line_height * h_page:
            log.debug(
                "dropped a line of %d marks %.1f px high (text %.1f px)", len(glyphs), h_med, h_page
            )
            continue
        starts = _word_starts(glyphs, h_med, cfg)
        box = Box.enclosing([g.box for g in glyphs])
        out.append(
            (float(np.median([g.box.y0 + g.box.y1 for g in glyphs])) / 2, box, glyphs, starts)
        )
    out.sort(key=lambda t: (t[0], t[1].x0))
    return [TextLine(box, tuple(glyphs), tuple(starts)) for _, box, glyphs, starts in out]


def find_lines(ink: NDArray[np.uint8], cfg: SegmentConfig | None = None) -> list[Box]:
    """Return the box of every text line, top to bottom (see :func:`segment_page`)."""
    return [line.box for line in segment_page(ink, cfg)]


def segment_pieces(
    ink: NDArray[np.uint8], cfg: SegmentConfig | None = None
) -> tuple[list[list[Piece]], list[list[bool]]]:
    """Segment an ink map into the pieces the classifier reads, line by line.

    Parameters
    ----------
    ink : ndarray of uint8, shape (H, W)
        255 = ink (:func:`handocr.preprocess.ink_map`).
    cfg : SegmentConfig, optional

    Returns
    -------
    (lines, starts)
        Per line of :func:`segment_page`, each glyph as a :class:`Piece` (its own ink only),
        and the word-start flags.
    """
    lines = segment_page(ink, cfg)
    pieces = [[Piece.of_glyph(ink, g) for g in line.glyphs] for line in lines]
    return pieces, [list(line.word_starts) for line in lines]
