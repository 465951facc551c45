"""Reading blocks and baselines in hOCR, ALTO, PAGE and TSV: one block element each, valid."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from handocr.formats.alto import ALTO_NS, to_alto
from handocr.formats.hocr import to_hocr
from handocr.formats.page import PAGE_NS, to_page_xml
from handocr.formats.tsv import to_tsv
from handocr.result import Document
from tests.helpers import draw_columns_page, read_layout, sample_document, two_block_document

etree = pytest.importorskip("lxml.etree")

NS = {"h": "http://www.w3.org/1999/xhtml", "a": ALTO_NS, "p": PAGE_NS}


@pytest.fixture(scope="module")
def columns() -> Document:
    """A synthetic page of two text columns, segmented and decoded without models."""
    return read_layout(draw_columns_page(["ABCDE", "FGHKL"], ["KLMNP", "TUVWX"]), "cols.png")


def test_the_synthetic_columns_are_two_blocks(columns: Document) -> None:
    (page,) = columns.pages
    assert [(b.first, b.count) for b in page.blocks] == [(0, 2), (2, 2)]
    assert all(line.baseline is not None for line in page.lines)


def test_hocr_writes_a_content_area_and_paragraph_per_block(columns: Document) -> None:
    for doc, sizes in ((two_block_document(), [2, 1]), (columns, [2, 2])):
        root = ET.fromstring(to_hocr(doc))
        areas = root.findall(".//h:div[@class='ocr_page']/h:div[@class='ocr_carea']", NS)
        assert [a.get("id") for a in areas] == ["block_1_1", "block_1_2"]
        per_area = [a.findall("h:p[@class='ocr_par']/h:span[@class='ocr_line']", NS) for a in areas]
        assert [len(lines) for lines in per_area] == sizes
        ids = [line.get("id") for lines in per_area for line in lines]
        assert ids == [f"line_1_{k}" for k in range(1, sum(sizes) + 1)]  # numbered page-wide
        block = doc.pages[0].blocks[1]
        assert areas[1].get("title") == "bbox {} {} {} {}".format(*block.box.to_list())
    root = ET.fromstring(to_hocr(two_block_document()))
    titles = [s.get("title") for s in root.findall(".//h:span[@class='ocr_line']", NS)]
    # line 1: box (0, 0, 48, 12), baseline from (0, 12) to (48, 11): slope -1/48, offset 0
    assert titles[0] == "bbox 0 0 48 12; baseline -0.0208 0"
    # a line without a known baseline keeps the flat one along its box's bottom
    plain = ET.fromstring(to_hocr(sample_document()))
    assert plain.find(".//h:span[@class='ocr_line']", NS).get("title").endswith("baseline 0 0")


def test_alto_writes_a_text_block_per_block_with_baselines(alto_schema, columns) -> None:  # type: ignore[no-untyped-def]
    for doc in (two_block_document(), columns):
        root = etree.fromstring(to_alto(doc).encode())
        alto_schema.assertValid(root)
        blocks = root.findall(".//a:PrintSpace/a:TextBlock", NS)
        assert [b.get("ID") for b in blocks] == ["block_1_1", "block_1_2"]
        page = doc.pages[0]
        for el, block in zip(blocks, page.blocks, strict=True):
            assert len(el.findall("a:TextLine", NS)) == block.count
            assert [el.get(k) for k in ("HPOS", "VPOS")] == [str(block.box.x0), str(block.box.y0)]
    root = etree.fromstring(to_alto(two_block_document()).encode())
    assert root.find(".//a:TextLine", NS).get("BASELINE") == "0,12 48,11"
    plain = etree.fromstring(to_alto(sample_document()).encode())
    assert plain.find(".//a:TextLine", NS).get("BASELINE") is None  # unknown: left out


def test_page_xml_writes_a_region_per_block_in_reading_order(page_schema, columns) -> None:  # type: ignore[no-untyped-def]
    for doc in (two_block_document(), columns):
        root = etree.fromstring(to_page_xml(doc).encode())
        page_schema.assertValid(root)
        regions = root.findall(".//p:TextRegion", NS)
        assert [r.get("id") for r in regions] == ["r1_1", "r1_2"]
        refs = root.findall(".//p:ReadingOrder/p:OrderedGroup/p:RegionRefIndexed", NS)
        assert [(r.get("index"), r.get("regionRef")) for r in refs] == [
            ("0", "r1_1"),
            ("1", "r1_2"),
        ]
        for region, block in zip(regions, doc.pages[0].blocks, strict=True):
            lines = region.findall("p:TextLine", NS)
            assert len(lines) == block.count
            # Baseline follows Coords, as the schema's sequence requires
            assert all(
                [c.tag.split("}")[1] for c in line][:2] == ["Coords", "Baseline"] for line in lines
            )
            text = region.findall("p:TextEquiv/p:Unicode", NS)[-1].text
            assert text == "\n".join(line.text for line in block.lines_of(doc.pages[0]))
    root = etree.fromstring(to_page_xml(two_block_document()).encode())
    # inclusive pixels, as Coords: the row above the baseline, the last column
    assert root.find(".//p:TextLine/p:Baseline", NS).get("points") == "0,11 47,10"
    single = etree.fromstring(to_page_xml(sample_document(), sample_document().pages[0]).encode())
    assert single.find(".//p:ReadingOrder", NS) is None  # one region needs no order
    assert [r.get("id") for r in single.findall(".//p:TextRegion", NS)] == ["r1_1"]


def test_tsv_numbers_blocks_and_lines_within_them() -> None:
    rows = [r.split("\t") for r in to_tsv(two_block_document()).splitlines()[1:]]
    lines = [(r[2], r[3], r[4]) for r in rows if r[0] == "4"]
    assert lines == [("1", "1", "1"), ("1", "1", "2"), ("2", "1", "1")]
    words = [(r[2], r[4], r[-1]) for r in rows if r[0] == "5"]
    assert words == [("1", "1", "AB"), ("1", "1", "12"), ("1", "2", "CD"), ("2", "1", "Z")]
