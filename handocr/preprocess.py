"""Page clean-up: polarity detection, Otsu binarisation, ruled-line removal, speckle removal."""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

__all__ = ["MIN_CONTRAST", "ink_map", "remove_ruled_lines"]

log = logging.getLogger(__name__)

MIN_CONTRAST = 40
"""Pages whose gray levels span less than this (0-255 scale) are treated as blank."""


def ink_map(
    page: NDArray[np.uint8], *, remove_lines: bool = True, hysteresis: float | None = 0.6
) -> NDArray[np.uint8]:
    """Binarise a gray page into an ink map, whatever its polarity.

    Otsu's threshold (Otsu 1979) splits the gray levels; the larger class is the background, so
    dark-on-light and light-on-dark pages give the same map. Faint strokes are then completed by
    hysteresis thresholding (scikit-image's ``apply_hysteresis_threshold``): pixels above a lower
    threshold are kept where they connect to pixels above Otsu's. The lower threshold lies
    ``hysteresis`` of the way from the background's median level to Otsu's, but never within four
    standard deviations of the background, so a textured background does not leak into the ink.
    Long straight runs inside line-sized components (form boxes, ruled lines) are removed when
    ``remove_lines``.

    Parameters
    ----------
    page : ndarray of uint8, shape (H, W)
        Gray page, 0 = black.
    remove_lines : bool
        Remove ruled lines and box borders (:func:`remove_ruled_lines`).
    hysteresis : float in (0, 1], or None
        Position of the lower threshold between background and Otsu's; None (or 1) disables it.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        255 where there is ink, 0 elsewhere. A page with less than :data:`MIN_CONTRAST` gray
        levels of contrast is blank (all 0).

    Raises
    ------
    ValueError
        ``page`` is not a 2-D uint8 array.

    Examples
    --------
    >>> page = np.full((20, 20), 255, np.uint8); page[5:15, 9:11] = 0
    >>> int(ink_map(page).sum() // 255), int(ink_map(255 - page).sum() // 255)
    (20, 20)
    """
    import cv2

    if page.ndim != 2 or page.dtype != np.uint8:
        raise ValueError(f"expected an (H, W) uint8 page, got {page.shape} {page.dtype}")
    lo, hi = (int(v) for v in cv2.minMaxLoc(page)[:2])
    if hi - lo < MIN_CONTRAST:
        return np.zeros_like(page)
    t, _ = cv2.threshold(page, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    dark = page <= t
    dark_ink = dark.mean() <= 0.5
    ink = dark if dark_ink else ~dark
    if hysteresis is not None and 0 < hysteresis < 1:
        ink = _hysteresis(page, ink, float(t), dark_ink, hysteresis)
    out = ink.astype(np.uint8) * 255
    if remove_lines:
        out = remove_ruled_lines(out)
    return out


def _hysteresis(
    page: NDArray[np.uint8], ink: NDArray[np.bool_], t: float, dark_ink: bool, frac: float
) -> NDArray[np.bool_]:
    from skimage.filters import apply_hysteresis_threshold

    # work in "inkness": higher = more ink
    level = 255.0 - page.astype(np.float32) if dark_ink else page.astype(np.float32)
    high = 255.0 - t if dark_ink else t + 1.0
    background = level[~ink]
    if background.size == 0:
        return ink
    bg, noise = float(np.median(background)), float(background.std())
    low = max(bg + frac * (high - bg), bg + 4.0 * noise)
    if low >= high:
        return ink
    return np.asarray(apply_hysteresis_threshold(level, low, high - 0.5), dtype=bool)


def remove_ruled_lines(ink: NDArray[np.uint8], *, span: float = 3.0) -> NDArray[np.uint8]:
    """Erase ruled lines, underlines and box borders, keeping the characters they enclose.

    Let ``h`` be the median height of the page's connected components (the character height on a
    page of text). A component at least ``span * h`` wide (or high) is a line, a box, or a
    character stuck to one; within such components only, straight runs at least ``2 * h`` long
    (found by a morphological opening with a 1-pixel-thick line element) are erased, widened by
    one pixel. Components of character size are never touched, so the bar of a T or a long,
    thick 1 survives. Strokes that cross a line may be nicked where they overlap it.

    Parameters
    ----------
    ink : ndarray of uint8, shape (H, W)
        255 = ink.
    span : float
        Extent, in median component heights, from which a component may carry lines.

    Returns
    -------
    ndarray of uint8, shape (H, W)
    """
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 2:
        return ink
    widths, heights = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    sized = heights[heights >= 3]
    if not len(sized):
        return ink
    h_med = float(np.median(sized))
    run_px = max(10, round(2 * h_med))
    lines = np.zeros_like(ink)
    for horizontal, extent in ((True, widths), (False, heights)):
        carriers = np.concatenate([[False], extent >= span * h_med])
        if not carriers.any():
            continue
        size = (run_px, 1) if horizontal else (1, run_px)
        element = cv2.getStructuringElement(cv2.MORPH_RECT, size)
        opened = cv2.morphologyEx(ink, cv2.MORPH_OPEN, element)
        lines[(opened > 0) & carriers[labels]] = 255
    if not lines.any():
        return ink
    widened = cv2.dilate(lines, np.ones((3, 3), np.uint8))
    log.debug("removed %d ruled-line pixels (run >= %d px)", int(np.count_nonzero(widened)), run_px)
    return np.where(widened > 0, 0, ink).astype(np.uint8)
