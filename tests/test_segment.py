"""Segmentation on synthetic pages: lines, glyphs, words, polarity, ruled lines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handocr.preprocess import ink_map
from handocr.segment import find_lines, glyph_mask, segment_page

from .conftest import draw_text_page


def test_find_lines_gives_one_ordered_box_per_line(two_line_page) -> None:
    page, truth = two_line_page
    boxes = find_lines(ink_map(page))
    assert len(boxes) == len(truth) and boxes[0].y1 <= boxes[1].y0


def test_inverted_page_segments_like_the_original(two_line_page) -> None:
    page, _ = two_line_page
    assert find_lines(ink_map(255 - page)) == find_lines(ink_map(page))


def test_glyphs_and_words_follow_the_text(two_line_page) -> None:
    page, truth = two_line_page
    lines = segment_page(ink_map(page))
    for line, text in zip(lines, truth, strict=True):
        assert len(line.glyphs) == len(text.replace(" ", ""))
        assert sum(line.word_starts) == len(text.split())
        xs = [g.box.x0 for g in line.glyphs]
        assert xs == sorted(xs)


def test_dot_of_i_merges_into_its_glyph() -> None:
    page = np.full((120, 200), 255, np.uint8)
    page[50:100, 40:48] = 0  # stem
    page[30:38, 40:48] = 0  # dot
    page[50:100, 100:130] = 0  # a block
    lines = segment_page(ink_map(page))
    assert len(lines) == 1 and len(lines[0].glyphs) == 2
    assert lines[0].glyphs[0].box.y0 == 30


def test_box_border_is_removed_and_digits_survive() -> None:
    page = draw_text_page(["1234"], scale=2.0, thickness=6)
    h, w = page.shape
    page[8:12, 8 : w - 8] = 0
    page[h - 12 : h - 8, 8 : w - 8] = 0
    page[8 : h - 8, 8:12] = 0
    page[8 : h - 8, w - 12 : w - 8] = 0
    lines = segment_page(ink_map(page))
    assert len(lines) == 1 and len(lines[0].glyphs) == 4


def test_blank_and_flat_pages_have_no_lines() -> None:
    assert segment_page(ink_map(np.full((50, 50), 255, np.uint8))) == []
    assert segment_page(ink_map(np.zeros((50, 50), np.uint8))) == []


def test_glyph_mask_holds_only_its_own_ink() -> None:
    page = draw_text_page(["AB"])
    ink = ink_map(page)
    g = segment_page(ink)[0].glyphs[0]
    m = glyph_mask(ink, g)
    assert m.shape == (g.box.height, g.box.width)
    assert (
        0 < np.count_nonzero(m) <= np.count_nonzero(ink[g.box.y0 : g.box.y1, g.box.x0 : g.box.x1])
    )


@pytest.mark.property
@given(arrays(np.uint8, st.tuples(st.integers(1, 80), st.integers(1, 80))))
def test_random_pages_segment_without_error(page: np.ndarray) -> None:
    ink = ink_map(page)
    assert ink.shape == page.shape and set(np.unique(ink)) <= {0, 255}
    for line in segment_page(ink):
        assert len(line.glyphs) == len(line.word_starts) and line.word_starts[0]
        for g in line.glyphs:
            assert 0 <= g.box.x0 < g.box.x1 <= page.shape[1]


def test_ink_map_rejects_wrong_dtype() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ink_map(np.zeros((4, 4), np.float32))


def test_touching_pair_is_cut_at_the_thin_bridge() -> None:
    from handocr.result import Box
    from handocr.segment.split import Piece, split_candidates

    mask = np.zeros((40, 70), np.uint8)
    mask[:, 2:30] = 255  # left blob
    mask[:, 40:68] = 255  # right blob
    mask[18:21, 30:40] = 255  # thin bridge
    options = split_candidates(Piece(Box(100, 10, 170, 50), mask))
    two = next(o for o in options if len(o) == 2)
    assert 128 <= two[0].box.x1 <= 142 and two[1].box.x0 >= two[0].box.x1
    assert all(p.mask.shape == (p.box.height, p.box.width) for p in two)
    assert split_candidates(Piece(Box(0, 0, 30, 40), np.full((40, 30), 255, np.uint8))) == []
