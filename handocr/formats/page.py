"""PAGE XML output (PRImA, schema 2019-07-15; www.primaresearch.org/schema/PAGE/gts/pagecontent).

Built with :mod:`xml.etree.ElementTree`. PAGE holds one page per document (``PcGts``):
``Metadata`` (creator, creation time), then ``Page`` > ``TextRegion`` > ``TextLine`` > ``Word``
> ``Glyph``, each with its ``Coords`` (the box's four corners, page pixels) and a
``TextEquiv`` whose ``conf`` is the confidence in [0, 1] (``Unicode`` the text). Validated
against the official schema in the tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from handocr.formats._xml import namespace, serialise, unit
from handocr.version import __version__

if TYPE_CHECKING:
    from handocr.result import Box, Document, Page

__all__ = ["PAGE_NS", "to_page_xml"]

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
"""The PAGE 2019-07-15 namespace."""

_SCHEMA = f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd"
_root, _sub = namespace(PAGE_NS, _SCHEMA)


def _coords(parent: ET.Element, box: Box) -> None:
    x0, y0, x1, y1 = box.x0, box.y0, max(box.x1 - 1, box.x0), max(box.y1 - 1, box.y0)
    _sub(parent, "Coords", {"points": f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"})


def _text(parent: ET.Element, text: str, conf: float | None = None) -> None:
    attrs = {} if conf is None else {"conf": unit(conf)}
    _sub(_sub(parent, "TextEquiv", attrs), "Unicode").text = text


def to_page_xml(
    doc: Document,
    page: Page | None = None,
    *,
    version: str = __version__,
    created: datetime | None = None,
) -> str:
    """Render one page of ``doc`` as a PAGE XML document.

    Parameters
    ----------
    doc : Document
    page : Page, optional
        The page to render (one of ``doc.pages``); default the document's only page.
    version : str
        handocr version recorded in ``Metadata/Creator``.
    created : datetime, optional
        Creation time recorded in the metadata (default now, UTC).

    Returns
    -------
    str
        XML (UTF-8 declared).

    Raises
    ------
    ValueError
        ``page`` not given and ``doc`` does not hold exactly one page.
    """
    from handocr.result import Box

    if page is None:
        if len(doc.pages) != 1:
            raise ValueError(f"PAGE XML holds one page; this document has {len(doc.pages)}")
        page = doc.pages[0]
    stamp = (created or datetime.now(UTC)).replace(microsecond=0).isoformat()
    root = _root("PcGts")
    meta = _sub(root, "Metadata")
    _sub(meta, "Creator").text = f"handocr {version}"
    _sub(meta, "Created").text = stamp
    _sub(meta, "LastChange").text = stamp
    if doc.models:
        _sub(meta, "Comments").text = "models: " + ", ".join(m.key for m in doc.models)
    p = _sub(
        root,
        "Page",
        {
            "imageFilename": page.source or "",
            "imageWidth": str(page.width),
            "imageHeight": str(page.height),
        },
    )
    n = page.index + 1
    if page.lines:
        region = _sub(p, "TextRegion", {"id": f"r{n}_1", "type": "paragraph"})
        _coords(region, Box.enclosing([line.box for line in page.lines]))
        for li, line in enumerate(page.lines, start=1):
            tl = _sub(region, "TextLine", {"id": f"l{n}_{li}"})
            _coords(tl, line.box)
            for wi, word in enumerate(line.words, start=1):
                w = _sub(tl, "Word", {"id": f"w{n}_{li}_{wi}"})
                _coords(w, word.box)
                for ci, ch in enumerate(word.chars, start=1):
                    g = _sub(w, "Glyph", {"id": f"g{n}_{li}_{wi}_{ci}"})
                    _coords(g, ch.box)
                    _text(g, ch.text, ch.confidence)
                _text(w, word.text, word.confidence)
            _text(tl, line.text, line.confidence)
        _text(region, "\n".join(line.text for line in page.lines))
    return serialise(root)
