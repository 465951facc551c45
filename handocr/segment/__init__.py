"""Page segmentation with OpenCV contours: components -> glyphs -> lines -> words."""

from __future__ import annotations

from handocr.segment.components import Component, Glyph, find_components, glyph_mask
from handocr.segment.layout import SegmentConfig, TextLine, find_lines, segment_page

__all__ = [
    "Component",
    "Glyph",
    "SegmentConfig",
    "TextLine",
    "find_components",
    "find_lines",
    "glyph_mask",
    "segment_page",
]
