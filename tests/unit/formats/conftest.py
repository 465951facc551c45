"""The XML schemas the format tests validate against (copies, provenance in their README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

SCHEMAS = Path(__file__).parents[2] / "data" / "schemas"


@pytest.fixture(scope="module")
def alto_schema():  # type: ignore[no-untyped-def]
    etree = pytest.importorskip("lxml.etree")
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "alto" / "alto-4-4.xsd")))


@pytest.fixture(scope="module")
def page_schema():  # type: ignore[no-untyped-def]
    etree = pytest.importorskip("lxml.etree")
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "page" / "pagecontent-2019-07-15.xsd")))
