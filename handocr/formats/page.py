"""PAGE XML output (PRImA, schema 2019-07-15; www.primaresearch.org/schema/PAGE/gts/pagecontent).

Built with :mod:`xml.etree.ElementTree`. PAGE holds one page per document (``PcGts``):
``Metadata`` (creator, creation time), then ``Page`` > ``TextRegion`` (one per reading block,
:func:`handocr.result.page_blocks`, in reading order; a ``ReadingOrder`` names that order when
there are several) > ``TextLine`` > ``Word`` > ``Glyph``, each with its ``Coords`` (the box's
four corners, page pixels) and a ``TextEquiv`` whose ``conf`` is the confidence in [0, 1]
(``Unicode`` the text); a ``TextLine`` has its ``Baseline`` after its ``Coords`` where known.
Each ``Word`` has its kind as the schema's ``production`` attribute (:data:`PRODUCTION`:
``handwritten-printscript`` or ``printed``), and so has a ``TextLine`` or ``TextRegion`` whose
words all share one kind (the schema lets a child override its parent's).
Points are pixels, inclusive (a box's right and bottom edges are its last column and row; a
baseline's ``y`` the last row of ink resting on it). Validated against the official schema in
the tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import TYPE_CHECKING

from handocr.formats._xml import creation_time, namespace, serialise, unit
from handocr.version import __version__

if TYPE_CHECKING:
    from handocr.result import Box, Document, Line, Page

__all__ = ["PAGE_NS", "PRODUCTION", "to_page_xml"]

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
"""The PAGE 2019-07-15 namespace."""

PRODUCTION = {"handwritten": "handwritten-printscript", "printed": "printed"}
"""Each word kind (:data:`handocr.result.KINDS`) as PAGE's ``ProductionSimpleType``: handocr
reads hand-printed (separate) characters, not cursive."""

_SCHEMA = f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd"
_root, _sub = namespace(PAGE_NS, _SCHEMA)


def _coords(parent: ET.Element, box: Box) -> None:
    x0, y0, x1, y1 = box.x0, box.y0, max(box.x1 - 1, box.x0), max(box.y1 - 1, box.y0)
    _sub(parent, "Coords", {"points": f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"})


def _baseline(parent: ET.Element, line: Line) -> None:
    if line.baseline is None:
        return
    (xa, ya), (xb, yb) = line.baseline
    xb = max(xb - 1, xa)  # the last column, as in Coords
    points = f"{xa},{max(ya - 1, 0)} {xb},{max(yb - 1, 0)}"
    _sub(parent, "Baseline", {"points": points})


def _production(kinds: set[str]) -> dict[str, str]:
    """``production`` of an element whose words have ``kinds``: set when they share one."""
    return {"production": PRODUCTION[next(iter(kinds))]} if len(kinds) == 1 else {}


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
        Creation time recorded in the metadata (default now, UTC, or ``$SOURCE_DATE_EPOCH``:
        :func:`handocr.formats._xml.creation_time`).

    Returns
    -------
    str
        XML (UTF-8 declared).

    Raises
    ------
    ValueError
        ``page`` not given and ``doc`` does not hold exactly one page.
    """
    from handocr.result import page_blocks

    if page is None:
        if len(doc.pages) != 1:
            raise ValueError(f"PAGE XML holds one page; this document has {len(doc.pages)}")
        page = doc.pages[0]
    stamp = (created or creation_time()).replace(microsecond=0).isoformat()
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
    blocks = page_blocks(page)
    if len(blocks) > 1:
        order = _sub(_sub(p, "ReadingOrder"), "OrderedGroup", {"id": f"ro{n}"})
        for bi in range(1, len(blocks) + 1):
            _sub(order, "RegionRefIndexed", {"index": str(bi - 1), "regionRef": f"r{n}_{bi}"})
    for bi, block in enumerate(blocks, start=1):
        lines = block.lines_of(page)
        kinds = {w.kind for line in lines for w in line.words}
        attrs = {"id": f"r{n}_{bi}", "type": "paragraph", **_production(kinds)}
        region = _sub(p, "TextRegion", attrs)
        _coords(region, block.box)
        for li, line in enumerate(lines, start=block.first + 1):
            line_kinds = {w.kind for w in line.words}
            tl = _sub(region, "TextLine", {"id": f"l{n}_{li}", **_production(line_kinds)})
            _coords(tl, line.box)
            _baseline(tl, line)
            for wi, word in enumerate(line.words, start=1):
                w = _sub(tl, "Word", {"id": f"w{n}_{li}_{wi}", **_production({word.kind})})
                _coords(w, word.box)
                for ci, ch in enumerate(word.chars, start=1):
                    g = _sub(w, "Glyph", {"id": f"g{n}_{li}_{wi}_{ci}"})
                    _coords(g, ch.box)
                    _text(g, ch.text, ch.confidence)
                _text(w, word.text, word.confidence)
            _text(tl, line.text, line.confidence)
        _text(region, "\n".join(line.text for line in lines))
    return serialise(root)
