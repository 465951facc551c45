"""hOCR 1.2 output (kba.github.io/hocr-spec/1.2), as OCRmyPDF and other hOCR consumers read it.

XHTML built with :mod:`xml.etree.ElementTree`: per page an ``ocr_page`` holding, per reading
block (:func:`handocr.result.page_blocks`), an ``ocr_carea`` > ``ocr_par`` with the block's
``ocr_line`` elements (``baseline slope offset`` in the title: the line's baseline relative to
the bottom-left corner of its box, ``0 0`` where unknown), each holding ``ocrx_word``
elements whose text is a run of ``ocrx_cinfo`` spans, one per character, with **no whitespace
between them** (consumers such as OCRmyPDF's ``HocrParser`` take an element's text with its
children's and tails, so whitespace inside a word would become part of it). ``bbox`` in page
pixels (left, top, right, bottom; right/bottom exclusive like Tesseract's), ``x_wconf`` an
integer percentage, ``x_conf`` per character, ``scan_res`` when the resolution is known.
A word's kind is its ``x_kind`` property (``x_kind handwritten`` or ``x_kind printed``): hOCR
1.2 has no property for it, and leaves properties prefixed ``x_`` to the engine (as
Tesseract's ``x_wconf``, ``x_fsize``); readers skip properties they do not know.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING

from handocr.version import __version__

if TYPE_CHECKING:
    from handocr.result import Box, Document, Line, Page

__all__ = ["XHTML", "page_element", "to_hocr"]

XHTML = "http://www.w3.org/1999/xhtml"
"""The XHTML namespace hOCR documents live in."""

_DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
    ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
)
_CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrx_cinfo"


def _bbox(box: Box) -> str:
    return f"bbox {box.x0} {box.y0} {box.x1} {box.y1}"


def _baseline(line: Line) -> str:
    """``baseline slope offset``: ``y = slope * (x - x0) + y1 + offset`` over the line's box."""
    if line.baseline is None:
        return "baseline 0 0"
    (xa, ya), (xb, yb) = line.baseline
    slope = (yb - ya) / (xb - xa) if xb != xa else 0.0
    offset = round(ya + slope * (line.box.x0 - xa) - line.box.y1)
    return f"baseline {round(slope, 4) + 0.0:g} {offset}"


def _el(parent: ET.Element, tag: str, cls: str, ident: str, title: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {"class": cls, "id": ident, "title": title})
    el.text = "\n"  # layout whitespace between structural elements only, never inside words
    el.tail = "\n"
    return el


def page_element(page: Page, *, dpi: int | None = None) -> ET.Element:
    """Return one page's ``ocr_page`` element (its tree down to the characters).

    Parameters
    ----------
    page : Page
    dpi : int, optional
        Resolution of the page image, dots per inch, recorded as ``scan_res``.

    Returns
    -------
    xml.etree.ElementTree.Element
        A ``div`` in no namespace (the caller's document sets the default namespace).
    """
    from handocr.result import page_blocks

    n = page.index + 1
    title = f'image "{page.source}"; ' if page.source else ""
    title += f"bbox 0 0 {page.width} {page.height}; ppageno {page.number - 1}"
    if dpi is not None:
        title += f"; scan_res {dpi} {dpi}"
    div = _el(ET.Element("root"), "div", "ocr_page", f"page_{n}", title)
    for bi, block in enumerate(page_blocks(page), start=1):
        carea = _el(div, "div", "ocr_carea", f"block_{n}_{bi}", _bbox(block.box))
        par = _el(carea, "p", "ocr_par", f"par_{n}_{bi}", _bbox(block.box))
        par.set("lang", "en")
        for li, line in enumerate(block.lines_of(page), start=block.first + 1):
            _line_element(par, line, f"{n}_{li}")
    return div


def _line_element(par: ET.Element, line: Line, ident: str) -> None:
    """Append a line's ``ocr_line`` (``line_<ident>``) with its words and characters."""
    span = _el(par, "span", "ocr_line", f"line_{ident}", f"{_bbox(line.box)}; {_baseline(line)}")
    for wi, word in enumerate(line.words, start=1):
        wconf = round(100 * word.confidence)
        w = _el(
            span,
            "span",
            "ocrx_word",
            f"word_{ident}_{wi}",
            f"{_bbox(word.box)}; x_wconf {wconf}; x_kind {word.kind}",
        )
        w.text = None
        for ch in word.chars:
            b = ch.box
            c = ET.SubElement(
                w,
                "span",
                {
                    "class": "ocrx_cinfo",
                    "title": f"x_bboxes {b.x0} {b.y0} {b.x1} {b.y1}; "
                    f"x_conf {100 * ch.confidence:.2f}",
                },
            )
            c.text = ch.text


def to_hocr(
    doc: Document, *, version: str = __version__, dpi: Sequence[int | None] | int | None = None
) -> str:
    """Render ``doc`` as an hOCR 1.2 XHTML document.

    Parameters
    ----------
    doc : Document
    version : str
        handocr version recorded in the ``ocr-system`` meta element.
    dpi : int or sequence of (int or None), optional
        Resolution of every page, or of each page, recorded as ``scan_res``.

    Returns
    -------
    str
        Well-formed XHTML (UTF-8 declared); one ``ocr_page`` per page.
    """
    dpis = list(dpi) if isinstance(dpi, Sequence) else [dpi] * len(doc.pages)
    html = ET.Element("html", {"xmlns": XHTML, "xml:lang": "en", "lang": "en"})
    html.text = "\n"
    head = ET.SubElement(html, "head")
    head.text = head.tail = "\n"
    for tag, attrs, text in (
        ("title", {}, "handocr"),
        ("meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"}, None),
        ("meta", {"name": "ocr-system", "content": f"handocr {version}"}, None),
        ("meta", {"name": "ocr-capabilities", "content": _CAPABILITIES}, None),
    ):
        el = ET.SubElement(head, tag, attrs)
        el.text, el.tail = text, "\n"
    body = ET.SubElement(html, "body")
    body.text = body.tail = "\n"
    for page, d in zip(doc.pages, dpis, strict=True):
        body.append(page_element(page, dpi=d))
    xml = ET.tostring(html, encoding="unicode", short_empty_elements=True)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{_DOCTYPE}\n{xml}\n'
