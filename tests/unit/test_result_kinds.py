"""Word kinds (handwritten, printed) in the result model: JSON, older schemas, the filter."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from handocr.formats import render_bytes
from handocr.kind import keep_kind
from handocr.result import KINDS, Document, Page
from tests.helpers import mixed_kind_document, sample_document


def test_words_are_handwritten_unless_told() -> None:
    word = sample_document().pages[0].lines[0].words[0]
    assert word.kind == "handwritten" and KINDS == ("handwritten", "printed")
    assert replace(word, kind="printed").kind == "printed"
    with pytest.raises(ValueError, match="word kind must be one of handwritten, printed"):
        replace(word, kind="typed")


def test_kinds_round_trip_through_json() -> None:
    doc = mixed_kind_document()
    d = doc.to_dict()
    words = d["pages"][0]["lines"][0]["words"]
    assert [w["kind"] for w in words] == ["printed", "handwritten"]
    assert list(words[0]) == [
        "text", "box", "confidence", "calibrated", "char_confidence", "min_confidence", "kind",
        "rejected", "chars",
    ]  # fmt: skip
    assert d["schema"] == 5
    assert Document.from_json(doc.to_json()) == doc


@pytest.mark.parametrize("schema", [1, 2])
def test_older_schemas_read_every_word_handwritten(schema: int) -> None:
    d = mixed_kind_document().to_dict()
    d["schema"] = schema
    for page in d["pages"]:
        for line in page["lines"]:
            for word in line["words"]:
                del word["kind"]
    old = Document.from_dict(d)
    assert {w.kind for p in old.pages for line in p.lines for w in line.words} == {"handwritten"}


def test_json_with_kinds_validates_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from tests.cli.test_read import SCHEMA

    jsonschema.validate(json.loads(render_bytes(mixed_kind_document(), "json")), SCHEMA)
    bad = mixed_kind_document().to_dict()
    bad["pages"][0]["lines"][0]["words"][0]["kind"] = "typed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_keep_kind_drops_words_and_empty_lines_and_keeps_blocks_tiling() -> None:
    page = mixed_kind_document().pages[0]
    assert [line.kind for line in page.lines] == [None, "printed", "handwritten"]
    printed = keep_kind(page, "printed")
    assert printed.text == "AB\nCD"
    assert [(b.first, b.count) for b in printed.blocks] == [(0, 2)]
    assert printed.blocks[0].box == page.blocks[0].box  # both of the block's lines stay
    hand = keep_kind(page, "handwritten")
    assert hand.text == "12\nZ"
    assert [(b.first, b.count) for b in hand.blocks] == [(0, 1), (1, 1)]
    assert hand.blocks[0].box == page.lines[0].box  # the block shrank to its one line left
    assert hand.lines[0].baseline == page.lines[0].baseline
    # the result is a valid page (its blocks checked again) that survives JSON
    for kept in (printed, hand):
        assert Page.from_dict(kept.to_dict()) == kept


def test_keep_kind_of_one_kind_only_is_the_page_itself_or_empty() -> None:
    page = sample_document().pages[0]  # every word handwritten, no blocks
    assert keep_kind(page, "handwritten") is page
    none = keep_kind(page, "printed")
    assert none.lines == () and none.blocks == () and none.text == ""
    with pytest.raises(ValueError, match="word kind"):
        keep_kind(page, "all")
