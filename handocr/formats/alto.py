"""ALTO 4.4 XML output (Library of Congress, www.loc.gov/standards/alto/).

Built with :mod:`xml.etree.ElementTree`: ``Description`` (pixel units, the source image, the
processing software), then per page a ``Page`` > ``PrintSpace`` holding one ``TextBlock`` per
reading block (:func:`handocr.result.page_blocks`), in reading order, each with its
``TextLine`` elements (``BASELINE`` the line's baseline as the points list ``"x0,y0 x1,y1"``
that ALTO 4.2 and later take, where known), each a run of ``String`` elements (one per word,
``WC`` the word confidence in [0, 1]) separated by ``SP``, and per character a ``Glyph`` with
``GC`` its confidence in [0, 1]. Positions (``HPOS``, ``VPOS``, ``WIDTH``, ``HEIGHT``) in page
pixels. A word's kind is a tag: ``Tags`` holds an ``OtherTag`` per kind present
(``ID="kind_handwritten"``, ``TYPE="production"``, ``LABEL="handwritten"``; ALTO has no
attribute for it, and ``OtherTag`` is its tag for "any other characteristic", classified by
``TYPE``) that each ``String`` names in its ``TAGREFS``. Validated against the official schema
in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handocr.formats._xml import namespace, serialise, unit
from handocr.version import __version__

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from handocr.result import Box, Document, Line

__all__ = ["ALTO_NS", "to_alto"]

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
"""The ALTO 4 namespace."""

_SCHEMA = f"{ALTO_NS} http://www.loc.gov/alto/v4/alto-4-4.xsd"
_root, _sub = namespace(ALTO_NS, _SCHEMA)


def _pos(box: Box) -> dict[str, str]:
    return {
        "HPOS": str(box.x0),
        "VPOS": str(box.y0),
        "WIDTH": str(box.width),
        "HEIGHT": str(box.height),
    }


def _tag(kind: str) -> str:
    """Return the ``ID`` of a word kind's ``OtherTag``."""
    return f"kind_{kind}"


def to_alto(doc: Document, *, version: str = __version__) -> str:
    """Render ``doc`` as one ALTO 4.4 document (every page a ``Page`` of its ``Layout``).

    Parameters
    ----------
    doc : Document
    version : str
        handocr version recorded as the processing software's version.

    Returns
    -------
    str
        XML (UTF-8 declared).
    """
    from handocr.result import KINDS, Box, page_blocks

    root = _root("alto", {"SCHEMAVERSION": "4.4"})
    desc = _sub(root, "Description")
    _sub(desc, "MeasurementUnit").text = "pixel"
    sources = [p.source for p in doc.pages if p.source]
    if sources:
        info = _sub(desc, "sourceImageInformation")
        _sub(info, "fileName").text = sources[0]
    step = _sub(desc, "Processing", {"ID": "handocr"})
    if doc.models:  # the schema orders the settings before the software
        settings = "models: " + ", ".join(m.key for m in doc.models)
        _sub(step, "processingStepSettings").text = settings
    software = _sub(step, "processingSoftware")
    _sub(software, "softwareName").text = "handocr"
    _sub(software, "softwareVersion").text = version
    kinds = {w.kind for p in doc.pages for line in p.lines for w in line.words}
    if kinds:  # the schema orders Tags after Description (and Styles), before Layout
        tags = _sub(root, "Tags")
        for kind in KINDS:
            if kind in kinds:
                attrs = {"ID": _tag(kind), "TYPE": "production", "LABEL": kind}
                _sub(tags, "OtherTag", {**attrs, "DESCRIPTION": f"{kind} word"})
    layout = _sub(root, "Layout")
    for page in doc.pages:
        n = page.index + 1
        p = _sub(
            layout,
            "Page",
            {
                "ID": f"page_{n}",
                "PHYSICAL_IMG_NR": str(page.number),
                "WIDTH": str(page.width),
                "HEIGHT": str(page.height),
            },
        )
        space = _sub(p, "PrintSpace", _pos(Box(0, 0, page.width, page.height)))
        for bi, b in enumerate(page_blocks(page), start=1):
            block = _sub(space, "TextBlock", {"ID": f"block_{n}_{bi}", **_pos(b.box)})
            for li, line in enumerate(b.lines_of(page), start=b.first + 1):
                _line(block, line, f"{n}_{li}")
    return serialise(root)


def _line(block: ET.Element, line: Line, ident: str) -> None:
    """Append a line's ``TextLine`` (``line_<ident>``) with its words and glyphs."""
    from handocr.result import Box

    attrs = {"ID": f"line_{ident}", **_pos(line.box)}
    if line.baseline is not None:
        attrs["BASELINE"] = " ".join(f"{x},{y}" for x, y in line.baseline)
    tl = _sub(block, "TextLine", attrs)
    for wi, word in enumerate(line.words, start=1):
        if wi > 1:
            prev = line.words[wi - 2].box
            gap = Box(prev.x1, line.box.y0, max(prev.x1 + 1, word.box.x0), line.box.y1)
            _sub(
                tl,
                "SP",
                {"HPOS": str(gap.x0), "VPOS": str(gap.y0), "WIDTH": str(gap.width)},
            )
        s = _sub(
            tl,
            "String",
            {
                "ID": f"word_{ident}_{wi}",
                "CONTENT": word.text,
                **_pos(word.box),
                "WC": unit(word.confidence),
                "TAGREFS": _tag(word.kind),
            },
        )
        for ci, ch in enumerate(word.chars, start=1):
            _sub(
                s,
                "Glyph",
                {
                    "ID": f"glyph_{ident}_{wi}_{ci}",
                    "CONTENT": ch.text,
                    **_pos(ch.box),
                    "GC": unit(ch.confidence),
                },
            )
