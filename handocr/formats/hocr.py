"""hOCR 1.2 output (kba.github.io/hocr-spec/1.2).

XHTML with ``ocr_page``, ``ocr_line``, ``ocrx_word`` and ``ocrx_cinfo`` elements, ``bbox`` in page
pixels (left, top, right, bottom; right/bottom exclusive like Tesseract's), ``x_wconf`` as an
integer percentage and ``x_conf`` per character.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from handocr.version import __version__

if TYPE_CHECKING:
    from handocr.result import Box, Document

__all__ = ["to_hocr"]


def _bbox(box: Box) -> str:
    return f"bbox {box.x0} {box.y0} {box.x1} {box.y1}"


def to_hocr(doc: Document, *, version: str = __version__) -> str:
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
