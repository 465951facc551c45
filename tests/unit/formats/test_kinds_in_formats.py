"""Each format writes a word's kind where it has a place, and still validates."""

from __future__ import annotations

import pytest

from handocr.formats.alto import ALTO_NS, to_alto
from handocr.formats.hocr import XHTML, to_hocr
from handocr.formats.page import PAGE_NS, to_page_xml
from tests.helpers import mixed_kind_document, sample_document


def test_hocr_writes_each_words_kind_as_x_kind() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(to_hocr(mixed_kind_document()))
    words = root.findall(f".//{{{XHTML}}}span[@class='ocrx_word']")
    kinds = [w.get("title", "").rsplit("; ", 1)[1] for w in words]
    assert kinds == ["x_kind printed", "x_kind handwritten", "x_kind printed", "x_kind handwritten"]


def test_alto_tags_each_string_with_its_kind_and_validates(alto_schema) -> None:  # type: ignore[no-untyped-def]
    etree = pytest.importorskip("lxml.etree")
    root = etree.fromstring(to_alto(mixed_kind_document()).encode())
    alto_schema.assertValid(root)
    ns = {"a": ALTO_NS}
    tags = {t.get("ID"): t for t in root.findall("a:Tags/a:OtherTag", ns)}
    assert {i: (t.get("TYPE"), t.get("LABEL")) for i, t in tags.items()} == {
        "kind_handwritten": ("production", "handwritten"),
        "kind_printed": ("production", "printed"),
    }
    strings = root.findall(".//a:String", ns)
    labels = [tags[s.get("TAGREFS")].get("LABEL") for s in strings]
    assert labels == ["printed", "handwritten", "printed", "handwritten"]
    # only the kinds present are declared
    one = etree.fromstring(to_alto(sample_document()).encode())
    alto_schema.assertValid(one)
    assert [t.get("ID") for t in one.findall("a:Tags/a:OtherTag", ns)] == ["kind_handwritten"]


def test_page_xml_writes_production_on_words_and_uniform_lines_and_regions(page_schema) -> None:  # type: ignore[no-untyped-def]
    etree = pytest.importorskip("lxml.etree")
    root = etree.fromstring(to_page_xml(mixed_kind_document()).encode())
    page_schema.assertValid(root)
    ns = {"p": PAGE_NS}
    words = root.findall(".//p:Word", ns)
    assert [w.get("production") for w in words] == [
        "printed", "handwritten-printscript", "printed", "handwritten-printscript",
    ]  # fmt: skip
    lines = root.findall(".//p:TextLine", ns)
    assert [x.get("production") for x in lines] == [None, "printed", "handwritten-printscript"]
    regions = root.findall(".//p:TextRegion", ns)
    assert [r.get("production") for r in regions] == [None, "handwritten-printscript"]
