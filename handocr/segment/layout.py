"""Grouping components into text lines, candidates and words, in reading order.

Reading order: the page is first cut into blocks by a recursive XY-cut (Nagy and Seth 1984,
"Hierarchical representation of optically scanned documents"): a vertical gutter of white at
least :attr:`SegmentConfig.column_gap` text heights wide through a block of several lines
separates columns, read left before right; a horizontal white band of at least
:attr:`SegmentConfig.block_gap` heights separates blocks read top before bottom. Within a block,
lines follow their own baseline: a component joins the line whose *nearby* components (the
last :attr:`SegmentConfig.track` big ones to its left) are centred closest to it, so a line
that rises or sags across the page stays one line. Candidates are grouped by horizontal
overlap within a line (dots of i/j, detached bars), words by gaps larger than a share of the
line's median candidate height. Each line's baseline is a straight line fitted to the bottoms
of its candidates, robust to descenders and punctuation (:func:`fit_baseline`); each line
records its block.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from handocr.result import Baseline, Box
from handocr.segment.components import Candidate, Component, Piece, find_components
from handocr.segment.config import SegmentConfig

__all__ = [
    "PageLayout",
    "TextLine",
    "find_lines",
    "fit_baseline",
    "reading_blocks",
    "segment_layout",
    "segment_page",
    "segment_pieces",
    "text_height",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TextLine:
    """A line of candidates, left to right.

    Attributes
    ----------
    box : Box
        Union of the candidate boxes.
    candidates : tuple of Candidate
    word_starts : tuple of bool
        ``True`` where the candidate starts a new word (always ``True`` for the first).
    baseline : Baseline or None
        The line's baseline from its box's left to its right edge (:func:`fit_baseline`).
    block : int
        The 0-based reading block (:func:`reading_blocks`) the line belongs to.
    """

    box: Box
    candidates: tuple[Candidate, ...]
    word_starts: tuple[bool, ...]
    baseline: Baseline | None = None
    block: int = 0


class PageLayout(NamedTuple):
    """A page segmented for the classifier: per line its pieces and its geometry.

    Attributes
    ----------
    lines : list of list of Piece
        Per line in reading order, each candidate as the classifier reads it (its own ink only).
    starts : list of list of bool
        Per line, one flag per piece: True where a word starts.
    blocks : list of int
        Per line, its 0-based reading block; non-decreasing (blocks are read one after the
        other), consecutive from 0.
    baselines : list of Baseline
        Per line, its baseline (:func:`fit_baseline`), in the ink map's pixels.
    """

    lines: list[list[Piece]]
    starts: list[list[bool]]
    blocks: list[int]
    baselines: list[Baseline]


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


def _gaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return ``(width, position)`` of every uncovered gap between sorted-by-start spans."""
    out = []
    reach = spans[0][1]
    for a, b in spans[1:]:
        if a > reach:
            out.append((a - reach, (reach + a) // 2))
        reach = max(reach, b)
    return out


def _widest_gap(spans: list[tuple[int, int]]) -> tuple[int, int]:
    """Return ``(width, position)`` of the widest uncovered gap between sorted-by-start spans."""
    return max(_gaps(spans), default=(0, 0))


BAND_CONTRAST = 1.25
"""A white band is cut before any gutter when it is at least this many times the median of the
block's other line gaps (those of at least :data:`LINE_GAP_MIN` text heights): it stands out
from the ordinary spacing of lines, as the space between the rows of a grid of form fields does,
where the spacing of the lines of two text columns does not."""

LINE_GAP_MIN = 0.3
"""Gaps narrower than this many text heights (a dot above its stem) are not line gaps."""


def _band_first(spans: list[tuple[int, int]], h_page: float, cfg: SegmentConfig) -> int | None:
    """Return where to cut a block by a white band before looking for gutters, or None."""
    gaps = sorted(g for g in _gaps(spans) if g[0] >= LINE_GAP_MIN * h_page)
    if len(gaps) < 2 or gaps[-1][0] < cfg.block_gap * h_page:
        return None
    rest = [w for w, _ in gaps[:-1]]
    return gaps[-1][1] if gaps[-1][0] >= BAND_CONTRAST * float(np.median(rest)) else None


def _split_band(block: list[Component], cut_y: int) -> list[list[Component]]:
    """Return ``[bottom, top]`` of a block cut at row ``cut_y`` (a stack pops the top first)."""
    return [[c for c in block if c.cy >= cut_y], [c for c in block if c.cy < cut_y]]


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
        Blocks: columns left to right, bands top to bottom, recursively; but a white band
        that stands out from the block's line spacing (:data:`BAND_CONTRAST`) is cut before
        any gutter, so a grid of form fields (label and value lines close, rows further apart)
        reads row by row while two columns of evenly spaced lines read column by column. One
        block when the page has no band or gutter wide enough.
    """
    cfg = cfg or SegmentConfig()
    out: list[list[Component]] = []
    stack = [list(comps)]
    while stack:
        block = stack.pop()
        if len(block) < 2 or h_page <= 0:
            out.append(block)
            continue
        ys = sorted((c.box.y0, c.box.y1) for c in block)
        band = _band_first(ys, h_page, cfg)
        if band is not None:
            stack += _split_band(block, band)
            continue
        y0, y1 = ys[0][0], max(b for _, b in ys)
        xs = sorted((c.box.x0, c.box.x1) for c in block)
        gap_x, cut_x = _widest_gap(xs)
        if gap_x >= cfg.column_gap * h_page and y1 - y0 >= cfg.column_min_height * h_page:
            left = [c for c in block if c.cx < cut_x]
            right = [c for c in block if c.cx >= cut_x]
            stack += [right, left]  # popped left first
            continue
        gap_y, cut_y = _widest_gap(ys)
        if gap_y >= cfg.block_gap * h_page:
            stack += _split_band(block, cut_y)
            continue
        out.append(block)
    return out


def _candidates_of(members: list[Component], cfg: SegmentConfig, h_line: float) -> list[Candidate]:
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
    candidates = [Candidate.of(g) for g in groups]
    return [g for g in candidates if g.box.height >= cfg.min_glyph_height * h_line]


def _drop_stray_marks(
    candidates: list[Candidate], h_med: float, cfg: SegmentConfig
) -> list[Candidate]:
    """Drop small candidates far from every other candidate of their line (see ``mark_gap``)."""
    if len(candidates) < 2:
        return candidates
    keep = []
    for i, g in enumerate(candidates):
        if g.box.height < cfg.mark_height * h_med:
            gaps = [
                max(o.box.x0 - g.box.x1, g.box.x0 - o.box.x1)
                for j, o in enumerate(candidates)
                if j != i
            ]
            if min(gaps) > cfg.mark_gap * h_med:
                log.debug("dropped a stray mark %.0f px high at x=%d", g.box.height, g.box.x0)
                continue
        keep.append(g)
    return keep


def _word_starts(candidates: list[Candidate], h_med: float, cfg: SegmentConfig) -> list[bool]:
    """Word breaks from gap statistics: a gap far wider than the line's usual one."""
    gaps = []
    right = candidates[0].box.x1
    for g in candidates[1:]:
        gaps.append(g.box.x0 - right)
        right = max(right, g.box.x1)
    if not gaps:
        return [True]
    typical = float(np.median(np.maximum(gaps, 0)))
    threshold = max(cfg.min_word_gap * h_med, min(cfg.word_gap * h_med, cfg.gap_factor * typical))
    return [True] + [gap > threshold for gap in gaps]


def segment_page(ink: NDArray[np.uint8], cfg: SegmentConfig | None = None) -> list[TextLine]:
    """Segment an ink map into text lines of candidates with word starts, in reading order.

    Parameters
    ----------
    ink : ndarray of uint8, shape (H, W)
        255 = ink (:func:`handocr.preprocess.ink_map`).
    cfg : SegmentConfig, optional

    Returns
    -------
    list of TextLine
        In reading order (:func:`reading_blocks`, then top to bottom within a block); candidates
        left to right. Empty for a blank page.
    """
    cfg = cfg or SegmentConfig()
    comps = find_components(ink, cfg)
    if not comps:
        return []
    h_page = text_height(comps)
    result: list[TextLine] = []
    n_blocks = 0  # blocks with lines: a block of marks only is no block
    for block in reading_blocks(comps, h_page, cfg):
        lines = _lines_of_block(block, cfg, h_page, n_blocks)
        n_blocks += bool(lines)
        result += lines
    log.debug("segmented %d components into %d lines", len(comps), len(result))
    return result


def fit_baseline(candidates: Sequence[Candidate], box: Box) -> Baseline:
    """Fit a line's baseline to the bottoms of its candidates, robust to descenders and marks.

    The candidates at least half the line's median height vote (dots, commas and hyphens do not);
    the slope is the Theil-Sen estimate (the median of the slopes between pairs of their
    bottom centres) and the offset the median of what it leaves, so a minority of descenders
    (g, j, p, q, y) or raised candidates does not pull it; a least-squares fit over the bottoms
    within a fifth of a text height of that line then refines it.

    Parameters
    ----------
    candidates : sequence of Candidate
        The line's candidates (at least one).
    box : Box
        The line's box: the baseline runs from its left edge to its right edge.

    Returns
    -------
    Baseline
        ``((box.x0, y0), (box.x1, y1))``, ``y`` rounded to whole pixels and kept within the
        box's rows ``[box.y0, box.y1]``.

    Examples
    --------
    >>> def g(x0, y0, x1, y1):
    ...     return Candidate(Box(x0, y0, x1, y1), ())
    >>> line = [g(0, 10, 8, 30), g(10, 10, 18, 30), g(20, 16, 28, 38), g(30, 10, 38, 30)]
    >>> fit_baseline(line, Box(0, 10, 38, 38))  # the third candidate has a descender
    ((0, 30), (38, 30))
    """
    heights = np.array([g.box.height for g in candidates], np.float64)
    h = float(np.median(heights))
    tall = [g for g in candidates if g.box.height >= 0.5 * h] or list(candidates)
    x = np.array([(g.box.x0 + g.box.x1) / 2 for g in tall], np.float64)
    y = np.array([g.box.y1 for g in tall], np.float64)
    slope = 0.0
    if len(tall) > 1:
        i, j = np.triu_indices(len(tall), 1)
        dx = x[j] - x[i]
        apart = dx > 0
        if apart.any():
            slope = float(np.median((y[j] - y[i])[apart] / dx[apart]))
    offset = float(np.median(y - slope * x))
    near = np.abs(y - (offset + slope * x)) <= 0.2 * h
    xn, yn = x[near], y[near]
    if len(xn) >= 2 and np.ptp(xn) > 0:  # least squares, in closed form
        dx = xn - xn.mean()
        slope = float(dx @ (yn - yn.mean()) / (dx @ dx))
        offset = float(yn.mean() - slope * xn.mean())
    elif len(xn):
        offset = float(np.median(yn - slope * xn))

    def at(xe: int) -> int:
        return int(min(max(round(offset + slope * xe), box.y0), box.y1))

    return ((box.x0, at(box.x0)), (box.x1, at(box.x1)))


def _lines_of_block(
    comps: list[Component], cfg: SegmentConfig, h_page: float, block: int = 0
) -> list[TextLine]:
    """Lines of one reading block, top to bottom, each recording ``block``."""
    out = []
    for acc in _group_lines(comps, cfg, h_page):
        candidates = _candidates_of(acc.members, cfg, acc.h)
        if not candidates:
            continue
        h_med = float(np.median([g.box.height for g in candidates]))
        candidates = _drop_stray_marks(candidates, h_med, cfg)
        if h_med < cfg.min_line_height * h_page:
            log.debug(
                "dropped a line of %d marks %.1f px high (text %.1f px)",
                len(candidates),
                h_med,
                h_page,
            )
            continue
        starts = _word_starts(candidates, h_med, cfg)
        box = Box.enclosing([g.box for g in candidates])
        out.append(
            (
                float(np.median([g.box.y0 + g.box.y1 for g in candidates])) / 2,
                box,
                candidates,
                starts,
            )
        )
    out.sort(key=lambda t: (t[0], t[1].x0))
    return [
        TextLine(box, tuple(candidates), tuple(starts), fit_baseline(candidates, box), block)
        for _, box, candidates, starts in out
    ]


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
        Per line of :func:`segment_page`, each candidate as a :class:`Piece` (its own ink only),
        and the word-start flags (:func:`segment_layout` adds each line's block and baseline).
    """
    layout = segment_layout(ink, cfg)
    return layout.lines, layout.starts


def segment_layout(ink: NDArray[np.uint8], cfg: SegmentConfig | None = None) -> PageLayout:
    """Segment an ink map into pieces per line, with each line's reading block and baseline.

    Parameters
    ----------
    ink : ndarray of uint8, shape (H, W)
        255 = ink (:func:`handocr.preprocess.ink_map`).
    cfg : SegmentConfig, optional

    Returns
    -------
    PageLayout
        The lines of :func:`segment_page` as :func:`segment_pieces` gives them, and their
        blocks and baselines.
    """
    lines = segment_page(ink, cfg)
    return PageLayout(
        [[Piece.of_candidate(ink, g) for g in line.candidates] for line in lines],
        [list(line.word_starts) for line in lines],
        [line.block for line in lines],
        [line.baseline or fit_baseline(line.candidates, line.box) for line in lines],
    )
