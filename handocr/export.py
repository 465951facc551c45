"""Renderers of a :class:`~handocr.result.Document`: hOCR 1.2 and Tesseract-style TSV.

hOCR follows the hOCR 1.2 specification (kba.github.io/hocr-spec/1.2): XHTML with ``ocr_page``,
``ocr_line``, ``ocrx_word`` and ``ocrx_cinfo`` elements, ``bbox`` in page pixels (left, top,
right, bottom; right/bottom exclusive like Tesseract's), ``x_wconf`` as an integer percentage and
``x_conf`` per character. The TSV has Tesseract's 12 columns, so tools written for
``tesseract ... tsv`` read it.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from handocr.result import Box

if TYPE_CHECKING:
    from handocr.result import Document

__all__ = ["TSV_COLUMNS", "to_hocr", "to_tsv"]

TSV_COLUMNS = (
    "level",
    "page_num",
    "block_num",
    "par_num",
    "line_num",
    "word_num",
    "left",
    "top",
    "width",
    "height",
    "conf",
    "text",
)


def _bbox(box: Box) -> str:
    return f"bbox {box.x0} {box.y0} {box.x1} {box.y1}"


def to_hocr(doc: Document, *, version: str = "") -> str:
    """Render ``doc`` as an hOCR 1.2 XHTML document.

    Parameters
    ----------
    doc : Document
    version : str
        handocr version recorded in the ``ocr-system`` meta element.

    Returns
    -------
    str
        Well-formed XHTML (UTF-8 declared); one ``ocr_page`` per page.
    """
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
        ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
        "<head>",
        "<title>handocr</title>",
        '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>',
        f'<meta name="ocr-system" content="handocr {escape(version)}"/>',
        '<meta name="ocr-capabilities" content="ocr_page ocr_line ocrx_word ocrx_cinfo"/>',
        "</head>",
        "<body>",
    ]
    for p in doc.pages:
        n = p.index + 1
        image = f'image "{p.source}"; ' if p.source else ""
        title = f"{image}bbox 0 0 {p.width} {p.height}; ppageno {p.index}"
        out.append(f'<div class="ocr_page" id="page_{n}" title="{escape(title)}">')
        for li, line in enumerate(p.lines, start=1):
            out.append(f'<span class="ocr_line" id="line_{n}_{li}" title="{_bbox(line.box)}">')
            for wi, word in enumerate(line.words, start=1):
                wconf = round(100 * word.confidence)
                out.append(
                    f'<span class="ocrx_word" id="word_{n}_{li}_{wi}" '
                    f'title="{_bbox(word.box)}; x_wconf {wconf}">'
                )
                for ch in word.chars:
                    title = f"x_bboxes {ch.box.x0} {ch.box.y0} {ch.box.x1} {ch.box.y1}; "
                    title += f"x_conf {100 * ch.confidence:.2f}"
                    out.append(f'<span class="ocrx_cinfo" title="{title}">{escape(ch.text)}</span>')
                out.append("</span>")
            out.append("</span>")
        out.append("</div>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def to_tsv(doc: Document) -> str:
    """Render ``doc`` as Tesseract-style TSV: a header, then page, line and word rows.

    Levels: 1 page, 4 line, 5 word (handocr has no block or paragraph level: both are 1).
    ``conf`` is the mean character confidence in percent (-1 for page and line rows, as in
    Tesseract); positions are page pixels.

    Returns
    -------
    str
        Tab-separated rows ending in a newline.
    """
    rows = ["\t".join(TSV_COLUMNS)]

    def row(level: int, page: int, line: int, word: int, box: Box, conf: float, text: str) -> str:
        cells = (level, page, 1, 1, line, word, box.x0, box.y0, box.width, box.height)
        return "\t".join(map(str, cells)) + f"\t{conf:.2f}\t{text}"

    for p in doc.pages:
        n = p.index + 1
        rows.append(row(1, n, 0, 0, Box(0, 0, p.width, p.height), -1, ""))
        for li, line in enumerate(p.lines, start=1):
            rows.append(row(4, n, li, 0, line.box, -1, ""))
            for wi, word in enumerate(line.words, start=1):
                rows.append(row(5, n, li, wi, word.box, 100 * word.confidence, word.text))
    return "\n".join(rows) + "\n"
