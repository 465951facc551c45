"""Comb fields: a row of equal cells between two rules, one character per cell.

Forms ask for names, dates and numbers in comb fields (boxed fields): a top and a bottom rule
with a wall between every two cells. The writer puts one character in each cell, so the cells
*are* the segmentation; reading them like free handprint reads the walls as ``I`` and ``1``,
adds characters for empty cells and cuts characters that touch a wall.

:func:`find_combs` finds them in a binarised page before ruled-line removal: a connected
component whose rows hold two long rules (its row profile, a few pixels of residual skew
allowed) and whose columns between the rules hold at least :data:`MIN_CELLS` + 1 walls at a
regular pitch (the largest number of equal cells whose every wall is found, so a ``1`` standing
in a cell is not taken for a wall). :func:`cell_pieces` cuts the ink of each non-empty cell out
of the page (the comb's own rules and walls erased, strokes above and below the cell kept,
fragments of a neighbour's character that cross the wall dropped) as the classifier reads it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box
from handocr.segment.components import Piece

__all__ = ["MIN_CELLS", "CombField", "cell_pieces", "find_combs"]

MIN_CELLS = 3
"""A comb has at least this many cells (fewer equal boxes are read as free handprint)."""

MAX_FILL = 0.85
"""A component whose ink fills more than this share of its box is not a comb's frame but a blot
or a filled band, and is not examined further (a comb of 12 px cells drawn with a 2 px pen and
filled with characters fills up to about half of its box)."""

MIN_CELL_PX = 8
"""Cells narrower or lower than this many pixels are not looked for."""

RULE_SHARE = 0.85
"""A row (within +-2 px) holding ink over this share of the component's width is a rule."""

WALL_SHARE = 0.85
"""A column (within +-1 px) holding ink over this share of the cell height is a wall."""

MERGED_WALLS = 1
"""Walls a comb may have beyond the column runs found (runs joined by characters)."""

RULE_MAX = 0.5
"""A rule thicker than this share of the cells' inner height is not a form line drawn with a
pen but the tops and feet of bold print: a bold ``samp`` whose letters touch has two dense rows
5 px thick around a 9 px gap and regular stems (found on the NIST example form's heading). On
600 generated validation fields (EMNIST train glyphs, ``handocr.train.combs`` seed 12) no comb
is lost to it; at 0.35 the thick, blurred rules of 10-14 px cells were."""

PITCH_TOLERANCE = 0.12
"""A wall is found where one lies within this share of the pitch of its expected position."""

OVERHANG = 0.35
"""Ink up to this many cell heights above the top rule and below the bottom one belongs to
the cell (characters written over the rules)."""

EMPTY_SHARE = 0.03
"""A cell whose kept ink covers less than this share of its area is empty."""

FRAGMENT_SHARE = 0.3
"""A component touching the cell's side with less ink than this share of the cell's largest
component is a neighbour's stroke crossing the wall, and is dropped."""


@dataclass(frozen=True, slots=True)
class CombField:
    """A comb field found on a page.

    The geometry is in the pixels of :attr:`ink`, the field's own crop of the page turned so
    that its rules are level; :meth:`to_page` maps a box of it back to the page.

    Attributes
    ----------
    box : Box
        The frame: from the first wall to the last, from the top rule to the bottom one.
    cells : tuple of Box
        Each cell's interior, left to right (between the walls and between the rules).
    walls : tuple of tuple of int
        Each wall's ``(x0, x1)`` columns (``x1`` exclusive), left to right:
        ``len(cells) + 1`` of them.
    rules : tuple of tuple of int
        The top and bottom rule's ``(y0, y1)`` rows (``y1`` exclusive).
    ink : ndarray of uint8, shape (h, w)
        255 = ink: the crop, rules and walls included.
    affine : ndarray of float64, shape (2, 3)
        Maps ``(x, y, 1)`` of :attr:`ink` to page pixels.
    soft : ndarray of uint8, shape (h, w), or None
        The same crop in gray levels as ink darkness (0 = paper, 255 = ink; :func:`soft_ink`),
        when :func:`find_combs` was given the gray page.
    """

    box: Box
    cells: tuple[Box, ...]
    walls: tuple[tuple[int, int], ...]
    rules: tuple[tuple[int, int], ...]
    ink: NDArray[np.uint8]
    affine: NDArray[np.float64]
    soft: NDArray[np.uint8] | None = None

    def to_page(self, box: Box) -> Box:
        """Return the page box enclosing ``box`` (in :attr:`ink`'s pixels) once mapped back."""
        xs = np.array([box.x0, box.x1, box.x1, box.x0], np.float64)
        ys = np.array([box.y0, box.y0, box.y1, box.y1], np.float64)
        px = self.affine[0, 0] * xs + self.affine[0, 1] * ys + self.affine[0, 2]
        py = self.affine[1, 0] * xs + self.affine[1, 1] * ys + self.affine[1, 2]
        return Box(
            int(np.floor(px.min())),
            int(np.floor(py.min())),
            int(np.ceil(px.max())),
            int(np.ceil(py.max())),
        )

    @property
    def cell_height(self) -> int:
        """The cells' inner height in pixels."""
        return self.cells[0].height


def _runs(flags: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Return ``(start, end)`` (end exclusive) of every run of True in a 1-D array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _spread(mask: NDArray[np.bool_], axis: int, k: int) -> NDArray[np.bool_]:
    """Return ``mask`` dilated by ``k`` pixels either way along ``axis`` (only)."""
    import cv2

    size = (1, 2 * k + 1) if axis == 0 else (2 * k + 1, 1)  # (width, height) of the element
    element = cv2.getStructuringElement(cv2.MORPH_RECT, size)
    return np.asarray(cv2.dilate(mask.astype(np.uint8), element), bool)


TRIM = 0.8
"""A line's run of rows is trimmed to the rows holding at least this share of its densest
row's ink: the line itself, not the characters' strokes crowding along it in small cells."""


def _lines(mask: NDArray[np.bool_], axis: int, spread: int, share: float) -> list[tuple[int, int]]:
    """Return the runs of rows (``axis=0``) or columns (``axis=1``) holding a line across ``mask``.

    A row counts when, within ``spread`` pixels (residual skew), ink covers ``share`` of the
    mask's width; each run is then trimmed to its rows whose own ink covers half that share
    and :data:`TRIM` of the run's densest row (the line itself, not its spread), and split
    where those rows are more than ``2 * spread + 1`` apart (in a comb of small cells filled
    with characters every row between the two rules can hold a line within its spread: the
    rules are the densest rows at its ends).
    """
    other = 1 - axis
    wide = _spread(mask, axis, spread).mean(axis=other) >= share
    own = mask.mean(axis=other)
    out = []
    for a, b in _runs(wide):
        seg = np.flatnonzero(own[a:b] >= max(share / 2, TRIM * float(own[a:b].max())))
        if not len(seg):
            k = a + int(np.argmax(own[a:b]))
            out.append((k, k + 1))
            continue
        cuts = np.flatnonzero(np.diff(seg) > 2 * spread + 1)
        for part in np.split(seg, cuts + 1):
            out.append((a + int(part[0]), a + int(part[-1]) + 1))
    return out


def _regular_walls(walls: list[tuple[int, int]], min_cells: int) -> list[tuple[int, int]] | None:
    """Return the walls of the most equal cells from the first wall to the last, or None.

    With ``n`` cells the walls are expected every ``(last - first) / n`` pixels; the largest
    ``n`` for which a wall run lies near every expected position wins, ``n`` up to
    :data:`MERGED_WALLS` more than the runs found (a character touching two walls of a small
    cell joins them into one run). A run wider than a wall
    (a character touching it) is cut down to the walls' median width around the expected
    position.
    """
    if len(walls) < min_cells + 1:
        return None
    a = np.array([w[0] for w in walls], np.float64)
    b = np.array([w[1] for w in walls], np.float64)
    pen = float(np.median(b - a))
    left, right = (a[0] + b[0]) / 2, (a[-1] + b[-1]) / 2
    for n in range(len(walls) - 1 + MERGED_WALLS, min_cells - 1, -1):
        pitch = (right - left) / n
        if pitch < MIN_CELL_PX or pen > 0.5 * pitch:
            continue
        tol = max(2.0, PITCH_TOLERANCE * pitch)
        chosen = []
        for j in range(n + 1):
            e = left + j * pitch
            d = np.maximum(np.maximum(a - e, e - b), 0.0)  # 0 inside a run
            k = int(np.argmin(d))
            if d[k] > tol:
                break
            lo, hi = max(a[k], e - pen / 2), min(b[k], e + pen / 2)
            chosen.append((round(min(lo, hi)), max(round(max(lo, hi)), 1)))
        else:
            return chosen
    return None


_Geometry = tuple[Box, tuple[Box, ...], tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]
"""``(box, cells, walls, rules)`` of one comb, as :class:`CombField` holds them."""


def _combs_of(mask: NDArray[np.bool_], min_cells: int) -> list[_Geometry]:
    """Combs in a levelled component's mask: ``(box, cells, walls, rules)`` of each."""
    rules = _lines(mask, 0, 2, RULE_SHARE)
    out: list[_Geometry] = []
    for (t0, t1), (b0, b1) in itertools.pairwise(rules):
        inner = b0 - t1
        if inner < MIN_CELL_PX or max(t1 - t0, b1 - b0) > RULE_MAX * inner:
            continue
        walls = _lines(mask[t1:b0], 1, 1, WALL_SHARE)
        chosen = _regular_walls(walls, min_cells)
        if chosen is None:
            continue
        pitch = (chosen[-1][0] - chosen[0][0]) / (len(chosen) - 1)
        if not 0.35 <= pitch / inner <= 2.5:
            continue
        cells = tuple(Box(a[1], t1, b[0], b0) for a, b in itertools.pairwise(chosen) if b[0] > a[1])
        if len(cells) != len(chosen) - 1:
            continue
        box = Box(chosen[0][0], t0, chosen[-1][1], b1)
        out.append((box, cells, tuple(chosen), ((t0, t1), (b0, b1))))
    return out


SKEW_RANGE = 3.0
"""Degrees either way a comb may be turned on the page (after the page's own levelling)."""


def _skew_of(mask: NDArray[np.bool_]) -> float:
    """Return the angle (degrees) that levels a component's rules: the sharpest row profile."""
    ys, xs = np.nonzero(mask)
    xs = xs - xs.mean()
    best, best_a = -1.0, 0.0
    for a in np.arange(-SKEW_RANGE, SKEW_RANGE + 1e-9, 0.25):
        rows = np.round(ys - np.tan(np.radians(a)) * xs).astype(np.int64)
        hist = np.bincount(rows - rows.min()).astype(np.float64)
        score = float((hist * hist).sum())
        if score > best:
            best, best_a = score, float(a)
    return best_a


def _level_crop(
    raw: NDArray[np.uint8],
    labels: NDArray[np.int32],
    k: int,
    stat: NDArray[np.int32],
    soft: NDArray[np.uint8] | None,
) -> tuple[NDArray[np.uint8], NDArray[np.bool_], NDArray[np.float64], NDArray[np.uint8] | None]:
    """Crop component ``k`` with a margin, turned level: ``(ink, own mask, affine, soft)``."""
    import cv2

    x, y, w, h = (int(v) for v in stat[:4])
    pad = max(4, h // 2)
    rows, cols = raw.shape
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + w + pad, cols), min(y + h + pad, rows)
    ink = raw[y0:y1, x0:x1]
    own = (labels[y0:y1, x0:x1] == k).astype(np.uint8)
    shade = None if soft is None else soft[y0:y1, x0:x1]
    angle = _skew_of(own > 0)
    back = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]])
    if angle == 0.0:
        return ink, own > 0, back, shade
    centre = ((x1 - x0) / 2, (y1 - y0) / 2)
    rot = cv2.getRotationMatrix2D(centre, angle, 1.0)
    size = (x1 - x0, y1 - y0)
    turned = np.asarray(cv2.warpAffine(ink, rot, size, flags=cv2.INTER_NEAREST), np.uint8)
    own_turned = np.asarray(cv2.warpAffine(own, rot, size, flags=cv2.INTER_NEAREST), np.uint8)
    if shade is not None:
        shade = np.asarray(cv2.warpAffine(shade, rot, size, flags=cv2.INTER_LINEAR), np.uint8)
    inv = np.asarray(cv2.invertAffineTransform(rot), np.float64)
    inv[:, 2] += (x0, y0)
    return turned, own_turned > 0, inv, shade


def soft_ink(gray: NDArray[np.uint8], raw: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Return the gray page as ink darkness: 0 at the paper's level, 255 at the ink's.

    The paper's level is the median gray of the pixels ``raw`` calls background, the ink's the
    10th percentile (towards the ink) of those it calls ink; either polarity.

    Parameters
    ----------
    gray : ndarray of uint8, shape (H, W)
    raw : ndarray of uint8, shape (H, W)
        Its binarisation, 255 = ink.

    Returns
    -------
    ndarray of uint8, shape (H, W)
    """
    on = raw > 0
    if not on.any() or on.all():
        return ((raw > 0) * 255).astype(np.uint8)
    paper = float(np.median(gray[~on]))
    inked = gray[on].astype(np.float32)
    ink = float(np.percentile(inked, 10 if paper > inked.mean() else 90))
    if abs(paper - ink) < 1:
        return ((raw > 0) * 255).astype(np.uint8)
    dark = (gray.astype(np.float32) - paper) / (ink - paper)
    return np.asarray(np.clip(dark, 0.0, 1.0) * 255, np.uint8)


def find_combs(
    raw: NDArray[np.uint8],
    *,
    gray: NDArray[np.uint8] | None = None,
    min_cells: int = MIN_CELLS,
) -> list[CombField]:
    """Find the comb fields of a binarised page.

    Parameters
    ----------
    raw : ndarray of uint8, shape (H, W)
        255 = ink, *before* ruled-line removal (:func:`handocr.preprocess.ink_map` with
        ``remove_lines=False``). Each candidate component is levelled on its own (up to
        :data:`SKEW_RANGE` degrees either way).
    gray : ndarray of uint8, shape (H, W), optional
        The gray page ``raw`` was binarised from: each comb then carries its crop as ink
        darkness (:attr:`CombField.soft`), which :func:`cell_pieces` reads small characters from.
    min_cells : int
        Fewest cells of a comb, >= 2.

    Returns
    -------
    list of CombField
        Sorted by their page box's top, then left; empty when the page has none.
    """
    import cv2

    if raw.ndim != 2 or raw.size == 0:
        return []
    ink = ((raw > 0) * 255).astype(np.uint8)
    n, found, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    labels: NDArray[np.int32] = np.asarray(found, np.int32)
    out: list[CombField] = []
    soft: NDArray[np.uint8] | None = None
    for k in range(1, n):
        w, h = int(stats[k, 2]), int(stats[k, 3])
        if h < MIN_CELL_PX + 2 or w < min_cells * MIN_CELL_PX or w < 1.5 * h:
            continue
        if stats[k, cv2.CC_STAT_AREA] > MAX_FILL * w * h:
            continue  # a blot or a filled band, not a frame of thin lines
        if soft is None and gray is not None:
            soft = soft_ink(gray, ink)
        crop, own, affine, shade = _level_crop(ink, labels, k, stats[k], soft)
        ys, xs = np.nonzero(own)
        if len(ys) == 0:
            continue
        oy, ox = int(ys.min()), int(xs.min())
        mask = own[oy : ys.max() + 1, ox : xs.max() + 1]
        for box, cells, walls, rules in _combs_of(mask, min_cells):
            out.append(
                CombField(
                    _moved(box, ox, oy),
                    tuple(_moved(c, ox, oy) for c in cells),
                    tuple((a + ox, b + ox) for a, b in walls),
                    tuple((a + oy, b + oy) for a, b in rules),
                    crop,
                    affine,
                    shade,
                )
            )
    return sorted(out, key=lambda c: (c.to_page(c.box).y0, c.to_page(c.box).x0))


def _moved(b: Box, dx: int, dy: int) -> Box:
    return Box(b.x0 + dx, b.y0 + dy, b.x1 + dx, b.y1 + dy)


def comb_lines(comb: CombField, shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Return the pixels of the comb's rules and walls to erase.

    Their rows and columns across the comb, as :func:`find_combs` measured them (the blurred
    edge beyond is left to the filters of :func:`cell_pieces`).

    Sparing a rule's pixels under strokes that reach it (the foot of an ``L`` on the bottom
    rule) was tried and read worse on synthetic combs: the stubs of rule it leaves under every
    touching stroke cost more than it saved, and the classifier's confidence did not tell the
    better cut. So did keeping walls where a stroke lies along them (they read as a bar:
    ``I`` -> ``L``) and restoring strokes across them (two characters touching a wall from both
    sides get welded).

    Parameters
    ----------
    comb : CombField
    shape : (int, int)
        ``(h, w)`` of :attr:`CombField.ink`.

    Returns
    -------
    ndarray of bool, shape (h, w)
    """
    h, w = shape
    out = np.zeros(shape, bool)
    x0, x1 = max(comb.box.x0, 0), min(comb.box.x1, w)
    y0, y1 = max(comb.box.y0, 0), min(comb.box.y1, h)
    (t0, t1), (b0, b1) = comb.rules[0], comb.rules[-1]
    for a, b in ((t0, t1), (b0, b1)):
        out[a:b, x0:x1] = True
    for a, b in comb.walls:
        out[y0:y1, a:b] = True
        for r0, r1 in comb.rules:  # the corners, where a wall meets a rule
            out[r0:r1, a:b] = True
    return out


def _give_fragments_back(
    comb: CombField, stats: NDArray[np.int32], x0: int, cell_of: dict[int, int]
) -> None:
    """Move the pieces of a character that the erased wall cut off back to its cell.

    A component touching a wall goes to the cell across it when a component there touches the
    same wall at overlapping rows and is at least ``1 / FRAGMENT_SHARE`` times larger: the tip of
    a stroke that crossed the wall, not a character of its own.
    """
    touching: dict[int, list[tuple[int, int, int, int]]] = {}  # wall -> (k, side, r0, r1)
    for k in cell_of:
        sx, sy, sw, sh, _ = (int(v) for v in stats[k])
        left, right = sx + x0, sx + x0 + sw
        for w, (a, b) in enumerate(comb.walls):
            if abs(right - a) <= 1:
                touching.setdefault(w, []).append((k, -1, sy, sy + sh))
            elif abs(left - b) <= 1:
                touching.setdefault(w, []).append((k, 1, sy, sy + sh))
    area = {k: int(stats[k, 4]) for k in cell_of}
    for items in touching.values():
        for k, side, r0, r1 in items:
            across = [
                q
                for q, s2, q0, q1 in items
                if s2 != side and q0 < r1 and r0 < q1 and area[k] < FRAGMENT_SHARE * area[q]
            ]
            if across:
                cell_of[k] = cell_of[max(across, key=lambda q: area[q])]


def cell_pieces(comb: CombField) -> list[Piece | None]:
    """Cut each cell's character out of the comb's levelled crop, as the classifier reads it.

    The comb's rules and walls are erased; the ink left (up to :data:`OVERHANG` cell heights
    above and below the rules, and half a cell beyond the end walls) falls into connected
    components. Each component goes to the cell its centre of ink lies in, the tip of a stroke
    that crossed a wall back to its character's cell (:func:`_give_fragments_back`); components
    lying wholly within two pixels of the erased lines (the rest of a blurred rule) are
    dropped, and so are, in a cell, components with less than :data:`FRAGMENT_SHARE` of the
    largest one's ink (specks, the tip of a neighbour's stroke).

    When the comb carries its gray levels (:attr:`CombField.soft`), the piece holds the ink's
    darkness under the kept components and a one-pixel rim (not the binary mask): a character
    of 8-15 px keeps the holes and thin strokes that binarisation fills or breaks (characters
    misread in cells of 10-19 px: 0.31 -> 0.20, ``python benchmarks/comb_fields.py --cells
    [--binary] --n 150``, M2). Filling the erased lines' pixels from their surroundings
    (OpenCV's Telea inpainting) to give back strokes lying on a rule was tried and read worse.

    Parameters
    ----------
    comb : CombField

    Returns
    -------
    list of Piece or None
        Per cell, left to right, in the crop's pixels (:meth:`CombField.to_page` maps the box
        to the page): its character, or None for an empty cell (less ink than
        :data:`EMPTY_SHARE` of its area).
    """
    import cv2

    raw = comb.ink
    height, width = raw.shape
    ih = comb.cell_height
    n_cells = len(comb.cells)
    pitch = (comb.walls[-1][0] - comb.walls[0][0]) / n_cells
    over = round(OVERHANG * ih)
    y0, y1 = max(comb.box.y0 - over, 0), min(comb.box.y1 + over, height)
    x0, x1 = max(round(comb.box.x0 - pitch / 2), 0), min(round(comb.box.x1 + pitch / 2), width)
    whole = raw > 0
    shade = None if comb.soft is None else comb.soft[y0:y1, x0:x1]
    lines = comb_lines(comb, whole.shape)[y0:y1, x0:x1]
    crop = whole[y0:y1, x0:x1] & ~lines
    n, parts, part_stats, cents = cv2.connectedComponentsWithStats(
        crop.astype(np.uint8), connectivity=8
    )
    labels: NDArray[np.int32] = np.asarray(parts, np.int32)
    stats: NDArray[np.int32] = np.asarray(part_stats, np.int32)
    near = cv2.dilate(lines.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    off_line = np.bincount(labels[crop & ~near], minlength=n)  # pixels clear of the lines
    top, bottom = comb.cells[0].y0 - y0, comb.cells[0].y1 - y0
    first_wall = (comb.walls[0][0] + comb.walls[0][1]) / 2
    kept = []
    for k in range(1, n):
        area, r0 = int(stats[k, cv2.CC_STAT_AREA]), int(stats[k, 1])
        r1 = r0 + int(stats[k, 3])
        if area < 2 or r1 <= top or r0 >= bottom or off_line[k] == 0:
            continue  # a speck, a label above or the next field below, a rest of a line
        kept.append(k)
    cell_of = {
        k: int(np.clip((cents[k, 0] + x0 - first_wall) // pitch, 0, n_cells - 1)) for k in kept
    }
    _give_fragments_back(comb, stats, x0, cell_of)
    cells: list[list[tuple[int, int]]] = [[] for _ in range(n_cells)]  # (area, label)
    for k, j in cell_of.items():
        cells[j].append((int(stats[k, cv2.CC_STAT_AREA]), k))
    out: list[Piece | None] = []
    for cell, held in zip(comb.cells, cells, strict=True):
        biggest = max((a for a, _ in held), default=0)
        keep = [k for a, k in held if a >= FRAGMENT_SHARE * biggest]
        ink = np.isin(labels, keep) if keep else None
        if ink is None or ink.sum() < max(EMPTY_SHARE * cell.width * ih, 3):
            out.append(None)
            continue
        if shade is not None:  # the gray levels under the kept ink and its rim
            rim = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            level = np.where(rim & ~lines, shade, 0).astype(np.uint8)
        else:
            level = ink.astype(np.uint8) * 255
        ys, xs = np.nonzero(level)
        box = Box(
            x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1
        )
        mask = np.ascontiguousarray(level[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
        out.append(Piece(box, mask))
    return out
