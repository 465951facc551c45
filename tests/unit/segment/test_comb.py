"""Comb fields: found by their rules and regular walls, cut one character per cell."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handocr.preprocess import ink_map
from handocr.result import Box, Char, Line, Page, Word
from handocr.segment.comb import cell_pieces, find_combs
from tests.helpers import COMB_HEIGHT as HEIGHT
from tests.helpers import COMB_PITCH as PITCH
from tests.helpers import draw_comb, put_char


def raw_ink(page: np.ndarray) -> np.ndarray:
    return ink_map(page, remove_lines=False)


@pytest.mark.parametrize("pen", [1, 2, 4])
def test_a_comb_is_found_with_its_cells(pen: int) -> None:
    (comb,) = find_combs(raw_ink(draw_comb("12 45B7", pen=pen)))
    assert len(comb.cells) == 7
    widths = [c.width for c in comb.cells]
    assert max(widths) - min(widths) <= 3


def test_empty_cells_give_no_piece_and_walls_no_strokes() -> None:
    (comb,) = find_combs(raw_ink(draw_comb("1 3  6")))
    pieces = cell_pieces(comb)
    assert [p is not None for p in pieces] == [True, False, True, False, False, True]
    for p in pieces:
        if p is not None:  # the character alone: narrower than the cell, no wall in it
            assert p.box.width < PITCH - 4 and p.box.height < HEIGHT + 10


def test_a_turned_comb_is_found() -> None:
    (comb,) = find_combs(raw_ink(draw_comb("ABCDEFGH", angle=1.5)))
    assert len(comb.cells) == 8
    assert sum(p is not None for p in cell_pieces(comb)) == 8


def test_a_plain_box_and_two_cells_are_not_combs() -> None:
    page = np.full((120, 400), 255, np.uint8)
    cv2.rectangle(page, (20, 30), (380, 76), 0, 2)
    for i, ch in enumerate("HELLO"):
        put_char(page, ch, 40 + 40 * i, 67)
    assert find_combs(raw_ink(page)) == []
    assert find_combs(raw_ink(draw_comb("AB"))) == []


def test_a_black_page_or_an_empty_one_has_no_comb() -> None:
    assert find_combs(np.full((300, 400), 255, np.uint8)) == []
    assert find_combs(np.zeros((300, 400), np.uint8)) == []
    assert find_combs(np.zeros((0, 0), np.uint8)) == []


def test_a_digit_one_standing_in_a_cell_is_not_a_wall() -> None:
    (comb,) = find_combs(raw_ink(draw_comb("1111")))
    assert len(comb.cells) == 4


def test_place_word_replaces_the_free_reading_inside_the_field() -> None:
    from handocr.comb_fields import place_word

    def ch(c: str, x: int) -> Char:
        return Char(c, Box(x, 10, x + 8, 30), 0.9)

    label = Word((ch("N", 0), ch("O", 10)), Box(0, 10, 18, 30), "printed")
    free = Word((ch("I", 40), ch("7", 50), ch("I", 60)), Box(40, 10, 68, 30))
    page = Page(0, 200, 100, (Line((label, free), Box(0, 10, 68, 30)),))
    cells = Word((ch("7", 50),), Box(50, 10, 58, 30))
    out = place_word(page, Box(35, 0, 75, 40), cells)
    assert [w.text for w in out.lines[0].words] == ["NO", "7"]
    assert [w.kind for w in out.lines[0].words] == ["printed", "handwritten"]
    empty = place_word(page, Box(35, 0, 75, 40), None)
    assert [w.text for w in empty.lines[0].words] == ["NO"]
    alone = place_word(page, Box(0, 0, 75, 40), cells)
    assert [line.text for line in alone.lines] == ["7"]


def test_a_line_changed_by_a_comb_field_loses_its_exact_probability() -> None:
    from handocr.comb_fields import place_word

    def ch(c: str, x: int) -> Char:
        return Char(c, Box(x, 10, x + 8, 30), 0.9)

    label = Word((ch("N", 0), ch("O", 10)), Box(0, 10, 18, 30), "printed", exact=0.8)
    free = Word((ch("I", 40), ch("7", 50)), Box(40, 10, 58, 30), exact=0.6)
    page = Page(0, 200, 100, (Line((label, free), Box(0, 10, 58, 30), exact=0.5),))
    out = place_word(page, Box(35, 0, 75, 40), Word((ch("7", 50),), Box(50, 10, 58, 30)))
    line = out.lines[0]
    assert line.exact is None and line.words[0].exact == 0.8  # the label is untouched
    assert line.words[1].exact is None
    same = place_word(page, Box(150, 0, 190, 40), None)  # nothing inside: nothing changes
    assert same.lines[0].exact == 0.5
