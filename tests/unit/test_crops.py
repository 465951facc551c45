"""Crop normalisation: shapes, ranges, framing like EMNIST, and masks that drop neighbours."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handocr.crops import (
    BLUR_SIGMA_PX,
    BORDER_PX,
    FRAME_PX,
    INPUT_PX,
    normalise_glyph,
    pieces_to_model_input,
    to_model_input,
)
from handocr.result import Box
from handocr.segment.components import Piece


def test_empty_input_gives_empty_batch() -> None:
    out = to_model_input(np.zeros((10, 10), np.uint8), [])
    assert out.shape == (0, 1, 28, 28) and out.dtype == np.float32
    assert pieces_to_model_input([]).shape == (0, 1, 28, 28)


def test_glyph_is_centred_with_emnist_border() -> None:
    glyph = np.zeros((90, 30), np.uint8)
    glyph[:, 10:20] = 255  # a tall bar
    out = normalise_glyph(glyph)
    ys, xs = np.nonzero(out > 0.12)
    assert 22 <= ys.max() - ys.min() + 1 <= 26  # long side ~24 of 28, like EMNIST
    assert abs((ys.min() + ys.max()) / 2 - 13.5) <= 1
    assert abs((xs.min() + xs.max()) / 2 - 13.5) <= 1
    assert out.max() == 1.0
    assert not normalise_glyph(np.zeros((5, 5), np.uint8)).any()


def test_aspect_ratio_is_kept() -> None:
    wide = np.full((10, 60), 255, np.uint8)
    out = normalise_glyph(wide)
    ys, xs = np.nonzero(out > 0.12)
    assert (xs.max() - xs.min()) > 3 * (ys.max() - ys.min())


def _ink_columns(crop: np.ndarray) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of the crop's columns that hold ink (above 0.12)."""
    cols = np.flatnonzero((crop > 0.12).any(0))
    runs, start = [], cols[0]
    for a, b in itertools.pairwise(cols):
        if b != a + 1:
            runs.append((int(start), int(a)))
            start = b
    return [*runs, (int(start), int(cols[-1]))]


def test_mask_excludes_neighbour_ink() -> None:
    # a box over two bars; the mask holds the left one only
    ink = np.zeros((40, 40), np.uint8)
    ink[5:35, 5:10] = 255
    ink[5:35, 30:35] = 255
    box = Box(0, 0, 40, 40)
    mask = np.zeros((40, 40), np.uint8)
    mask[5:35, 5:10] = 255
    with_mask = to_model_input(ink, [box], [mask])[0, 0]
    plain = to_model_input(ink, [box])[0, 0]
    # the masked crop is the left bar framed alone: one centred bar, as if nothing stood beside it
    np.testing.assert_array_equal(with_mask, normalise_glyph(mask))
    (run,) = _ink_columns(with_mask)
    assert abs((run[0] + run[1]) / 2 - 13.5) <= 1 and run[1] - run[0] < 10
    # without it both bars are framed together: two runs, at the left and right edges
    left, right = _ink_columns(plain)
    assert left[0] <= 6 and right[1] >= 21
    # a Piece carries its mask the same way
    np.testing.assert_array_equal(pieces_to_model_input([Piece(box, mask)])[0, 0], with_mask)
    with pytest.raises(ValueError, match="masks"):
        to_model_input(ink, [box], [])
    with pytest.raises(ValueError, match="shape"):
        to_model_input(ink, [box], [mask[:10]])


@pytest.mark.property
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 60), st.integers(1, 60))),
    st.lists(st.tuples(st.integers(0, 70), st.integers(0, 70), st.integers(0, 30)), max_size=5),
)
def test_to_model_input_shape_dtype_range(ink: np.ndarray, raw: list[tuple[int, int, int]]) -> None:
    boxes = [Box(x, y, x + s, y + s) for x, y, s in raw]
    out = to_model_input(ink, boxes)
    assert out.shape == (len(boxes), 1, INPUT_PX, INPUT_PX)
    assert out.dtype == np.float32
    assert np.isfinite(out).all() and ((out >= 0.0) & (out <= 1.0)).all()


def _reference_normalise(glyph: np.ndarray) -> np.ndarray:
    """The EMNIST recipe spelled out with OpenCV calls on a whole frame (the slow reference)."""
    import cv2

    ys, xs = np.nonzero(glyph)
    if len(ys) == 0:
        return np.zeros((INPUT_PX, INPUT_PX), np.float32)
    roi = glyph[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = roi.shape
    scale = (FRAME_PX - 2 * BORDER_PX) / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    big = cv2.resize(roi.astype(np.float32), (nw, nh), interpolation=interp)
    frame = np.zeros((FRAME_PX, FRAME_PX), np.float32)
    y0, x0 = (FRAME_PX - nh) // 2, (FRAME_PX - nw) // 2
    frame[y0 : y0 + nh, x0 : x0 + nw] = big
    blurred = cv2.GaussianBlur(frame, (0, 0), BLUR_SIGMA_PX)
    small = cv2.resize(blurred, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA)
    return np.clip(small / small.max(), 0.0, 1.0).astype(np.float32)


@pytest.mark.parametrize("seed", range(4))
def test_fast_normalisation_equals_the_opencv_recipe(seed: int) -> None:
    import cv2

    rng = np.random.default_rng(seed)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(1, 180, 2))
        glyph = np.zeros((h, w), np.uint8)
        for _ in range(3):
            p, q = rng.integers(0, [w, h]), rng.integers(0, [w, h])
            cv2.line(glyph, tuple(map(int, p)), tuple(map(int, q)), 255, int(rng.integers(1, 6)))
        glyph = cv2.GaussianBlur(glyph, (3, 3), 0)  # gray edges, as masks of real scans have
        np.testing.assert_allclose(normalise_glyph(glyph), _reference_normalise(glyph), atol=1e-5)
