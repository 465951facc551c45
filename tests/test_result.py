"""Result objects: text joining rules and lossless JSON round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handocr.result import Box, Char, Document, Line, ModelInfo, Page, Word


def _doc() -> Document:
    def word(text: str, x: int) -> Word:
        chars = tuple(
            Char(
                c,
                Box(x + 10 * i, 0, x + 10 * i + 8, 12),
                0.5 + 0.01 * i,
                (("O", 0.1),),
                (("cnn.emnist47-v1", c, 0.6), ("resnet10t.emnist47-v1", "O", 0.4)),
            )
            for i, c in enumerate(text)
        )
        return Word(chars, Box.enclosing([c.box for c in chars]))

    line1 = Line((word("AB", 0), word("12", 40)), Box(0, 0, 58, 12))
    line2 = Line((word("Z", 0),), Box(0, 20, 8, 32))
    pages = (Page(0, 100, 50, (line1, line2), "a.png"), Page(1, 100, 50, (), "b.png"))
    return Document(pages, (ModelInfo("cnn", "emnist47-v1", "ab" * 32),))


def test_text_joins_words_lines_and_pages() -> None:
    doc = _doc()
    assert doc.pages[0].lines[0].text == "AB 12"
    assert doc.pages[0].text == "AB 12\nZ"
    assert doc.text == "AB 12\nZ\f"


def test_json_round_trip_is_lossless() -> None:
    doc = _doc()
    again = Document.from_json(doc.to_json())
    assert again == doc
    assert again.to_dict()["schema"] == 2
    vote = again.to_dict()["pages"][0]["lines"][0]["words"][0]["chars"][0]["votes"][1]
    assert vote == {"model": "resnet10t.emnist47-v1", "text": "O", "confidence": 0.4}


def test_schema_1_documents_still_read() -> None:
    d = _doc().to_dict()
    d["schema"] = 1
    for page in d["pages"]:
        for line in page["lines"]:
            for word in line["words"]:
                for char in word["chars"]:
                    del char["votes"]
    old = Document.from_dict(d)
    assert old.text == _doc().text
    assert old.pages[0].lines[0].words[0].chars[0].votes == ()


def test_confidences_are_mean_and_min() -> None:
    w = _doc().pages[0].lines[0].words[0]
    assert w.confidence == pytest.approx(0.505)
    assert w.min_confidence == pytest.approx(0.5)


def test_other_schema_is_refused() -> None:
    d = _doc().to_dict()
    d["schema"] = 99
    with pytest.raises(ValueError, match="schema"):
        Document.from_dict(d)


def test_inverted_box_is_refused() -> None:
    with pytest.raises(ValueError, match="inverted"):
        Box(5, 0, 4, 3)


coords = st.integers(min_value=0, max_value=500)


@pytest.mark.property
@given(st.lists(coords, min_size=8, max_size=8))
def test_box_union_contains_both_and_iou_in_unit_range(v: list[int]) -> None:
    a = Box(min(v[0], v[1]), min(v[2], v[3]), max(v[0], v[1]), max(v[2], v[3]))
    b = Box(min(v[4], v[5]), min(v[6], v[7]), max(v[4], v[5]), max(v[6], v[7]))
    u = a.union(b)
    assert u.x0 <= min(a.x0, b.x0) and u.y1 >= max(a.y1, b.y1)
    assert 0.0 <= a.iou(b) <= 1.0
    assert a.iou(b) == pytest.approx(b.iou(a))
    assert Box.from_list(a.to_list()) == a


def test_hocr_is_xhtml_with_the_required_classes_and_boxes() -> None:
    import xml.etree.ElementTree as ET

    doc = _doc()
    root = ET.fromstring(doc.to_hocr())
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages = root.findall(".//h:div[@class='ocr_page']", ns)
    assert len(pages) == 2 and "bbox 0 0 100 50" in pages[0].get("title", "")
    lines = root.findall(".//h:span[@class='ocr_line']", ns)
    words = root.findall(".//h:span[@class='ocrx_word']", ns)
    chars = root.findall(".//h:span[@class='ocrx_cinfo']", ns)
    assert len(lines) == 2 and len(words) == 3 and len(chars) == 5
    assert words[0].get("title") == "bbox 0 0 18 12; x_wconf 50"
    assert "".join(c.text or "" for c in chars) == "AB12Z"


def test_tsv_has_tesseract_columns_and_one_row_per_word() -> None:
    rows = [r.split("\t") for r in _doc().to_tsv().splitlines()]
    assert rows[0][:2] == ["level", "page_num"] and len(rows[0]) == 12
    words = [r for r in rows[1:] if r[0] == "5"]
    assert [w[-1] for w in words] == ["AB", "12", "Z"]
    assert words[0][6:10] == ["0", "0", "18", "12"]
