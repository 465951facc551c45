"""Layout on synthetic pages: lines, candidates, words, polarity, columns, marks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handocr.preprocess import ink_map
from handocr.segment import find_components, find_lines, segment_page
from handocr.segment.layout import reading_blocks, text_height
from tests.helpers import draw_text_page, put_char


def test_find_lines_gives_one_ordered_box_per_line(two_line_page) -> None:
    page, truth = two_line_page
    boxes = find_lines(ink_map(page))
    assert len(boxes) == len(truth) and boxes[0].y1 <= boxes[1].y0


def test_inverted_page_segments_like_the_original(two_line_page) -> None:
    page, _ = two_line_page
    assert find_lines(ink_map(255 - page)) == find_lines(ink_map(page))


def test_candidates_and_words_follow_the_text(two_line_page) -> None:
    page, truth = two_line_page
    lines = segment_page(ink_map(page))
    for line, text in zip(lines, truth, strict=True):
        assert len(line.candidates) == len(text.replace(" ", ""))
        assert sum(line.word_starts) == len(text.split())
        xs = [g.box.x0 for g in line.candidates]
        assert xs == sorted(xs)


def test_dot_of_i_merges_into_its_candidate() -> None:
    page = np.full((120, 200), 255, np.uint8)
    page[50:100, 40:48] = 0  # stem
    page[30:38, 40:48] = 0  # dot
    page[50:100, 100:130] = 0  # a block
    lines = segment_page(ink_map(page))
    assert len(lines) == 1 and len(lines[0].candidates) == 2
    assert lines[0].candidates[0].box.y0 == 30


def test_box_border_is_removed_and_digits_survive() -> None:
    page = draw_text_page(["1234"], scale=2.0, thickness=6)
    h, w = page.shape
    page[8:12, 8 : w - 8] = 0
    page[h - 12 : h - 8, 8 : w - 8] = 0
    page[8 : h - 8, 8:12] = 0
    page[8 : h - 8, w - 12 : w - 8] = 0
    lines = segment_page(ink_map(page))
    assert len(lines) == 1 and len(lines[0].candidates) == 4


def test_blank_and_flat_pages_have_no_lines() -> None:
    assert segment_page(ink_map(np.full((50, 50), 255, np.uint8))) == []
    assert segment_page(ink_map(np.zeros((50, 50), np.uint8))) == []


@pytest.mark.property
@given(arrays(np.uint8, st.tuples(st.integers(1, 80), st.integers(1, 80))))
def test_random_pages_segment_without_error(page: np.ndarray) -> None:
    ink = ink_map(page)
    assert ink.shape == page.shape and set(np.unique(ink)) <= {0, 255}
    for line in segment_page(ink):
        assert len(line.candidates) == len(line.word_starts) and line.word_starts[0]
        for g in line.candidates:
            assert 0 <= g.box.x0 < g.box.x1 <= page.shape[1]


def test_specks_of_texture_do_not_make_lines() -> None:
    # many specks (more than letters) drawn well below the text: with a plain median height they
    # set the page's scale and form a line of their own; the ink-weighted text height drops them
    page = draw_text_page(["HELLO"])
    h, w = page.shape
    page = np.vstack([page, np.full((80, w), 255, np.uint8)])
    for x in range(10, w - 10, 12):
        page[h + 40 : h + 44, x : x + 4] = 0
    lines = segment_page(ink_map(page))
    assert len(lines) == 1 and len(lines[0].candidates) == 5


def test_flat_fragments_beside_text_do_not_join_its_candidates() -> None:
    # remnants of an erased underline: 1-pixel-high dashes along the text's foot
    page = draw_text_page(["10000"], scale=2.0, thickness=5)
    ink = ink_map(page)
    ys = np.nonzero(ink.any(1))[0]
    foot = int(ys.max()) + 2
    for x in range(8, page.shape[1] - 20, 16):
        page[foot, x : x + 9] = 0
    lines = segment_page(ink_map(page))
    assert len(lines) == 1
    assert [g.box.height >= 10 for g in lines[0].candidates] == [True] * 5


def test_text_height_follows_the_ink_not_the_count() -> None:
    page = np.full((100, 300), 255, np.uint8)
    page[20:60, 20:35] = 0  # one character, 40 px high
    for x in range(60, 280, 10):
        page[80:84, x : x + 4] = 0  # 22 specks, 4 px high
    comps = find_components(ink_map(page))
    assert len(comps) == 23
    assert text_height(comps) == 40
    assert text_height([]) == 0.0


def test_a_rising_line_stays_one_line() -> None:
    # 14 characters whose baseline climbs 1.6 character heights (~45 px) across the line, and a
    # level line below: a global line centre would split the first line in two.
    page = np.full((260, 760), 255, np.uint8)
    for i, ch in enumerate("ABCDEFGHKLMNPR"):
        put_char(page, ch, 20 + i * 52, 120 - round(i * 45 / 13))
    for i, ch in enumerate("STUVWXYZ"):
        put_char(page, ch, 20 + i * 52, 220)
    lines = segment_page(ink_map(page))
    assert [len(line.candidates) for line in lines] == [14, 8]


def test_two_columns_read_left_column_first() -> None:
    # Left column lines at y 60/130/200, right column at 95/165/235: sorting lines by height
    # alone would interleave them.
    page = np.full((280, 900), 255, np.uint8)
    for row in range(3):
        for i, ch in enumerate("ABCDE"):
            put_char(page, ch, 20 + i * 50, 60 + 70 * row)
        for i, ch in enumerate("KLMNP"):
            put_char(page, ch, 560 + i * 50, 95 + 70 * row)
    lines = segment_page(ink_map(page))
    assert len(lines) == 6
    assert [line.box.x0 < 450 for line in lines] == [True] * 3 + [False] * 3
    assert [line.box.y0 for line in lines[:3]] == sorted(line.box.y0 for line in lines[:3])


def test_a_single_row_with_a_wide_gap_is_not_cut_into_columns() -> None:
    page = np.full((100, 900), 255, np.uint8)
    for i, ch in enumerate("NAME"):
        put_char(page, ch, 20 + i * 30, 60)
    for i, ch in enumerate("DATE"):
        put_char(page, ch, 600 + i * 30, 60)
    lines = segment_page(ink_map(page))
    assert len(lines) == 1 and sum(lines[0].word_starts) == 2


def test_reading_blocks_cut_columns_then_bands() -> None:
    # a title across the page, then two columns of two lines
    page = np.full((300, 900), 255, np.uint8)
    for i, ch in enumerate("TITLEXYZ"):
        put_char(page, ch, 200 + i * 60, 50)
    for row in range(2):
        for i, ch in enumerate("ABC"):
            put_char(page, ch, 20 + i * 50, 170 + 60 * row)
            put_char(page, ch, 600 + i * 50, 170 + 60 * row)
    comps = find_components(ink_map(page))
    blocks = reading_blocks(comps, text_height(comps))
    firsts = [(min(c.box.y0 for c in b), min(c.box.x0 for c in b)) for b in blocks]
    assert firsts[0][0] < 60  # the title first
    left = [i for i, (_, x) in enumerate(firsts) if 0 < x < 300]
    right = [i for i, (_, x) in enumerate(firsts) if x >= 550]
    assert left and right and max(left) < min(right)


def test_a_grid_of_form_fields_reads_row_by_row() -> None:
    # two rows of three fields, each a label line with its value close below; the rows further
    # apart than a label from its value (the NIST form's layout): read row by row, not by column
    page = np.full((420, 1000), 255, np.uint8)
    for row, (label, value) in enumerate((("AB", "CD"), ("EF", "GH"))):
        top = 60 + 190 * row
        for col in range(3):
            x = 40 + 330 * col
            for i, ch in enumerate(label):
                put_char(page, ch, x + 30 * i, top)
            for i, ch in enumerate(value):
                put_char(page, ch, x + 30 * i, top + 55)
    comps = find_components(ink_map(page))
    blocks = reading_blocks(comps, text_height(comps))
    fields = [(min(c.box.y0 for c in b) // 190, min(c.box.x0 for c in b) // 330) for b in blocks]
    order = [f for k, f in enumerate(fields) if k == 0 or f != fields[k - 1]]
    assert order == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]


def test_a_stray_dot_far_from_the_text_is_dropped_but_a_near_one_is_not() -> None:
    page = np.full((100, 700), 255, np.uint8)
    for i, ch in enumerate("ZAIED"):
        put_char(page, ch, 20 + i * 35, 70)
    page[40:50, 640:648] = 0  # a blot ~0.35 text heights high, 12 heights to the right
    lines = segment_page(ink_map(page))
    assert len(lines) == 1 and len(lines[0].candidates) == 5
    page[40:50, 640:648] = 255
    page[40:50, 200:208] = 0  # the same blot just after the word stays (it may be a letter)
    lines = segment_page(ink_map(page))
    assert len(lines[0].candidates) == 6


def test_segment_pieces_are_the_candidates_with_their_own_ink(two_line_page) -> None:
    from handocr.segment import candidate_mask, segment_pieces

    page, truth = two_line_page
    ink = ink_map(page)
    lines, starts = segment_pieces(ink)
    reference = segment_page(ink)
    assert [len(row) for row in lines] == [len(t.replace(" ", "")) for t in truth]
    assert starts == [list(line.word_starts) for line in reference]
    for row, line in zip(lines, reference, strict=True):
        for piece, candidate in zip(row, line.candidates, strict=True):
            assert piece.box == candidate.box
            np.testing.assert_array_equal(piece.mask, candidate_mask(ink, candidate))


def test_thresholds_come_from_the_config() -> None:
    from handocr.segment.config import SegmentConfig

    # the far blot of test_a_stray_dot_far..., kept when stray marks are not dropped
    page = np.full((100, 700), 255, np.uint8)
    for i, ch in enumerate("ZAIED"):
        put_char(page, ch, 20 + i * 35, 70)
    page[40:50, 640:648] = 0
    assert len(segment_page(ink_map(page))[0].candidates) == 5
    kept = segment_page(ink_map(page), SegmentConfig(mark_gap=float("inf")))
    assert len(kept[0].candidates) == 6
