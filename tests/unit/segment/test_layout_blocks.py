"""Reading blocks and baselines: from the layout through decoding and fusion into the page."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.fusion import fused_page
from handocr.preprocess import ink_map
from handocr.result import Block, Box, page_blocks
from handocr.segment import segment_layout, segment_page, segment_pieces
from handocr.segment.layout import fit_baseline
from tests.helpers import draw_columns_page, put_char, read_layout

LEFT = ["ABCDE", "FGHKL", "MNPRS"]
RIGHT = ["KLMNP", "TUVWX", "YZ234"]


@pytest.fixture(scope="module")
def columns() -> np.ndarray:
    return draw_columns_page(LEFT, RIGHT)


def test_two_columns_are_two_blocks_with_their_lines_baselines(columns: np.ndarray) -> None:
    ink = ink_map(columns)
    layout = segment_layout(ink)
    assert layout.blocks == [0, 0, 0, 1, 1, 1]  # the left column first
    pieces, starts = segment_pieces(ink)  # the same lines, without their geometry
    assert layout.starts == starts
    assert [[p.box for p in row] for row in layout.lines] == [[p.box for p in r] for r in pieces]
    lines = segment_page(ink)
    assert [line.block for line in lines] == layout.blocks
    assert [line.baseline for line in lines] == layout.baselines
    rests = [60, 100, 140, 80, 120, 160]  # where put_char sets each line's characters
    for line, y, ((xa, ya), (xb, yb)) in zip(lines, rests, layout.baselines, strict=True):
        assert (xa, xb) == (line.box.x0, line.box.x1)
        assert abs(ya - y) <= 2 and abs(yb - y) <= 2


def test_baseline_ignores_descenders_and_follows_a_rising_line() -> None:
    page = np.full((120, 420), 255, np.uint8)
    for i, ch in enumerate("ABgCDpEF"):
        put_char(page, ch, 20 + i * 30, 70)
    (line,) = segment_page(ink_map(page))
    assert max(g.box.y1 for g in line.candidates) >= 77  # g and p hang below the others
    (_, ya), (_, yb) = line.baseline
    assert abs(ya - 70) <= 2 and abs(yb - 70) <= 2
    # the line of test_layout's rising line: it climbs 45 px over its 13 character pitches
    page = np.full((260, 760), 255, np.uint8)
    for i, ch in enumerate("ABCDEFGHKLMNPR"):
        put_char(page, ch, 20 + i * 52, 120 - round(i * 45 / 13))
    (rising,) = segment_page(ink_map(page))
    (xa, ya), (xb, yb) = rising.baseline
    assert (ya - yb) / (xb - xa) == pytest.approx(45 / (13 * 52), abs=0.01)


def test_a_lone_candidate_rests_on_its_bottom() -> None:
    page = np.full((80, 80), 255, np.uint8)
    page[20:50, 30:40] = 0
    (line,) = segment_page(ink_map(page))
    assert line.baseline == ((30, 50), (40, 50)) and line.block == 0
    assert fit_baseline(line.candidates, line.box) == line.baseline


def test_decoded_page_keeps_the_blocks_in_reading_order(columns: np.ndarray) -> None:
    (page,) = read_layout(columns).pages
    assert [(b.first, b.count) for b in page.blocks] == [(0, 3), (3, 3)]
    left, right = page.blocks
    assert left.box.x1 < 450 <= right.box.x0
    assert left.box == Box.enclosing([line.box for line in left.lines_of(page)])
    assert [line.baseline[0][1] for line in page.lines] == pytest.approx(
        [60, 100, 140, 80, 120, 160], abs=2
    )
    assert page_blocks(page) == page.blocks


def test_blocks_survive_fusion_and_lose_emptied_lines(columns: np.ndarray) -> None:
    (page,) = read_layout(columns).pages

    def reading(line):  # type: ignore[no-untyped-def]
        chars = list(line.all_chars())
        return chars, [True] + [False] * (len(chars) - 1)

    same = fused_page(page, [reading(line) for line in page.lines])
    assert same.blocks == page.blocks
    assert [line.baseline for line in same.lines] == [line.baseline for line in page.lines]
    # the fusion empties the left column's second line and the whole right column
    fused = [reading(line) for line in page.lines]
    for k in (1, 3, 4, 5):
        fused[k] = ([], [])
    out = fused_page(page, fused)
    assert out.blocks == (Block(Box.enclosing([page.lines[0].box, page.lines[2].box]), 0, 2),)
    assert [line.baseline for line in out.lines] == [page.lines[0].baseline, page.lines[2].baseline]
    with pytest.raises(ValueError, match="fused lines"):
        fused_page(page, fused[:2])
