"""Line crops for the line members: each line cut from the gray page, dark ink on light paper.

The segmentation gives each line's glyphs; a line member (:mod:`handocr.models.line`) reads the
line's pixels around them. :func:`line_crop` cuts a line in one of two views (tight around the
ink, or wide with its context), paints over the ruling the binarisation removed, and
:func:`line_bands` keeps a crop from reaching into the lines above and below.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box

__all__ = [
    "CROP_ROWS",
    "MIN_TEXT_SHARE",
    "SEARCH_X",
    "SEARCH_Y",
    "TEXT_SHARE",
    "line_bands",
    "line_crop",
]

SEARCH_X, SEARCH_Y = 2.0, 1.0
"""Ink this far from a line's glyphs (in line heights; vertically at most halfway to the next
line) belongs to its crop: strokes the layout set apart as marks are still the line's."""
TEXT_SHARE = 0.75
"""The line's ink fills this share of the crop's rows (paper above and below) ... Chosen on
2026-12-06 with ad-hoc scripts (not kept) reading with PP-OCRv5's CTC score alone: 300 ORAND
train images gave 0.117 at 0.67 and 0.121 at 0.75 (the same within noise), kaggle_names_more
0.026 at each (its small writing is governed by the rule below), and the 30 NIST fields, an
evaluation set, 0.066 at 0.67 and 0.044 at 0.75: the choice leaned on that small set, so the
sets kept aside are its real check."""
CROP_ROWS = 48
"""The line members' input height (PP-OCRv5's), pixels."""
MIN_TEXT_SHARE = 0.35
"""... or less, down to this share, where the crop would otherwise be under the line member's
input height: small writing is padded with paper rather than enlarged."""


def line_crop(
    gray: NDArray[np.uint8],
    ink: NDArray[np.uint8],
    box: Box,
    height: float,
    rows: tuple[int, int] | None = None,
    view: str = "tight",
    *,
    alone: bool = False,
) -> tuple[NDArray[np.uint8], int]:
    """Cut a line from the gray page with paper margins, dark ink on light paper.

    Two views of a line: ``tight``, the line's ink (and ink near it) with paper around it so
    that the ink fills :data:`TEXT_SHARE` of the rows; ``wide``, everything within
    :data:`SEARCH_X` line heights left and right and :data:`SEARCH_Y` above and below (at most
    halfway to the next line), or the whole page when the line is its only one: the context a
    field image has around its writing. A line member
    may read both (its manifest ``input.views``) and be scored by each, a test-time-augmented
    member; ``handocr fit-fusion`` keeps the wide view only where it pays on held-out train
    images (docs/results.md).

    Parameters
    ----------
    gray : ndarray of uint8, shape (H, W)
        The levelled gray page (:attr:`handocr.preprocess.LevelledPage.gray`), either polarity.
    ink : ndarray of uint8, shape (H, W)
        Its ink map (255 = ink), which tells the polarity.
    box : Box
        The line's glyphs' enclosing box.
    height : float
        The line's glyph height, pixels (scales :data:`SEARCH_X`, :data:`SEARCH_Y`).
    rows : (int, int), optional
        The band of page rows the crop may take (halfway to the lines above and below).
    view : {"tight", "wide"}
    alone : bool
        The line is the page's only one (a field image): its ``wide`` view is the whole page.

    Returns
    -------
    (ndarray of uint8, int)
        The crop (within the page) and the page column of its first column.
    """
    top, bottom = rows if rows is not None else (0, gray.shape[0])
    h, w = gray.shape

    def region(b: Box, fx: float, fy: float) -> tuple[int, int, int, int]:
        mx, my = round(fx * height) + 1, round(fy * height) + 1
        y0 = max(0, min(b.y0, max(top, b.y0 - my)))
        y1 = min(h, max(b.y1, min(bottom, b.y1 + my)))
        return max(0, b.x0 - mx), y0, min(w, b.x1 + mx), y1

    # the line's own ink and any ink near it (strokes the layout set apart) ...
    x0, y0, x1, y1 = region(box, SEARCH_X, SEARCH_Y)
    if view == "wide" and alone:
        x0, y0, x1, y1 = 0, 0, w, h  # the page's only line: the whole field image
    if view == "wide":
        return _without_rules(gray[y0:y1, x0:x1], ink[y0:y1, x0:x1] > 0, height), x0
    ys, xs = np.nonzero(ink[y0:y1, x0:x1])
    if len(ys):
        near = Box(x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1,
                   y0 + int(ys.max()) + 1)  # fmt: skip
        box = box.union(near)
    # ... with paper around it, so that the ink fills TEXT_SHARE of the crop's rows without
    # blowing small writing up beyond the line member's height
    t = box.height
    rows_wanted = max(t / TEXT_SHARE, min(float(CROP_ROWS), t / MIN_TEXT_SHARE))
    my = max(1, round((rows_wanted - t) / 2))
    mx = my + round(0.25 * t)
    x0, x1 = max(0, box.x0 - mx), min(w, box.x1 + mx)
    y0 = max(0, min(box.y0, max(top, box.y0 - my)))
    y1 = min(h, max(box.y1, min(bottom, box.y1 + my)))
    mask = ink[y0:y1, x0:x1] > 0
    crop = _without_rules(gray[y0:y1, x0:x1], mask, height)
    paper = int(np.median(crop[~mask])) if (~mask).any() else 255
    import cv2

    need = round(rows_wanted) - crop.shape[0]
    if need > 0:  # the page ends: paper beyond it
        padded = cv2.copyMakeBorder(crop, need // 2, need - need // 2, 0, 0, cv2.BORDER_CONSTANT,
                                    value=paper)  # fmt: skip
        return np.ascontiguousarray(padded, np.uint8), x0
    return np.ascontiguousarray(crop), x0


def _without_rules(
    crop: NDArray[np.uint8], ink: NDArray[np.bool_], height: float
) -> NDArray[np.uint8]:
    """Return the crop dark on light, with the ruling the ink map left out painted over.

    Form lines and box walls are structure, not characters: the binarisation removed them from
    the ink map (:func:`handocr.preprocess.ink_map`), but they stay in the gray page, where a line
    member reads a box wall as ``1`` or ``I``. Dark straight runs at least 1.5 line heights long
    (a morphological opening) that are not ink become paper.
    """
    import cv2

    if ink.any() and (~ink).any() and crop[ink].mean() > crop[~ink].mean():
        crop = 255 - crop  # light ink on dark paper
    out: NDArray[np.uint8] = np.ascontiguousarray(crop, np.uint8)
    if out.size == 0 or not (~ink).any():
        return out
    paper = int(np.median(out[~ink]))
    _, dark = cv2.threshold(out, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    k = max(5, round(1.5 * height))
    lines = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, k), np.uint8))
    lines = np.maximum(lines, cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((k, 1), np.uint8)))
    near_ink = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    rules = (cv2.dilate(lines, np.ones((3, 3), np.uint8)) > 0) & ~near_ink
    if rules.any():
        out = out.copy()
        out[rules] = paper
    return out


def line_bands(boxes: Sequence[Box]) -> list[tuple[int, int]]:
    """Per line box, the rows halfway to the nearest lines above and below that overlap it.

    Parameters
    ----------
    boxes : sequence of Box
        The page's line boxes.

    Returns
    -------
    list of (int, int)
        ``(top, bottom)`` page rows; ``(-1, huge)`` where no line bounds it.
    """
    out = []
    for k, b in enumerate(boxes):
        top, bottom = -1, 1 << 30
        for m, o in enumerate(boxes):
            if m == k or o.x1 <= b.x0 or o.x0 >= b.x1:
                continue
            if o.y1 <= b.y0:
                top = max(top, (o.y1 + b.y0) // 2)
            elif o.y0 >= b.y1:
                bottom = min(bottom, (o.y0 + b.y1 + 1) // 2)
        out.append((top, bottom))
    return out
