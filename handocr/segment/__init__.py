"""Page segmentation with OpenCV contours: components -> candidates -> lines -> words.

:func:`segment_pieces` gives the candidates of each line as the classifier reads them
(:func:`segment_layout` also each line's reading block and baseline);
:func:`handocr.segment.search.search_lines` then over-segments each line into a lattice of
candidates (:mod:`handocr.segment.lattice`) and chooses its characters by a best-path
search scored by the classifier (passed in) and a verifier (:mod:`handocr.segment.verifier`).
Every threshold lives in :class:`SegmentConfig`.
"""

from __future__ import annotations

from handocr.segment.components import (
    Candidate,
    Component,
    Piece,
    candidate_mask,
    find_components,
)
from handocr.segment.config import SegmentConfig
from handocr.segment.layout import (
    PageLayout,
    TextLine,
    find_lines,
    segment_layout,
    segment_page,
    segment_pieces,
)

__all__ = [
    "Candidate",
    "Component",
    "PageLayout",
    "Piece",
    "SegmentConfig",
    "TextLine",
    "candidate_mask",
    "find_components",
    "find_lines",
    "segment_layout",
    "segment_page",
    "segment_pieces",
]
