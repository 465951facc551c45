"""Every threshold of the segmentation stage, in one frozen dataclass.

Lengths are ratios of a line's (or the page's) median candidate height unless the name says
pixels (``_px``); log-probability margins are natural logs. A reading that needs other values
passes its own :class:`SegmentConfig` through :class:`handocr.options.ReadOptions`
(``segment=``), e.g. to switch a step off for an ablation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from handocr.errors import OptionError

__all__ = ["SearchConfig", "SegmentConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentConfig:
    """Thresholds of the segmentation, as ratios of a line's median candidate height.

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
        Two components of a line merge into one candidate when their horizontal overlap is at least
        this share of the narrower one's width ...
    max_glyph_width : float
        ... and the merged candidate is at most this many line heights wide.
    min_glyph_height : float
        Candidates lower than this share of the line's median height are punctuation or noise and
        dropped (the 47 classes have no punctuation).
    word_gap : float
        A gap wider than this share of the line's median height always starts a new word.
    gap_factor : float
        A gap wider than this many times the line's median inter-character gap also starts a
        new word, provided it exceeds ``min_word_gap`` heights.
    min_word_gap : float
        Gaps below this share of the median height never start a word.
    min_line_height : float
        Lines whose median candidate height is below this share of the page's text height
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
    mark_gap : float
        A candidate lower than ``mark_height`` of its line's median height, further than this many
        heights from every other candidate of the line, is a stray mark (a dot of dirt, a tick), not
        a character, and dropped; ``inf`` switches this off.
    mark_height : float
        See ``mark_gap``.
    join_gap : float
        Candidates of the search bridge gaps between layout candidates of at most this many line
        heights (a character broken in two, e.g. a ``Y`` whose strokes do not meet).
    cut_width : float
        Layout candidates at least this many line heights wide are over-segmented at the minima of
        their vertical projection (:func:`handocr.segment.lattice.cut_columns`) ...
    cut_spacing : float
        ... with cuts at least this many line heights apart and from the candidate's edges ...
    cut_ink : float
        ... through columns holding at most this share of the line height in ink.
    max_span : int
        Most atoms (slices between cuts, or whole layout candidates) one lattice candidate spans in
        the search (:func:`handocr.segment.lattice.build_lattice`).
    max_char_width : float
        Candidates wider than this many line heights are not considered (except a layout
        candidate as it stands).
    keep_log_odds : float
        A layout candidate that the search's verifier reads as one character with at least these
        log-odds (natural log) is kept as it stands, neither cut nor joined; ``inf`` searches every
        candidate.
    char_bonus : float
        Added to each chosen character's log-odds in the search: positive values favour more,
        narrower characters, negative values fewer (natural log).

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
    mark_gap: float = 4.0
    mark_height: float = 0.6
    cut_width: float = 0.6
    cut_spacing: float = 0.15
    cut_ink: float = 0.4
    max_span: int = 4
    max_char_width: float = 1.6
    join_gap: float = 0.15
    keep_log_odds: float = 2.5
    char_bonus: float = 0.0

    def __post_init__(self) -> None:
        """Check counts and signs."""
        if self.track < 1 or self.max_span < 1:
            raise OptionError("track and max_span must be >= 1")
        if self.min_component_px < 0:
            raise OptionError("min_component_px must be >= 0")
        for name in self.__slots__:  # type: ignore[attr-defined]
            value = getattr(self, name)
            if name == "char_bonus" and not math.isfinite(value):
                raise OptionError(f"char_bonus must be a finite number, not {value}")
            if isinstance(value, float) and not value >= 0 and name != "char_bonus":
                raise OptionError(f"segmentation threshold {name} must be >= 0, not {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchConfig:
    """The segmentation search's options (:func:`handocr.segment.search.search_lattices`).

    Attributes
    ----------
    enabled : bool, default True
        Recognition-based segmentation as a search: over-segment each line and choose its
        characters by a best-path search over the candidate lattice with the weights folder's
        fitted verifier (:attr:`handocr.Recognizer.verifier`; without one the layout's candidates
        stand): cuts touching characters and joins broken ones. False: the layout's candidates
        stand.

    Raises
    ------
    OptionError
        ``enabled`` is not a bool.
    """

    enabled: bool = True

    def __post_init__(self) -> None:
        """Check the value."""
        if not isinstance(self.enabled, bool):
            raise OptionError(f"search must be True or False, not {self.enabled!r}")
