"""Renderers of a :class:`~handocr.result.Document`, one module per format.

:func:`render` (text formats) and :func:`render_bytes` (every format, the searchable PDF
included) are what the command line and services call; :func:`output_files` names the files
of one input in an output folder. Each format's module can also be used on its own
(:func:`handocr.formats.hocr.to_hocr`, :func:`~handocr.formats.alto.to_alto`,
:func:`~handocr.formats.page.to_page_xml`, :func:`~handocr.formats.pdf.to_pdf`,
:func:`~handocr.formats.tsv.to_tsv`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from handocr.errors import OptionError

if TYPE_CHECKING:
    from handocr.result import Document

__all__ = ["FORMATS", "NEEDS_IMAGES", "SUFFIXES", "output_files", "render", "render_bytes"]

FORMATS = ("text", "json", "hocr", "tsv", "alto", "page", "pdf")
"""Output formats (``handocr read --format``)."""

NEEDS_IMAGES = frozenset({"pdf"})
"""Formats that embed the page images (:func:`render_bytes` needs them)."""

SUFFIXES = {
    "text": ".txt",
    "json": ".json",
    "hocr": ".hocr",
    "tsv": ".tsv",
    "alto": ".alto.xml",
    "page": ".page.xml",
    "pdf": ".pdf",
}
"""File name ending of each format (``handocr read --output-dir``)."""


def render(doc: Document, fmt: str) -> str:
    """Render ``doc`` in one of :data:`FORMATS`.

    Parameters
    ----------
    doc : Document
    fmt : {"text", "json", "hocr", "tsv", "alto", "page"}
        ``text``: :attr:`Document.text` plus a final newline; ``json``: the result schema
        (docs/result-schema.md) plus a newline; ``hocr``: hOCR 1.2; ``tsv``: Tesseract's
        columns; ``alto``: ALTO 4.4; ``page``: PAGE XML 2019 (one page only).

    Returns
    -------
    str

    Raises
    ------
    OptionError
        Unknown ``fmt``, ``pdf`` (binary: :func:`render_bytes`), or ``page`` for a document
        of several pages (PAGE XML holds one page: :func:`output_files` writes one each).
    """
    if fmt == "text":
        return doc.text + "\n"
    if fmt == "json":
        return doc.to_json() + "\n"
    if fmt == "hocr":
        from handocr.formats.hocr import to_hocr

        return to_hocr(doc)
    if fmt == "tsv":
        from handocr.formats.tsv import to_tsv

        return to_tsv(doc)
    if fmt == "alto":
        from handocr.formats.alto import to_alto

        return to_alto(doc)
    if fmt == "page":
        from handocr.formats.page import to_page_xml

        if len(doc.pages) != 1:
            raise OptionError(
                f"PAGE XML holds one page and this result has {len(doc.pages)}: "
                "write them with --output-dir (one file per page)"
            )
        return to_page_xml(doc)
    if fmt == "pdf":
        raise OptionError("pdf is binary and needs the page images: use render_bytes")
    raise OptionError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def render_bytes(
    doc: Document, fmt: str, images: Sequence[bytes] | None = None, *, dpi: int = 300
) -> bytes:
    """Render ``doc`` in any of :data:`FORMATS` as bytes (UTF-8 for the text formats).

    Parameters
    ----------
    doc : Document
    fmt : str
        One of :data:`FORMATS`.
    images : sequence of bytes, optional
        For ``pdf``: each page's image as PNG (:func:`handocr.formats.pdf.encode_page_image`),
        in the order of ``doc.pages``.
    dpi : int, default 300
        For ``pdf``: resolution of the images, dots per inch.

    Raises
    ------
    OptionError
        As :func:`render`, or ``pdf`` without one image per page.
    """
    if fmt != "pdf":
        return render(doc, fmt).encode("utf-8")
    from handocr.formats.pdf import to_pdf

    if images is None or len(images) != len(doc.pages):
        raise OptionError("a PDF needs the image of every page")
    return to_pdf(zip(doc.pages, images, strict=True), dpi=dpi)


def output_files(
    doc: Document, fmt: str, name: str, images: Sequence[bytes] | None = None, *, dpi: int = 300
) -> list[tuple[str, bytes]]:
    """Return the files of one input's result in an output folder: ``(file name, bytes)``.

    ``name`` plus the format's :data:`SUFFIXES`; a PAGE XML result of several pages is one
    file per page, ``<name>.<page number>.page.xml``.

    Raises
    ------
    OptionError
        As :func:`render_bytes`.
    """
    if fmt == "page" and len(doc.pages) != 1:
        from dataclasses import replace

        return [
            (f"{name}.{p.index + 1}{SUFFIXES[fmt]}", render_bytes(replace(doc, pages=(p,)), fmt))
            for p in doc.pages
        ]
    return [(name + SUFFIXES[fmt], render_bytes(doc, fmt, images, dpi=dpi))]
