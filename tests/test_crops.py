"""Crop normalisation: shapes, ranges, framing like EMNIST."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handocr.crops import INPUT_PX, normalise_glyph, to_model_input
from handocr.result import Box


def test_empty_input_gives_empty_batch() -> None:
    out = to_model_input(np.zeros((10, 10), np.uint8), [])
    assert out.shape == (0, 1, 28, 28) and out.dtype == np.float32


def test_glyph_is_centred_with_emnist_border() -> None:
    glyph = np.zeros((90, 30), np.uint8)
    glyph[:, 10:20] = 255  # a tall bar
    out = normalise_glyph(glyph)
    ys, xs = np.nonzero(out > 0.12)
    assert 22 <= ys.max() - ys.min() + 1 <= 26  # long side ~24 of 28, like EMNIST
    assert abs((ys.min() + ys.max()) / 2 - 13.5) <= 1
    assert abs((xs.min() + xs.max()) / 2 - 13.5) <= 1
    assert out.max() == 1.0


def test_aspect_ratio_is_kept() -> None:
    wide = np.full((10, 60), 255, np.uint8)
    out = normalise_glyph(wide)
    ys, xs = np.nonzero(out > 0.12)
    assert (xs.max() - xs.min()) > 3 * (ys.max() - ys.min())


def test_mask_excludes_neighbour_ink() -> None:
    ink = np.zeros((40, 40), np.uint8)
    ink[5:35, 5:10] = 255
    ink[5:35, 30:35] = 255
    box = Box(0, 0, 40, 40)
    mask = np.zeros((40, 40), np.uint8)
    mask[5:35, 5:10] = 255
    with_mask = to_model_input(ink, [box], [mask])[0, 0]
    plain = to_model_input(ink, [box])[0, 0]
    assert not np.allclose(with_mask, plain)


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
