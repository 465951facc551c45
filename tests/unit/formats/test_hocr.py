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
    assert words[0].get("title") == "bbox 0 0 18 12; x_wconf 50; x_kind handwritten"
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


def test_words_hold_no_whitespace_and_sit_in_carea_par_line() -> None:
    root = ET.fromstring(to_hocr(sample_document()))
    (page,) = root.findall(".//h:div[@class='ocr_page']", NS)[:1]
    lines = page.findall(
        "h:div[@class='ocr_carea']/h:p[@class='ocr_par']/h:span[@class='ocr_line']", NS
    )
    assert len(lines) == 2
    words = [w for line in lines for w in line.findall("h:span[@class='ocrx_word']", NS)]
    assert ["".join(w.itertext()) for w in words] == ["AB", "12", "Z"]
    assert all((c.tail or "") == "" for w in words for c in w)  # nothing between characters
    empty = root.findall(".//h:div[@class='ocr_page']", NS)[1]
    assert list(empty) == []  # a page without text has no content area


def test_ocrmypdf_hocr_parser_reads_every_word_with_its_text_and_box(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    import pytest

    hocr = pytest.importorskip("ocrmypdf.hocrtransform")
    doc = sample_document()
    path = tmp_path / "page.hocr"
    path.write_text(to_hocr(replace(doc, pages=doc.pages[:1]), dpi=300), encoding="utf-8")
    page = hocr.HocrParser(path).parse()
    assert page.dpi == 300
    words = [w for par in page.children for line in par.children for w in line.children]
    got = [(w.text, (w.bbox.left, w.bbox.top, w.bbox.right, w.bbox.bottom)) for w in words]
    want = [
        (w.text, (w.box.x0, w.box.y0, w.box.x1, w.box.y1))
        for line in doc.pages[0].lines
        for w in line.words
    ]
    assert got == want
    assert words[0].confidence == 0.5
