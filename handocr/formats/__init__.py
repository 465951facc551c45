"""Renderers of a :class:`~handocr.result.Document`, one module per format.

:func:`render` is what the command line and services call; each format's module can also be
used on its own (:func:`handocr.formats.hocr.to_hocr`, :func:`handocr.formats.tsv.to_tsv`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handocr.errors import OptionError

if TYPE_CHECKING:
    from handocr.result import Document

__all__ = ["FORMATS", "SUFFIXES", "render"]

FORMATS = ("text", "json", "hocr", "tsv")
"""Output formats of :func:`render` (``handocr read --format``)."""

SUFFIXES = {"text": ".txt", "json": ".json", "hocr": ".hocr", "tsv": ".tsv"}
"""File name ending of each format (``handocr read --output-dir``)."""


def render(doc: Document, fmt: str) -> str:
    """Render ``doc`` in one of :data:`FORMATS`.

    Parameters
    ----------
    doc : Document
    fmt : {"text", "json", "hocr", "tsv"}
        ``text``: :attr:`Document.text` plus a final newline; ``json``: the result schema
        (docs/result-schema.md) plus a newline; ``hocr``: hOCR 1.2; ``tsv``: Tesseract's
        columns.

    Returns
    -------
    str

    Raises
    ------
    OptionError
        Unknown ``fmt``.
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
    raise OptionError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
