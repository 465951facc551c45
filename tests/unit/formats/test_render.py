"""formats.render: one entry point per output format."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from handocr.errors import OptionError
from handocr.formats import FORMATS, Format, format_of, output_files, render, render_bytes
from handocr.formats.hocr import to_hocr
from handocr.formats.tsv import to_tsv
from handocr.result import Document
from tests.helpers import sample_document


def test_render_each_format() -> None:
    doc = sample_document()
    assert render(doc, "text") == doc.text + "\n"
    assert Document.from_json(render(doc, "json")) == doc
    assert render(doc, "json").endswith("}\n") and json.loads(render(doc, "json"))["schema"] == 5
    assert render(doc, "hocr") == to_hocr(doc)
    assert render(doc, "tsv") == to_tsv(doc)


def test_unknown_format_is_an_option_error() -> None:
    message = "'docx' is not a format handocr writes; use one of text, json, hocr, tsv, alto"
    with pytest.raises(OptionError, match=message):
        render(sample_document(), "docx")


def test_one_table_entry_per_format() -> None:
    assert list(FORMATS) == ["text", "json", "hocr", "tsv", "alto", "page", "pdf"]
    for name, spec in FORMATS.items():
        assert isinstance(spec, Format) and spec.name == name and format_of(name) is spec
        assert spec.suffix.startswith(".") and spec.media_type and spec.description
    assert len({f.suffix for f in FORMATS.values()}) == len(FORMATS)
    assert [f.name for f in FORMATS.values() if f.needs_images] == ["pdf"]
    assert [f.name for f in FORMATS.values() if f.one_page] == ["page"]
    with pytest.raises(TypeError):
        FORMATS["docx"] = FORMATS["text"]  # type: ignore[index]


def test_every_format_renders_through_its_table_entry() -> None:
    whole = sample_document()
    doc = replace(whole, pages=whole.pages[:1])  # PAGE XML holds one page
    for name, spec in FORMATS.items():
        if spec.binary:
            with pytest.raises(OptionError, match="render_bytes"):
                render(doc, name)
            continue
        data = render_bytes(doc, name)
        assert data == render(doc, name).encode("utf-8")
        assert output_files(doc, name, "scan.png") == [(f"scan.png{spec.suffix}", data)]
    with pytest.raises(OptionError, match="a file holds one page and this result has 2"):
        render(whole, "page")
    assert [n for n, _ in output_files(whole, "page", "a.tif")] == [
        f"a.tif.{p.index + 1}.page.xml" for p in whole.pages
    ]
