"""Result objects: text joining rules, lossless JSON round trips, joining documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handocr.result import Block, Box, Char, Document, Line, ModelInfo, Page, Word, page_blocks
from tests.helpers import sample_document, two_block_document


def test_text_joins_words_lines_and_pages() -> None:
    doc = sample_document()
    assert doc.pages[0].lines[0].text == "AB 12"
    assert doc.pages[0].text == "AB 12\nZ"
    assert doc.text == "AB 12\nZ\f"


def test_json_round_trip_is_lossless() -> None:
    doc = sample_document()
    again = Document.from_json(doc.to_json())
    assert again == doc
    assert again.to_dict()["schema"] == 5
    assert [p["number"] for p in again.to_dict()["pages"]] == [p.number for p in doc.pages]
    vote = again.to_dict()["pages"][0]["lines"][0]["words"][0]["chars"][0]["votes"][1]
    assert vote == {"model": "resnet10t.emnist47-v1", "text": "O", "confidence": 0.4}


def test_schema_1_documents_still_read() -> None:
    d = sample_document().to_dict()
    d["schema"] = 1
    for page in d["pages"]:
        for line in page["lines"]:
            for word in line["words"]:
                for char in word["chars"]:
                    del char["votes"]
    old = Document.from_dict(d)
    assert old.text == sample_document().text
    assert old.pages[0].lines[0].words[0].chars[0].votes == ()


def test_schema_2_documents_read_with_pages_numbered_1() -> None:
    d = sample_document().to_dict()
    d["schema"] = 2
    for page in d["pages"]:
        del page["number"]
    old = Document.from_dict(d)
    assert old.text == sample_document().text and {p.number for p in old.pages} == {1}


def test_json_round_trip_keeps_blocks_and_baselines() -> None:
    doc = two_block_document()
    again = Document.from_json(doc.to_json())
    assert again == doc
    d = doc.to_dict()["pages"][0]
    assert d["blocks"] == [
        {"box": [0, 0, 48, 32], "first": 0, "count": 2},
        {"box": [60, 0, 68, 12], "first": 2, "count": 1},
    ]
    assert d["lines"][0]["baseline"] == [[0, 12], [48, 11]]
    assert [line.baseline for line in again.pages[0].lines] == [
        line.baseline for line in doc.pages[0].lines
    ]
    plain = sample_document().to_dict()["pages"][0]
    assert plain["blocks"] == [] and plain["lines"][0]["baseline"] is None


def test_schema_2_documents_read_without_blocks_or_baselines() -> None:
    d = two_block_document().to_dict()
    d["schema"] = 2
    for page in d["pages"]:
        del page["number"], page["blocks"]
        for line in page["lines"]:
            del line["baseline"]
    old = Document.from_dict(d)
    assert old.text == two_block_document().text
    (page,) = old.pages
    assert page.blocks == () and {line.baseline for line in page.lines} == {None}
    # renderers read such a page as one block of all its lines
    (whole,) = page_blocks(page)
    assert (whole.first, whole.count, whole.box) == (0, 3, Box(0, 0, 68, 32))
    assert whole.lines_of(page) == page.lines
    assert page_blocks(Page(0, 5, 5)) == ()


def test_blocks_must_hold_every_line_once_in_order() -> None:
    lines = two_block_document().pages[0].lines
    box = Box(0, 0, 1, 1)
    for bad in (
        (Block(box, 0, 2),),  # the third line in no block
        (Block(box, 0, 2), Block(box, 1, 2)),  # overlapping
        (Block(box, 1, 2),),  # the first line left out
        (Block(box, 0, 0), Block(box, 0, 3)),  # an empty block
    ):
        with pytest.raises(ValueError, match="do not tile 3 lines"):
            Page(0, 100, 50, lines, blocks=bad)
    assert Page(0, 100, 50, lines, blocks=(Block(box, 0, 3),)).blocks[0].count == 3
    with pytest.raises(ValueError, match="do not tile 0 lines"):
        Page(0, 100, 50, (), blocks=(Block(box, 0, 1),))
    assert Line((), box).baseline is None  # lines built by hand need none


def test_confidences_are_mean_and_min() -> None:
    w = sample_document().pages[0].lines[0].words[0]
    assert w.confidence == pytest.approx(0.505)
    assert w.min_confidence == pytest.approx(0.5)


def test_other_schema_is_refused() -> None:
    d = sample_document().to_dict()
    d["schema"] = 99
    with pytest.raises(ValueError, match="schema"):
        Document.from_dict(d)


def test_inverted_box_is_refused() -> None:
    with pytest.raises(ValueError, match="inverted"):
        Box(5, 0, 4, 3)
    with pytest.raises(ValueError, match="no boxes"):
        Box.enclosing([])


def test_concat_numbers_pages_across_documents_and_keeps_their_order() -> None:
    doc = sample_document()
    models = (ModelInfo("cnn", "t", "00"),)
    joined = Document.concat([doc, Document(()), doc], models)
    assert [p.index for p in joined.pages] == [0, 1, 2, 3]
    assert [p.source for p in joined.pages] == ["a.png", "b.png", "a.png", "b.png"]
    assert joined.text == doc.text + "\f" + doc.text
    assert joined.models == models
    assert joined.pages[2].lines == doc.pages[0].lines
    assert Document.concat([]) == Document(())
    # the inputs are left as they were (frozen)
    assert [p.index for p in doc.pages] == [0, 1]


coords = st.integers(min_value=0, max_value=500)


@pytest.mark.property
@given(st.lists(coords, min_size=8, max_size=8))
def test_box_union_contains_both_and_iou_in_unit_range(v: list[int]) -> None:
    a = Box(min(v[0], v[1]), min(v[2], v[3]), max(v[0], v[1]), max(v[2], v[3]))
    b = Box(min(v[4], v[5]), min(v[6], v[7]), max(v[4], v[5]), max(v[6], v[7]))
    u = a.union(b)
    assert u.x0 <= min(a.x0, b.x0) and u.y0 <= min(a.y0, b.y0)
    assert u.x1 >= max(a.x1, b.x1) and u.y1 >= max(a.y1, b.y1)
    assert 0.0 <= a.iou(b) <= 1.0
    assert a.iou(b) == pytest.approx(b.iou(a))
    assert Box.from_list(a.to_list()) == a


def test_a_calibrated_confidence_replaces_the_character_mean_and_round_trips() -> None:
    a, b = Char("A", Box(0, 0, 5, 5), 0.9), Char("B", Box(5, 0, 9, 5), 0.5)
    word = Word((a, b), Box(0, 0, 9, 5))
    assert word.confidence == pytest.approx(0.7) == word.char_confidence
    sure = Word((a, b), Box(0, 0, 9, 5), exact=0.2)
    assert sure.confidence == 0.2 and sure.char_confidence == pytest.approx(0.7)
    line = Line((sure,), sure.box, exact=0.15)
    page = Page(0, 10, 10, (line,))
    again = Document.from_json(Document((page,)).to_json())
    assert again.pages[0].lines[0].exact == 0.15 and again.pages[0].lines[0].words[0].exact == 0.2
    d = json.loads(Document((Page(0, 10, 10, (Line((word,), word.box),)),)).to_json())
    w = d["pages"][0]["lines"][0]["words"][0]
    assert w["calibrated"] is False and w["confidence"] == w["char_confidence"]
    assert Document.from_json(json.dumps(d)).pages[0].lines[0].words[0].exact is None
