"""Tesseract-style TSV output."""

from __future__ import annotations

from handocr.formats.tsv import to_tsv
from tests.helpers import sample_document


def test_tsv_has_tesseract_columns_and_one_row_per_word() -> None:
    rows = [r.split("\t") for r in to_tsv(sample_document()).splitlines()]
    assert rows[0][:2] == ["level", "page_num"] and len(rows[0]) == 12
    assert all(len(r) == 12 for r in rows)
    words = [r for r in rows[1:] if r[0] == "5"]
    assert [w[-1] for w in words] == ["AB", "12", "Z"]
    assert words[0][6:10] == ["0", "0", "18", "12"]
    assert [r[1] for r in rows[1:] if r[0] == "1"] == ["1", "2"]  # one row per page
