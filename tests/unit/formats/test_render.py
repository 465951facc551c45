"""formats.render: one entry point per output format."""

from __future__ import annotations

import json

import pytest

from handocr.errors import OptionError
from handocr.formats import FORMATS, SUFFIXES, render
from handocr.formats.hocr import to_hocr
from handocr.formats.tsv import to_tsv
from handocr.result import Document
from tests.helpers import sample_document


def test_render_each_format() -> None:
    doc = sample_document()
    assert render(doc, "text") == doc.text + "\n"
    assert Document.from_json(render(doc, "json")) == doc
    assert render(doc, "json").endswith("}\n") and json.loads(render(doc, "json"))["schema"] == 2
    assert render(doc, "hocr") == to_hocr(doc)
    assert render(doc, "tsv") == to_tsv(doc)
    assert set(SUFFIXES) == set(FORMATS)


def test_unknown_format_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="format must be one of text, json, hocr, tsv, alto"):
        render(sample_document(), "docx")
