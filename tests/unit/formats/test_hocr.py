"""hOCR 1.2 output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from handocr.formats.hocr import to_hocr
from tests.helpers import sample_document

NS = {"h": "http://www.w3.org/1999/xhtml"}


def test_hocr_is_xhtml_with_the_required_classes_and_boxes() -> None:
    root = ET.fromstring(to_hocr(sample_document()))
    pages = root.findall(".//h:div[@class='ocr_page']", NS)
    assert len(pages) == 2 and "bbox 0 0 100 50" in pages[0].get("title", "")
    lines = root.findall(".//h:span[@class='ocr_line']", NS)
    words = root.findall(".//h:span[@class='ocrx_word']", NS)
    chars = root.findall(".//h:span[@class='ocrx_cinfo']", NS)
    assert len(lines) == 2 and len(words) == 3 and len(chars) == 5
    assert words[0].get("title") == "bbox 0 0 18 12; x_wconf 50"
    assert "".join(c.text or "" for c in chars) == "AB12Z"


def test_hocr_escapes_sources_and_text_and_names_the_version() -> None:
    from dataclasses import replace

    doc = sample_document()
    page = doc.pages[0]
    char = replace(page.lines[0].words[0].chars[0], text="&")
    word = replace(page.lines[0].words[0], chars=(char,))
    line = replace(page.lines[0], words=(word,))
    odd = replace(doc, pages=(replace(page, lines=(line,), source='a"<b>.png'),))
    out = to_hocr(odd, version="9.9")
    root = ET.fromstring(out)  # well-formed despite the quote, brackets and ampersand
    (cinfo,) = root.findall(".//h:span[@class='ocrx_cinfo']", NS)
    assert cinfo.text == "&"
    (page_div,) = root.findall(".//h:div[@class='ocr_page']", NS)
    assert page_div.get("title", "").startswith('image "a"<b>.png"; bbox 0 0 100 50')
    assert root.find(".//h:meta[@name='ocr-system']", NS).get("content") == "handocr 9.9"
