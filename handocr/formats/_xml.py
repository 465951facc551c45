"""What the namespaced XML writers share: element factory and serialisation (ElementTree)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime

XSI = "http://www.w3.org/2001/XMLSchema-instance"
"""The XML Schema instance namespace (``xsi:schemaLocation``)."""

Sub = Callable[..., ET.Element]


def namespace(ns: str, schema_location: str) -> tuple[Sub, Sub]:
    """Return ``(root, sub)`` element factories for the default namespace ``ns``.

    ``root(tag, attrs=None)`` makes the document element with ``xsi:schemaLocation``;
    ``sub(parent, tag, attrs=None)`` a child element, both in ``ns``.
    """

    def root(tag: str, attrs: dict[str, str] | None = None) -> ET.Element:
        # the default prefix is global to ElementTree: claim it for this document's namespace
        ET.register_namespace("", ns)
        ET.register_namespace("xsi", XSI)
        return ET.Element(
            f"{{{ns}}}{tag}", {f"{{{XSI}}}schemaLocation": schema_location, **(attrs or {})}
        )

    def sub(parent: ET.Element, tag: str, attrs: dict[str, str] | None = None) -> ET.Element:
        return ET.SubElement(parent, f"{{{ns}}}{tag}", attrs or {})

    return root, sub


def serialise(root: ET.Element) -> str:
    """Return the indented document with its XML declaration (UTF-8) and a final newline."""
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def unit(value: float) -> str:
    """Return a confidence clipped to [0, 1], four decimals."""
    return f"{min(max(value, 0.0), 1.0):.4f}"


def creation_time() -> datetime:
    """Return the time an output records as its creation: now, or ``$SOURCE_DATE_EPOCH``.

    ``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) is the reproducible-builds.org convention:
    set, two runs on the same input write byte-identical PAGE XML and PDF files.

    Raises
    ------
    OptionError
        ``SOURCE_DATE_EPOCH`` is set but not an integer.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return datetime.fromtimestamp(int(epoch), UTC)
    except ValueError:
        from handocr.errors import OptionError

        raise OptionError(f"SOURCE_DATE_EPOCH must be whole seconds, not {epoch!r}") from None
