"""Character crops -> model input, normalised exactly as EMNIST was made.

This module is the single owner of the EMNIST convention (Cohen et al. 2017, "EMNIST: an
extension of MNIST to handwritten letters", arXiv:1702.05373, section II-A): the character's
region of interest is centred in a square frame with its aspect ratio kept and a border
at the 128x128 scale of the NIST source images (the border measured on the released data, see
:data:`BORDER_PX`), blurred with a Gaussian of sigma 1 at that scale,
and resampled to 28x28; intensities are then scaled to the full range. Output is upright, white ink
on black, like the training images after :func:`handocr.train.data.load_emnist` transposes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box

__all__ = [
    "BORDER_PX",
    "FRAME_PX",
    "INPUT_PX",
    "BLUR_SIGMA_PX",
    "normalise_glyph",
    "to_model_input",
]

FRAME_PX = 128  # NIST SD19 character frame, the scale at which EMNIST's recipe is stated
BORDER_PX = 12
"""Border around the region of interest at FRAME_PX scale.

Cohen et al. state 2 px, but the released images do not show it: on emnist47 test the median
glyph spans 24 of 28 px (5th-95th percentile 22-26). Re-normalising binarised EMNIST glyphs
gives that framing, and a mean correlation of 0.945 with the originals, with a 12 px border
(0.64 with 2 px). ``benchmarks/calibrate_crops.py`` reproduces the measurement."""
BLUR_SIGMA_PX = 1.0  # Gaussian sigma at FRAME_PX scale
INPUT_PX = 28  # model input side


def normalise_glyph(glyph: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Normalise one character image the EMNIST way.

    Parameters
    ----------
    glyph : ndarray of uint8, shape (h, w)
        The character's ink, 255 = ink, 0 = background, cropped to (roughly) its bounding box.
        Any ``h, w >= 1``.

    Returns
    -------
    ndarray of float32, shape (28, 28)
        Ink 1.0 at its brightest, background 0.0, values in ``[0, 1]``; all zero if ``glyph``
        has no ink.
    """
    import cv2

    ys, xs = np.nonzero(glyph)
    if len(ys) == 0:
        return np.zeros((INPUT_PX, INPUT_PX), np.float32)
    roi = glyph[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = roi.shape
    inner = FRAME_PX - 2 * BORDER_PX
    scale = inner / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    big = cv2.resize(roi.astype(np.float32), (nw, nh), interpolation=interp)
    frame = np.zeros((FRAME_PX, FRAME_PX), np.float32)
    y0, x0 = (FRAME_PX - nh) // 2, (FRAME_PX - nw) // 2
    frame[y0 : y0 + nh, x0 : x0 + nw] = big
    blurred = cv2.GaussianBlur(frame, (0, 0), BLUR_SIGMA_PX)
    small = cv2.resize(blurred, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA)
    peak = float(small.max())
    if peak <= 0:
        return np.zeros((INPUT_PX, INPUT_PX), np.float32)
    return np.clip(small / peak, 0.0, 1.0).astype(np.float32)


def to_model_input(
    ink: NDArray[np.uint8],
    boxes: Sequence[Box],
    masks: Sequence[NDArray[np.uint8]] | None = None,
) -> NDArray[np.float32]:
    """Crop and normalise characters of a page into one batch.

    Parameters
    ----------
    ink : ndarray of uint8, shape (H, W)
        Ink map, 255 = ink (:func:`handocr.preprocess.ink_map`).
    boxes : sequence of Box
        Character boxes in page pixels; clipped to the page.
    masks : sequence of ndarray of uint8, optional
        One per box, shape ``(box.height, box.width)``: the character's own ink
        (:func:`handocr.segment.glyph_mask`); when given it replaces the plain crop, so that
        neighbours reaching into the box are left out.

    Returns
    -------
    ndarray of float32, shape (N, 1, 28, 28)
        Values in ``[0, 1]``, ink 1.0, upright. ``(0, 1, 28, 28)`` for no boxes.

    Raises
    ------
    ValueError
        ``masks`` is given with a length or a shape that does not match ``boxes``.
    """
    if masks is not None and len(masks) != len(boxes):
        raise ValueError(f"{len(masks)} masks for {len(boxes)} boxes")
    out = np.zeros((len(boxes), 1, INPUT_PX, INPUT_PX), np.float32)
    h, w = ink.shape[:2]
    for i, b in enumerate(boxes):
        if masks is not None:
            crop = masks[i]
            if crop.shape != (b.height, b.width):
                raise ValueError(f"mask {i} has shape {crop.shape}, box is {b.height}x{b.width}")
        else:
            crop = ink[max(0, b.y0) : min(h, b.y1), max(0, b.x0) : min(w, b.x1)]
        if crop.size:
            out[i, 0] = normalise_glyph(crop)
    return out
