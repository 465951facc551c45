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

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box

if TYPE_CHECKING:
    from handocr.segment.components import Piece

__all__ = [
    "BORDER_PX",
    "FRAME_PX",
    "INPUT_PX",
    "INPUT_SHAPE",
    "BLUR_SIGMA_PX",
    "frame_operator",
    "normalise_glyph",
    "pieces_to_model_input",
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
INPUT_SHAPE: tuple[int, int, int] = (1, INPUT_PX, INPUT_PX)
"""``(channels, height, width)`` of one model input crop: every member's ``input_size``."""


@functools.lru_cache(maxsize=1)
def frame_operator() -> NDArray[np.float32]:
    """Return the blur-then-resample step of the recipe as one matrix, applied along each axis.

    OpenCV's ``GaussianBlur(frame, (0, 0), BLUR_SIGMA_PX)`` (9 taps, reflect-101 border) and
    ``resize(..., (28, 28), INTER_AREA)`` are both separable and linear, so on a
    ``FRAME_PX`` x ``FRAME_PX`` frame ``F`` they equal ``M @ F @ M.T`` with ``M`` built here by
    applying the two OpenCV operations to the identity along one axis (tested equal to the
    two calls within 1e-5). Only the columns of ``M`` under the glyph are then needed.

    Returns
    -------
    ndarray of float32, shape (INPUT_PX, FRAME_PX)
    """
    import cv2

    eye = np.eye(FRAME_PX, dtype=np.float32)
    taps = cv2.getGaussianKernel(9, BLUR_SIGMA_PX, cv2.CV_32F)  # OpenCV's size for sigma 1
    one = np.ones((1, 1), np.float32)
    blur = cv2.sepFilter2D(eye, -1, one, taps, borderType=cv2.BORDER_REFLECT_101)
    area = cv2.resize(eye, (FRAME_PX, INPUT_PX), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(area @ blur, dtype=np.float32)


def normalise_glyph(glyph: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Normalise one character image the EMNIST way.

    The region of interest is scaled (aspect ratio kept) to fit ``FRAME_PX - 2 * BORDER_PX``,
    centred in a ``FRAME_PX`` square frame, blurred (sigma :data:`BLUR_SIGMA_PX`) and area-
    resampled to ``INPUT_PX``; the last two steps run as :func:`frame_operator` products.

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

    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(glyph))
    if w == 0 or h == 0:
        return np.zeros((INPUT_PX, INPUT_PX), np.float32)
    roi = glyph[y : y + h, x : x + w]
    inner = FRAME_PX - 2 * BORDER_PX
    scale = inner / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    big = cv2.resize(roi.astype(np.float32), (nw, nh), interpolation=interp)
    y0, x0 = (FRAME_PX - nh) // 2, (FRAME_PX - nw) // 2
    m = frame_operator()
    small = m[:, y0 : y0 + nh] @ big @ m[:, x0 : x0 + nw].T
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
        (:func:`handocr.segment.candidate_mask`); when given it replaces the plain crop, so that
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
    from threadpoolctl import threadpool_limits

    if masks is not None and len(masks) != len(boxes):
        raise ValueError(f"{len(masks)} masks for {len(boxes)} boxes")
    out = np.zeros((len(boxes), *INPUT_SHAPE), np.float32)
    h, w = ink.shape[:2]
    # The small matrix products must not wake BLAS threads: they would spin on the cores
    # that the classifier needs right after.
    with threadpool_limits(limits=1, user_api="blas"):
        for i, b in enumerate(boxes):
            if masks is not None:
                crop = masks[i]
                if crop.shape != (b.height, b.width):
                    raise ValueError(
                        f"mask {i} has shape {crop.shape}, box is {b.height}x{b.width}"
                    )
            else:
                crop = ink[max(0, b.y0) : min(h, b.y1), max(0, b.x0) : min(w, b.x1)]
            if crop.size:
                out[i, 0] = normalise_glyph(crop)
    return out


def pieces_to_model_input(pieces: Sequence[Piece]) -> NDArray[np.float32]:
    """Normalise segmented character candidates into one batch (:func:`to_model_input`).

    Parameters
    ----------
    pieces : sequence of Piece
        Boxes with their own ink (:class:`handocr.segment.Piece`).

    Returns
    -------
    ndarray of float32, shape (N, 1, 28, 28)
        Values in ``[0, 1]``, ink 1.0, upright.
    """
    empty = np.zeros((1, 1), np.uint8)  # every crop comes from its mask
    return to_model_input(empty, [p.box for p in pieces], [p.mask for p in pieces])
