"""Renderers of a :class:`~handocr.result.Document`: one :class:`Format` table, one module each.

:data:`FORMATS` holds every output format once: its name, file ending, media type, whether it
embeds the page images, a one-line description (the command line's help) and its renderer.
:func:`render` (text formats) and :func:`render_bytes` (every format, the searchable PDF
included) are what the command line and services call; :func:`output_files` names the files
of one input in an output folder. Each format's module can also be used on its own
(:func:`handocr.formats.hocr.to_hocr`, :func:`~handocr.formats.alto.to_alto`,
:func:`~handocr.formats.page.to_page_xml`, :func:`~handocr.formats.pdf.to_pdf`,
:func:`~handocr.formats.tsv.to_tsv`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from handocr.errors import OptionError

if TYPE_CHECKING:
    from handocr.result import Document

__all__ = ["FORMATS", "Format", "Renderer", "format_of", "output_files", "render", "render_bytes"]

Renderer = Callable[["Document", "Sequence[bytes] | None", int], "str | bytes"]
"""``renderer(doc, images, dpi)``: text (``str``) for a text format, ``bytes`` for a binary one.
``images`` (each page as PNG) and ``dpi`` are used only by formats that embed the page images."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Format:
    """One output format: everything the library, the command line and the service know of it.

    Attributes
    ----------
    name : str
        What ``--format`` and the service's ``format`` field take, e.g. ``"alto"``.
    suffix : str
        File name ending in an output folder, e.g. ``".alto.xml"``.
    media_type : str
        HTTP ``Content-Type`` of the service's answer.
    description : str
        One line for the command line's help.
    renderer : Renderer
        Renders a document; lazy, so a format's libraries load only when it is used.
    needs_images : bool, default False
        The format embeds the page images: :func:`render_bytes` needs them.
    binary : bool, default False
        The renderer gives bytes (:func:`render_bytes` only), not text.
    one_page : bool, default False
        A file holds one page: :func:`output_files` writes one file per page.
    """

    name: str
    suffix: str
    media_type: str
    description: str
    renderer: Renderer
    needs_images: bool = False
    binary: bool = False
    one_page: bool = False


def _text(doc: Document, images: Sequence[bytes] | None, dpi: int) -> str:
    """Return the text; a word marked rejected (``--reject-below``) shows as ``[?]``."""
    from handocr.result import REJECTED

    pages = (
        "\n".join(" ".join(REJECTED if w.rejected else w.text for w in ln.words) for ln in p.lines)
        for p in doc.pages
    )
    return "\f".join(pages) + "\n"


def _json(doc: Document, images: Sequence[bytes] | None, dpi: int) -> str:
    return doc.to_json() + "\n"


def _lazy(module: str, function: str) -> Renderer:
    """Return a renderer calling ``module.function(doc)``, importing the module on first use."""

    def render(doc: Document, images: Sequence[bytes] | None, dpi: int) -> str:
        to_text: Callable[[Document], str] = getattr(importlib.import_module(module), function)
        return to_text(doc)

    return render


def _pdf(doc: Document, images: Sequence[bytes] | None, dpi: int) -> bytes:
    from handocr.formats.pdf import to_pdf

    if images is None or len(images) != len(doc.pages):
        raise OptionError("a PDF needs the image of every page")
    return to_pdf(zip(doc.pages, images, strict=True), dpi=dpi)


FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        f.name: f
        for f in (
            Format(
                name="text",
                suffix=".txt",
                media_type="text/plain; charset=utf-8",
                description="the text, lines by newlines, pages by a form feed",
                renderer=_text,
            ),
            Format(
                name="json",
                suffix=".json",
                media_type="application/json",
                description="every page, line, word and character with its box, confidence "
                "and alternatives (docs/result-schema.md)",
                renderer=_json,
            ),
            Format(
                name="hocr",
                suffix=".hocr",
                media_type="application/xhtml+xml",
                description="hOCR 1.2 (HTML with the boxes)",
                renderer=_lazy("handocr.formats.hocr", "to_hocr"),
            ),
            Format(
                name="tsv",
                suffix=".tsv",
                media_type="text/tab-separated-values; charset=utf-8",
                description="Tesseract's TSV columns, a row per page, block, line and word",
                renderer=_lazy("handocr.formats.tsv", "to_tsv"),
            ),
            Format(
                name="alto",
                suffix=".alto.xml",
                media_type="application/xml",
                description="ALTO 4.4 XML",
                renderer=_lazy("handocr.formats.alto", "to_alto"),
            ),
            Format(
                name="page",
                suffix=".page.xml",
                media_type="application/xml",
                description="PAGE XML 2019, one file per page",
                renderer=_lazy("handocr.formats.page", "to_page_xml"),
                one_page=True,
            ),
            Format(
                name="pdf",
                suffix=".pdf",
                media_type="application/pdf",
                description="a searchable PDF: the page images (taken at --dpi) with an "
                "invisible text layer",
                renderer=_pdf,
                needs_images=True,
                binary=True,
            ),
        )
    }
)
"""Every output format by name, in the order the help lists them (``handocr read --format``)."""


def format_of(name: str) -> Format:
    """Return the :class:`Format` called ``name``.

    Raises
    ------
    OptionError
        No format has that name (the message lists those that do).

    Examples
    --------
    >>> format_of("alto").suffix
    '.alto.xml'
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise OptionError(
            f"{name!r} is not a format handocr writes; use one of {', '.join(FORMATS)}"
        ) from None


def render(doc: Document, fmt: str) -> str:
    """Render ``doc`` in one of the text formats of :data:`FORMATS`.

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
    spec = format_of(fmt)
    if spec.binary:
        raise OptionError(f"{spec.name} is binary and needs the page images: use render_bytes")
    out = _render(spec, doc, None, 300)
    if isinstance(out, bytes):  # a text format's renderer gives text
        raise OptionError(f"{spec.name}: its renderer gave bytes, not text")
    return out


def _render(spec: Format, doc: Document, images: Sequence[bytes] | None, dpi: int) -> str | bytes:
    if spec.one_page and len(doc.pages) != 1:
        raise OptionError(
            f"{spec.name}: a file holds one page and this result has {len(doc.pages)}: "
            "write them with --output-dir (one file per page)"
        )
    return spec.renderer(doc, images, dpi)


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
        For formats that embed the page images (``pdf``): each page's image as PNG
        (:func:`handocr.formats.pdf.encode_page_image`), in the order of ``doc.pages``.
    dpi : int, default 300
        For ``pdf``: resolution of the images, dots per inch.

    Raises
    ------
    OptionError
        As :func:`render`, or ``pdf`` without one image per page.
    """
    out = _render(format_of(fmt), doc, images, dpi)
    return out.encode("utf-8") if isinstance(out, str) else out


def output_files(
    doc: Document, fmt: str, name: str, images: Sequence[bytes] | None = None, *, dpi: int = 300
) -> list[tuple[str, bytes]]:
    """Return the files of one input's result in an output folder: ``(file name, bytes)``.

    ``name`` plus the format's :attr:`Format.suffix`; a result of several pages in a format
    that holds one page per file (PAGE XML) is one file per page,
    ``<name>.<page number>.page.xml``: the page's own number in its input
    (:attr:`handocr.result.Page.number`, so ``--pages 2,5`` writes ``.2.`` and ``.5.``), or
    its position in ``doc`` when pages of several inputs share a number.

    Raises
    ------
    OptionError
        As :func:`render_bytes`.
    """
    spec = format_of(fmt)
    if spec.one_page and len(doc.pages) != 1:
        from dataclasses import replace

        own = len({p.number for p in doc.pages}) == len(doc.pages)
        return [
            (
                f"{name}.{p.number if own else k}{spec.suffix}",
                render_bytes(replace(doc, pages=(p,)), fmt),
            )
            for k, p in enumerate(doc.pages, start=1)
        ]
    return [(name + spec.suffix, render_bytes(doc, fmt, images, dpi=dpi))]
