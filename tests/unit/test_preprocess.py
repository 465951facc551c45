"""Binarisation, ruled lines, skew, and levelling pages with boxes mapped back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handocr.preprocess import (
    MIN_SKEW_DEG,
    CleanConfig,
    LevelledPage,
    estimate_skew,
    ink_map,
    level_page,
    map_box,
    rotate_page,
)
from handocr.result import Box
from handocr.segment import find_components, segment_page
from handocr.train.synth import match_boxes
from tests.helpers import draw_text_page

FIVE_LINES = ["HELLO 42", "WORLD", "ABCDEF", "XYZ 7", "MNOP"]


def test_ink_map_rejects_wrong_dtype_and_method() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ink_map(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="method"):
        ink_map(np.zeros((4, 4), np.uint8), method="niblack")


def test_ink_map_finds_the_ink_in_either_polarity() -> None:
    page = np.full((40, 60), 255, np.uint8)
    page[10:30, 20:26] = 0
    ink = ink_map(page)
    assert ink.dtype == np.uint8 and set(np.unique(ink)) == {0, 255}
    assert np.array_equal(ink > 0, page == 0)
    np.testing.assert_array_equal(ink_map(255 - page), ink)


def test_underline_touching_every_digit_is_removed() -> None:
    # a field whose digits all touch their underline is a single component
    import cv2

    from handocr.preprocess import remove_ruled_lines

    page = draw_text_page(["230"], scale=2.0, thickness=5)
    ink = ink_map(page, remove_lines=False)
    rows = np.nonzero(ink.any(1))[0]
    cols = np.nonzero(ink.any(0))[0]
    base = int(rows.max())
    ink[base - 1 : base + 1, cols.min() - 6 : cols.max() + 6] = 255
    assert cv2.connectedComponents(ink)[0] == 2  # background + one component
    cleaned = remove_ruled_lines(ink)
    # the rule is gone: what ink is left on its rows is the digits' strokes crossing them
    assert np.count_nonzero(cleaned[base - 1 : base + 1]) < 0.2 * (np.ptp(cols) + 12)
    lines = segment_page(cleaned)
    assert len(lines) == 1 and len(lines[0].candidates) == 3


def test_level_page_levels_a_skewed_page_and_maps_boxes_back() -> None:
    page = draw_text_page(FIVE_LINES, scale=1.6, thickness=5)
    skewed, _ = rotate_page(page, -3.0)  # rotated by 3 degrees counter-clockwise
    lev = level_page(skewed)
    assert isinstance(lev, LevelledPage)
    assert lev.skew_deg == pytest.approx(3.0, abs=0.3) and lev.inverse is not None
    assert lev.ink.shape == skewed.shape and (lev.width, lev.height) == (674, 510)
    # the levelled page's characters, mapped back, are the input page's characters
    found = [c.box for c in find_components(ink_map(skewed))]
    levelled = [c.box for c in find_components(lev.ink)]
    assert len(found) == len(levelled) == 26
    assert match_boxes(found, [lev.to_input(b) for b in levelled]) == (1.0, 1.0, 26)
    assert match_boxes(found, levelled)[0] < 0.5  # unmapped, most boxes are elsewhere
    # its text lines are level: the glyphs of each line stand on one baseline
    for line in segment_page(lev.ink):
        feet = [g.box.y1 for g in line.candidates]
        assert max(feet) - min(feet) <= 6


def test_level_page_leaves_level_pages_and_deskew_off_alone() -> None:
    page = draw_text_page(FIVE_LINES, scale=1.6, thickness=5)
    skewed, _ = rotate_page(page, -3.0)
    for lev in (level_page(page), level_page(skewed, CleanConfig(deskew=False))):
        assert lev.skew_deg == 0.0 and lev.inverse is None
        box = Box(3, 4, 50, 60)
        assert lev.to_input(box) is box
    np.testing.assert_array_equal(
        level_page(skewed, CleanConfig(deskew=False)).ink, ink_map(skewed)
    )
    # the binarisation switches reach ink_map
    bare = level_page(skewed, CleanConfig(deskew=False, remove_lines=False, hysteresis=False))
    np.testing.assert_array_equal(bare.ink, ink_map(skewed, remove_lines=False, hysteresis=None))
    sauvola = level_page(page, CleanConfig(binarize="sauvola", deskew=False))
    assert sauvola.ink.shape == page.shape and sauvola.ink.any()
    # below MIN_SKEW_DEG a page is left as it is
    slight, _ = rotate_page(page, -MIN_SKEW_DEG / 3)
    assert level_page(slight).inverse is None


def test_map_box_maps_corners_and_clips_to_the_page() -> None:
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0]])
    assert map_box(Box(10, 10, 20, 20), shift, 100, 100) == Box(15, 7, 25, 17)
    assert map_box(Box(90, 0, 100, 10), shift, 100, 100) == Box(95, 0, 100, 7)
    # a quarter turn: (x, y) -> (y, x)
    swap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert map_box(Box(1, 2, 5, 30), swap, 100, 100) == Box(2, 1, 30, 5)
    # a box mapped off the page keeps one pixel inside it
    away = np.array([[1.0, 0.0, 500.0], [0.0, 1.0, 500.0]])
    assert map_box(Box(0, 0, 10, 10), away, 100, 50) == Box(99, 49, 100, 50)
    # a rotation by 45 degrees: the enclosing box of the turned corners
    c = np.sqrt(0.5)
    turn = np.array([[c, -c, 50.0], [c, c, 0.0]])
    got = map_box(Box(0, 0, 10, 10), turn, 100, 100)
    assert got == Box(42, 0, 58, 15)


@pytest.mark.property
@given(arrays(np.uint8, st.tuples(st.integers(1, 120), st.integers(1, 120))))
def test_skew_estimate_is_a_bounded_angle(page: np.ndarray) -> None:
    angle = estimate_skew(ink_map(page))
    assert isinstance(angle, float) and -7.0 <= angle <= 7.0


@pytest.mark.property
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 60), st.integers(1, 60))),
    st.integers(0, 254),
    st.integers(0, 60),
)
def test_hysteresis_threshold_equals_scikit_image(level: np.ndarray, low: int, gap: int) -> None:
    from skimage.filters import apply_hysteresis_threshold

    from handocr.preprocess import hysteresis_threshold

    high = min(255.0, low + gap + 0.5)
    expected = apply_hysteresis_threshold(level.astype(np.float32), float(low), high)
    np.testing.assert_array_equal(hysteresis_threshold(level, float(low), high), expected)


def test_level_page_keeps_a_ruled_line_only_when_told_to() -> None:
    page = draw_text_page(["230"], scale=2.0, thickness=5)
    rows = np.nonzero((page < 128).any(1))[0]
    page[rows.max() + 3 : rows.max() + 6, 10:-10] = 0  # a ruled line under the digits
    line_rows = slice(int(rows.max()) + 3, int(rows.max()) + 6)
    kept = level_page(page, CleanConfig(deskew=False, remove_lines=False)).ink[line_rows]
    removed = level_page(page, CleanConfig(deskew=False)).ink[line_rows]
    assert np.count_nonzero(kept) > 10 * max(1, np.count_nonzero(removed))


def test_sauvola_threshold_equals_scikit_image() -> None:
    from skimage.filters import threshold_sauvola as reference

    from handocr.preprocess import threshold_sauvola

    page = np.random.default_rng(0).integers(0, 256, (120, 97)).astype(np.uint8)
    for window in (15, 31):
        expected = reference(page, window_size=window, k=0.2)
        np.testing.assert_allclose(threshold_sauvola(page, window=window), expected, atol=1e-9)
    with pytest.raises(ValueError, match="odd"):
        threshold_sauvola(page, window=16)
