"""ALTO 4.4 XML output (Library of Congress, www.loc.gov/standards/alto/).

Built with :mod:`xml.etree.ElementTree`: ``Description`` (pixel units, the source image, the
processing software), then per page a ``Page`` > ``PrintSpace`` > ``TextBlock`` holding the
page's ``TextLine`` elements, each a run of ``String`` elements (one per word, ``WC`` the word
confidence in [0, 1]) separated by ``SP``, and per character a ``Glyph`` with ``GC`` its
confidence in [0, 1]. Positions (``HPOS``, ``VPOS``, ``WIDTH``, ``HEIGHT``) in page pixels.
Validated against the official schema in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handocr.formats._xml import namespace, serialise, unit
from handocr.version import __version__

if TYPE_CHECKING:
    from handocr.result import Box, Document

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
    from handocr.result import Box

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
    layout = _sub(root, "Layout")
    for page in doc.pages:
        n = page.index + 1
        p = _sub(
            layout,
            "Page",
            {
                "ID": f"page_{n}",
                "PHYSICAL_IMG_NR": str(n),
                "WIDTH": str(page.width),
                "HEIGHT": str(page.height),
            },
        )
        space = _sub(p, "PrintSpace", _pos(Box(0, 0, page.width, page.height)))
        if not page.lines:
            continue
        area = Box.enclosing([line.box for line in page.lines])
        block = _sub(space, "TextBlock", {"ID": f"block_{n}_1", **_pos(area)})
        for li, line in enumerate(page.lines, start=1):
            tl = _sub(block, "TextLine", {"ID": f"line_{n}_{li}", **_pos(line.box)})
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
                        "ID": f"word_{n}_{li}_{wi}",
                        "CONTENT": word.text,
                        **_pos(word.box),
                        "WC": unit(word.confidence),
                    },
                )
                for ci, ch in enumerate(word.chars, start=1):
                    _sub(
                        s,
                        "Glyph",
                        {
                            "ID": f"glyph_{n}_{li}_{wi}_{ci}",
                            "CONTENT": ch.text,
                            **_pos(ch.box),
                            "GC": unit(ch.confidence),
                        },
                    )
    return serialise(root)
