"""Every threshold of the segmentation stage, in one frozen dataclass.

Lengths are ratios of a line's (or the page's) median glyph height unless the name says
pixels (``_px``); log-probability margins are natural logs. A reading that needs other values
passes its own :class:`SegmentConfig` through :class:`handocr.options.ReadOptions`
(``segment=``), e.g. to switch a step off for an ablation.
"""

from __future__ import annotations

from dataclasses import dataclass

from handocr.errors import OptionError

__all__ = ["SegmentConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentConfig:
    """Thresholds of the segmentation, as ratios of a line's median glyph height.

    Attributes
    ----------
    min_component_px : int
        Connected components whose bounding box is smaller than this many pixels in both
        directions are speckle and dropped (:func:`handocr.segment.find_components`).
    big_ratio : float
        Components at least this share of the page's median component height seed lines.
    line_band : float
        A component joins a line when its centre lies within this many median heights of the
        line's centre.
    track : int
        Big components to the left whose median centre is a line's local baseline estimate,
        so that a line rising or sagging across the page stays one line.
    merge_overlap : float
        Two components of a line merge into one glyph when their horizontal overlap is at least
        this share of the narrower one's width ...
    max_glyph_width : float
        ... and the merged glyph is at most this many line heights wide.
    min_glyph_height : float
        Glyphs lower than this share of the line's median height are punctuation or noise and
        dropped (the 47 classes have no punctuation).
    word_gap : float
        A gap wider than this share of the line's median height always starts a new word.
    gap_factor : float
        A gap wider than this many times the line's median inter-character gap also starts a
        new word, provided it exceeds ``min_word_gap`` heights.
    min_word_gap : float
        Gaps below this share of the median height never start a word.
    min_line_height : float
        Lines whose median glyph height is below this share of the page's text height
        (:func:`handocr.segment.layout.text_height`) are texture, specks or underline
        remnants, and dropped.
    column_gap : float
        A vertical white gutter at least this many page text heights wide, through a block at
        least ``column_min_height`` text heights tall, separates columns (reading order).
    column_min_height : float
        Blocks lower than this (in text heights: about two lines) are never cut into columns,
        so a single row of fields stays one line.
    block_gap : float
        A horizontal white band at least this many text heights high separates blocks.
    satellite_parts : int
        A would-be line of at most this many components, each lying over or under a component
        of a taller neighbouring line, belongs to that line: accents (the acute of an É), the
        detached tail of a Y. 0 switches this off. See ``satellite_height`` and
        ``satellite_gap``.
    satellite_height : float
        ... provided it is lower than this share of the neighbour's median height,
    satellite_gap : float
        ... and separated from it vertically by at most this share of that height.
    mark_gap : float
        A glyph lower than ``mark_height`` of its line's median height, further than this many
        heights from every other glyph of the line, is a stray mark (a dot of dirt, a tick),
        not a character, and dropped; ``inf`` switches this off.
    mark_height : float
        See ``mark_gap``.
    split_aspect : float
        Glyphs at least this many times wider than high are tried as touching characters
        (:func:`handocr.segment.split.split_candidates`).
    piece_aspect : float
        Expected width/height of one piece of a touching glyph, to bound the pieces tried.
    max_pieces : int
        Most pieces a touching glyph is cut into (>= 2).
    split_margin : float
        How much higher (natural log) the pieces' mean best log-probability must be than the
        whole glyph's for a cut to be kept (:func:`handocr.segment.refine.split_touching`).
    merge_margin : float
        How much higher (natural log) the joined glyph's best log-probability must be than
        the mean of its two parts' for two neighbouring glyphs to be read as one
        (:func:`handocr.segment.refine.merge_broken`): the same margin as a cut needs, so
        recognition overrules the geometry only clearly, in either direction.
    merge_gap : float
        Neighbouring glyphs at most this share of the line's median height apart (or
        overlapping) are tried as one broken character ...
    merge_width : float
        ... provided the joined glyph is at most this many times as wide as it, or the line's
        median glyph, is high (typeset digit pairs, 1.2-1.4 times as wide as high, stay apart).

    Raises
    ------
    OptionError
        A count below its minimum or a negative ratio.
    """

    min_component_px: int = 3
    big_ratio: float = 0.5
    line_band: float = 0.6
    track: int = 3
    merge_overlap: float = 0.6
    max_glyph_width: float = 1.5
    min_glyph_height: float = 0.35
    word_gap: float = 0.55
    gap_factor: float = 2.5
    min_word_gap: float = 0.2
    min_line_height: float = 0.4
    column_gap: float = 3.0
    column_min_height: float = 2.5
    block_gap: float = 1.0
    satellite_parts: int = 1
    satellite_height: float = 0.8
    satellite_gap: float = 0.4
    mark_gap: float = 4.0
    mark_height: float = 0.6
    split_aspect: float = 1.4
    piece_aspect: float = 0.5
    max_pieces: int = 4
    split_margin: float = 0.5
    merge_margin: float = 0.5
    merge_gap: float = 0.15
    merge_width: float = 1.0

    def __post_init__(self) -> None:
        """Check counts and signs."""
        if self.track < 1 or self.max_pieces < 2 or self.satellite_parts < 0:
            raise OptionError("track must be >= 1, max_pieces >= 2 and satellite_parts >= 0")
        if self.min_component_px < 0:
            raise OptionError("min_component_px must be >= 0")
        for name in self.__slots__:  # type: ignore[attr-defined]
            value = getattr(self, name)
            if isinstance(value, float) and not value >= 0:
                raise OptionError(f"segmentation threshold {name} must be >= 0, not {value}")
