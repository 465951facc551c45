"""Connected components, candidates and their own ink (masks), and pieces."""

from __future__ import annotations

import numpy as np

from handocr.preprocess import ink_map
from handocr.result import Box
from handocr.segment import candidate_mask, find_components, segment_page
from handocr.segment.components import Candidate, Piece
from handocr.segment.config import SegmentConfig
from tests.helpers import draw_text_page


def test_candidate_mask_holds_its_own_ink_and_none_of_a_neighbour_in_its_box() -> None:
    # an L, and a separate dot standing in the crook of the L, inside the L's box
    page = np.full((60, 60), 255, np.uint8)
    page[10:50, 10:16] = 0  # the stem
    page[44:50, 10:45] = 0  # the foot
    page[30:36, 30:36] = 0  # the dot, not touching
    ink = ink_map(page)
    ell = max(find_components(ink), key=lambda c: c.box.area)
    candidate = Candidate.of([ell])
    assert candidate.box == Box(10, 10, 45, 50)
    m = candidate_mask(ink, candidate)
    assert m.shape == (candidate.box.height, candidate.box.width) and m.dtype == np.uint8
    region = ink[10:50, 10:45]
    expected = region.copy()
    expected[20:26, 20:26] = 0  # the dot, in box coordinates
    assert region[20:26, 20:26].all()  # the dot's ink is inside the box ...
    np.testing.assert_array_equal(m, expected)  # ... and left out of the candidate's mask


def test_candidate_mask_of_segmented_text_equals_the_ink_of_its_parts() -> None:
    ink = ink_map(draw_text_page(["AB"]))
    g = segment_page(ink)[0].candidates[0]
    m = candidate_mask(ink, g)
    b = g.box
    # the A stands alone in its box: its mask is all the ink there
    np.testing.assert_array_equal(m, ink[b.y0 : b.y1, b.x0 : b.x1])
    assert np.count_nonzero(m) > 0.1 * m.size


def test_components_drop_speckle_below_the_configured_size() -> None:
    page = np.full((40, 60), 255, np.uint8)
    page[5:35, 5:11] = 0  # a bar
    page[20:22, 30:32] = 0  # a 2x2 speck
    page[20:24, 45:49] = 0  # a 4x4 blot
    ink = ink_map(page)
    assert sorted(c.box.width for c in find_components(ink)) == [4, 6]
    big = SegmentConfig(min_component_px=5)
    assert [c.box.width for c in find_components(ink, big)] == [6]
    every = find_components(ink, SegmentConfig(min_component_px=0))
    assert sorted(c.box.width for c in every) == [2, 4, 6]
    (bar,) = (c for c in every if c.box.width == 6)
    assert (bar.cx, bar.cy) == (8.0, 20.0) and bar.contour.dtype == np.int32


def test_piece_join_encloses_both_and_keeps_only_their_ink() -> None:
    left = Piece(Box(0, 0, 15, 40), np.full((40, 15), 255, np.uint8))
    right = Piece(Box(17, 5, 32, 40), np.full((35, 15), 255, np.uint8))
    joined = left.join(right)
    assert joined.box == Box(0, 0, 32, 40) and joined.mask.shape == (40, 32)
    assert joined.mask[:, 15:17].max() == 0  # the gap stays empty
    assert joined.mask[:5, 17:].max() == 0 and joined.mask[5:, 17:].min() == 255
    assert np.count_nonzero(joined.mask) == 40 * 15 + 35 * 15
    assert right.join(left).box == joined.box
