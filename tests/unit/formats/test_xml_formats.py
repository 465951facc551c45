"""ALTO 4.4 and PAGE XML 2019 output, validated against the official schemas (offline)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from handocr.errors import OptionError
from handocr.formats import output_files, render, render_bytes
from handocr.formats.alto import ALTO_NS, to_alto
from handocr.formats.page import PAGE_NS, to_page_xml
from tests.helpers import sample_document

etree = pytest.importorskip("lxml.etree")


def test_alto_validates_and_carries_words_glyphs_and_confidences(alto_schema) -> None:  # type: ignore[no-untyped-def]
    doc = sample_document()
    root = etree.fromstring(to_alto(doc, version="9.9").encode())
    alto_schema.assertValid(root)
    ns = {"a": ALTO_NS}
    assert len(root.findall(".//a:Page", ns)) == 2
    strings = root.findall(".//a:String", ns)
    assert [s.get("CONTENT") for s in strings] == ["AB", "12", "Z"]
    first = strings[0]
    assert (first.get("HPOS"), first.get("VPOS"), first.get("WIDTH"), first.get("HEIGHT")) == (
        "0", "0", "18", "12",
    )  # fmt: skip
    glyphs = first.findall("a:Glyph", ns)
    assert [g.get("CONTENT") for g in glyphs] == ["A", "B"]
    assert [float(g.get("GC")) for g in glyphs] == [0.5, 0.51]
    assert float(first.get("WC")) == pytest.approx(
        doc.pages[0].lines[0].words[0].confidence, abs=1e-4
    )
    assert len(root.findall(".//a:SP", ns)) == 1  # between the two words of line 1
    assert root.findtext(".//a:softwareVersion", namespaces=ns) == "9.9"


def test_page_xml_validates_one_page_per_document(page_schema) -> None:  # type: ignore[no-untyped-def]
    doc = sample_document()
    when = datetime(2026, 12, 2, tzinfo=UTC)
    for page in doc.pages:
        root = etree.fromstring(to_page_xml(doc, page, created=when).encode())
        page_schema.assertValid(root)
    root = etree.fromstring(to_page_xml(doc, doc.pages[0], created=when).encode())
    ns = {"p": PAGE_NS}
    glyphs = root.findall(".//p:Glyph", ns)
    assert [g.findtext("p:TextEquiv/p:Unicode", namespaces=ns) for g in glyphs] == list("AB12Z")
    assert float(glyphs[1].find("p:TextEquiv", ns).get("conf")) == 0.51
    words = root.findall(".//p:Word", ns)
    assert words[0].find("p:Coords", ns).get("points") == "0,0 17,0 17,11 0,11"
    assert root.findtext(".//p:Created", namespaces=ns) == "2026-12-02T00:00:00+00:00"
    with pytest.raises(ValueError, match="one page"):
        to_page_xml(doc)


def test_page_format_of_several_pages_is_one_file_each() -> None:
    doc = sample_document()
    with pytest.raises(OptionError, match="one page"):
        render(doc, "page")
    files = output_files(doc, "page", "scan.tif")
    assert [name for name, _ in files] == ["scan.tif.1.page.xml", "scan.tif.2.page.xml"]
    # the pages' own numbers within their input: --pages 2,5 writes .2. and .5.
    chosen = replace(
        doc, pages=tuple(replace(p, number=n) for p, n in zip(doc.pages, (2, 5), strict=True))
    )
    names = [name for name, _ in output_files(chosen, "page", "scan.tif")]
    assert names == ["scan.tif.2.page.xml", "scan.tif.5.page.xml"]
    single = replace(doc, pages=doc.pages[:1])
    assert [n for n, _ in output_files(single, "alto", "a.png")] == ["a.png.alto.xml"]
    assert render_bytes(single, "text") == b"AB 12\nZ\n"
    with pytest.raises(OptionError, match="image of every page"):
        render_bytes(single, "pdf")
