"""hOCR 1.2 output (kba.github.io/hocr-spec/1.2), as OCRmyPDF and other hOCR consumers read it.

XHTML built with :mod:`xml.etree.ElementTree`: per page an ``ocr_page`` holding one
``ocr_carea`` > ``ocr_par`` with the page's ``ocr_line`` elements, each holding ``ocrx_word``
elements whose text is a run of ``ocrx_cinfo`` spans, one per character, with **no whitespace
between them** (consumers such as OCRmyPDF's ``HocrParser`` take an element's text with its
children's and tails, so whitespace inside a word would become part of it). ``bbox`` in page
pixels (left, top, right, bottom; right/bottom exclusive like Tesseract's), ``x_wconf`` an
integer percentage, ``x_conf`` per character, ``scan_res`` when the resolution is known.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING

from handocr.version import __version__

if TYPE_CHECKING:
    from handocr.result import Box, Document, Page

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
    n = page.index + 1
    title = f'image "{page.source}"; ' if page.source else ""
    title += f"bbox 0 0 {page.width} {page.height}; ppageno {page.index}"
    if dpi is not None:
        title += f"; scan_res {dpi} {dpi}"
    div = _el(ET.Element("root"), "div", "ocr_page", f"page_{n}", title)
    if not page.lines:
        return div
    from handocr.result import Box

    area = Box.enclosing([line.box for line in page.lines])
    carea = _el(div, "div", "ocr_carea", f"block_{n}_1", _bbox(area))
    par = _el(carea, "p", "ocr_par", f"par_{n}_1", _bbox(area))
    par.set("lang", "en")
    for li, line in enumerate(page.lines, start=1):
        # baseline: a flat line along the bottom of the box (slope 0, offset 0)
        span = _el(par, "span", "ocr_line", f"line_{n}_{li}", _bbox(line.box) + "; baseline 0 0")
        for wi, word in enumerate(line.words, start=1):
            wconf = round(100 * word.confidence)
            w = _el(
                span,
                "span",
                "ocrx_word",
                f"word_{n}_{li}_{wi}",
                f"{_bbox(word.box)}; x_wconf {wconf}",
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
    return div


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
