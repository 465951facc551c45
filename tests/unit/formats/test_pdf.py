"""Searchable PDF: page images with an invisible text layer on the words' boxes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from handocr.formats import render_bytes
from handocr.formats.pdf import encode_page_image, to_pdf
from handocr.result import Box, Document
from tests.helpers import sample_document

pdfium = pytest.importorskip("pypdfium2")


def words_of(pdf, index: int, dpi: int):  # type: ignore[no-untyped-def]
    """(text, left, top, right, bottom) in page pixels of each run of non-space characters."""
    page = pdf[index]
    height = page.get_height()
    tp = page.get_textpage()
    text = tp.get_text_range()
    out, cur = [], None
    k = dpi / 72.0
    for i in range(tp.count_chars()):
        ch = tp.get_text_range(i, 1)
        if ch.isspace():
            cur = None
            continue
        left, bottom, right, top = tp.get_charbox(i)
        box = [left * k, (height - top) * k, right * k, (height - bottom) * k]
        if cur is None:
            cur = [ch, *box]
            out.append(cur)
        else:
            cur[0] += ch
            cur[1:] = [
                min(cur[1], box[0]),
                min(cur[2], box[1]),
                max(cur[3], box[2]),
                max(cur[4], box[3]),
            ]
    return text, out


def laid_out() -> Document:
    """The sample document with its second line's word moved onto that line (y 20-32)."""
    doc = sample_document()
    page = doc.pages[0]
    line = page.lines[1]
    (word,) = line.words
    chars = tuple(replace(c, box=Box(c.box.x0, 20, c.box.x1, 32)) for c in word.chars)
    moved = replace(line, words=(replace(word, chars=chars, box=Box(0, 20, 8, 32)),))
    return replace(doc, pages=(replace(page, lines=(page.lines[0], moved)), doc.pages[1]))


def test_every_word_is_found_on_its_box_in_a_multi_page_pdf() -> None:
    doc = laid_out()
    images = [np.full((p.height, p.width), 255, np.uint8) for p in doc.pages]
    data = to_pdf(zip(doc.pages, images, strict=True), dpi=150)
    assert data.startswith(b"%PDF")
    pdf = pdfium.PdfDocument(data)
    assert len(pdf) == 2
    w, h = pdf[0].get_size()
    assert (round(w * 150 / 72), round(h * 150 / 72)) == (100, 50)  # page size from the dpi
    text, found = words_of(pdf, 0, 150)
    assert sorted(text.split()) == ["12", "AB", "Z"]  # (extraction orders by its own rules)
    by_text = {t: box for t, *box in found}
    for word in [word for line in doc.pages[0].lines for word in line.words]:
        b = word.box
        x0, y0, x1, y1 = by_text[word.text]
        # glyph boxes lie inside the word's box (a pixel of tolerance for rounding)
        assert b.x0 - 1 <= x0 < x1 <= b.x1 + 1 and b.y0 - 1 <= y0 < y1 <= b.y1 + 1, (x0, y0, b)
    assert pdf[1].get_textpage().get_text_range() == ""  # the empty page has no text


def test_images_are_embedded_losslessly_and_bad_ones_refused() -> None:
    image = (np.arange(50 * 100) % 256).astype(np.uint8).reshape(50, 100)
    doc = sample_document()
    pdf = pdfium.PdfDocument(render_bytes(doc, "pdf", [encode_page_image(image)] * 2))
    bitmap = pdf[0].render(scale=1.0 * 300 / 72, grayscale=True).to_numpy()
    assert bitmap.shape[:2] == (50, 100)
    with pytest.raises(ValueError, match="gray uint8"):
        encode_page_image(np.zeros((4, 4, 3), np.uint8))
