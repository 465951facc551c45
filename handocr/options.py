"""Every reading option: its default and its check, in one frozen dataclass.

:class:`ReadOptions` is what :class:`handocr.Recognizer`, :func:`handocr.recognize`, the
``handocr read`` and ``handocr eval-pages`` commands and the benchmarks build; no other module
repeats a default or a check. Values arrive in the form a user types them (a charset name, a page
range ``"1-3,7"``, a cascade margin as text) and are resolved once, here, to typed values
(:class:`handocr.labels.Charset`, a ``frozenset`` of page numbers, a float). A bad value raises
:class:`handocr.errors.OptionError` (exit code ``USAGE``).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from handocr.decode import LETTER_PRIOR
from handocr.ensemble import VOTING, parse_cascade
from handocr.errors import OptionError
from handocr.io import PDF_DPI, parse_page_ranges
from handocr.labels import Charset
from handocr.models.loader import BACKENDS
from handocr.preprocess import BINARIZE
from handocr.segment.config import SegmentConfig

__all__ = ["MODEL_OPTIONS", "ReadOptions"]

MODEL_OPTIONS = ("models", "line_models", "device", "backend", "batch_size", "voting", "cascade")
"""Options that decide the loaded ensemble; a :class:`handocr.Recognizer` whose options differ
only in others shares its loaded models (:meth:`handocr.Recognizer.with_options`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadOptions:
    """How pages are read: models, input, binarisation, segmentation and decoding.

    Every field is keyword-only, the object is immutable and hashable, and
    :meth:`replace` gives a changed copy (checked again).

    Attributes
    ----------
    models : tuple of str or None, default None
        Registered names with an optional weights tag, e.g. ``("cnn.emnist47-v3",)``; None: the
        shipped ``default_ensemble`` of ``weights/MANIFEST.json``. A list or a single name is
        accepted.
    line_models : tuple of str or None, default None
        Line members (CTC recognizers of whole lines, :mod:`handocr.models.line`) fused with
        the character members (:mod:`handocr.fusion`), by ``"arch.tag"``; None: the manifest's
        ``default_line_members``; ``()`` or ``"none"``: none, the character members read alone.
        A comma-separated text is accepted.
    device : str, default "auto"
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (torch members; ONNX Runtime runs on the CPU).
    backend : {"auto", "onnx", "torch"}, default "auto"
        ``onnx``: ONNX Runtime on the CPU, without importing torch; ``torch``: PyTorch on
        ``device``; ``auto``: ONNX Runtime on a CPU-only machine when every member has an
        exported graph (:func:`handocr.models.loader.use_onnx`), else torch.
    batch_size : int, default 1024
        Character crops per forward pass (>= 1); peak memory grows linearly with it.
    voting : {"weighted", "soft", "hard"}, default "weighted"
        How the members' probabilities combine (:func:`handocr.ensemble.combine_votes`).
    cascade : {"auto", "off", "fitted"} or float, default "auto"
        ``auto``/``fitted``: the cascade fitted with the voting weights (the cheapest member
        reads every character, the others only those it is unsure of); ``off``: every member
        reads every character; a number in [0, 1] (or its text): that margin
        (:func:`handocr.ensemble.parse_cascade`).
    dpi : int, default 300
        Resolution at which PDF pages are rendered, dots per inch (> 0).
    pages : frozenset of int or None, default None
        1-based page numbers to read of multi-page inputs; a range text such as ``"1-3,7"`` is
        accepted (:func:`handocr.io.parse_page_ranges`). None: every page.
    binarize : {"otsu", "sauvola"}, default "otsu"
        Global Otsu threshold with hysteresis, or Sauvola's local threshold for uneven lighting
        (:func:`handocr.preprocess.ink_map`).
    remove_lines : bool, default True
        Remove ruled lines and form-box borders during binarisation
        (:func:`handocr.preprocess.ink_map`).
    hysteresis : bool, default True
        Complete faint strokes by hysteresis thresholding (:data:`handocr.preprocess.HYSTERESIS`).
    deskew : bool, default True
        Level pages skewed by :data:`handocr.preprocess.MIN_SKEW_DEG` or more before
        segmentation; boxes are mapped back to the input page
        (:func:`handocr.preprocess.level_page`).
    segment : SegmentConfig, default SegmentConfig()
        Every segmentation threshold (:class:`handocr.segment.SegmentConfig`).
    search : bool, default True
        Recognition-based segmentation as a search: over-segment each line and choose its
        characters by a best-path search over the candidate lattice
        (:func:`handocr.segment.search.search_lines`) with the weights folder's fitted verifier
        (:attr:`handocr.Recognizer.verifier`; without one the layout's glyphs stand): cuts
        touching characters and joins broken ones. False: the layout's glyphs stand.
    charset : Charset or None, default None
        Restrict output to a character set for fields of known type: ``digits``, ``upper``,
        ``letters``, ``alnum`` or explicit characters; a string is resolved
        (:meth:`handocr.labels.Charset.parse`).
    word_context : bool, default True
        Resolve digit/letter look-alikes from the line and word they stand in, with the letter
        prior (:func:`handocr.decode.apply_line_context`).
    case_context : bool, default True
        Decide each line's (or word's) case and print EMNIST's merged classes in it
        (:func:`handocr.decode.apply_case_context`); needs ``word_context``.
    bars_as_i : bool, default True
        In a line that is not lower case, a bar-shaped glyph filed under ``L`` (EMNIST merges
        lower-case l into L) reads ``I`` (:data:`handocr.decode.BAR_ASPECT`).
    letter_prior : float, default 1.0
        Weight of the English letter-frequency prior (:func:`handocr.decode.apply_letter_prior`;
        1 is Bayes' rule for English text, 0 turns it off for codes and serial numbers); >= 0.

    Raises
    ------
    OptionError
        A value outside the documented range or set (the message says which).

    Examples
    --------
    >>> opts = ReadOptions(charset="digits", pages="1-2")
    >>> opts.charset.spec, sorted(opts.pages)
    ('digits', [1, 2])
    >>> ReadOptions.of(chrset="digits")
    Traceback (most recent call last):
    ...
    handocr.errors.OptionError: unknown reading option 'chrset'; did you mean charset?
    """

    models: tuple[str, ...] | None = None
    line_models: tuple[str, ...] | None = None
    device: str = "auto"
    backend: str = "auto"
    batch_size: int = 1024
    voting: str = "weighted"
    cascade: str | float = "auto"
    dpi: int = PDF_DPI
    pages: frozenset[int] | None = None
    binarize: str = "otsu"
    remove_lines: bool = True
    hysteresis: bool = True
    deskew: bool = True
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    search: bool = True
    charset: Charset | None = None
    word_context: bool = True
    case_context: bool = True
    bars_as_i: bool = True
    letter_prior: float = LETTER_PRIOR

    def __post_init__(self) -> None:
        """Check every value and resolve the typed ones."""
        set_ = object.__setattr__  # frozen: resolved values are set once, here
        if self.models is not None:
            names = (self.models,) if isinstance(self.models, str) else tuple(self.models)
            if not names or not all(isinstance(n, str) and n for n in names):
                raise OptionError(f"models must be non-empty names, not {self.models!r}")
            set_(self, "models", names)
        if self.line_models is not None:
            lm = self.line_models
            if isinstance(lm, str):
                lm = (
                    ()
                    if lm.strip().lower() == "none"
                    else tuple(n.strip() for n in lm.split(",") if n.strip())
                )
            if not isinstance(lm, (tuple, list)):
                raise OptionError(f"line_models must be names or 'none', not {lm!r}")
            lm = tuple(lm)
            if not all(isinstance(n, str) and n and n != "none" for n in lm):
                raise OptionError(f"line_models must be names or 'none', not {self.line_models!r}")
            set_(self, "line_models", lm)
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        ):
            raise OptionError(f"device must be auto, cpu, cuda or cuda:N, not {self.device!r}")
        _choice("backend", self.backend, BACKENDS)
        _choice("voting", self.voting, VOTING)
        _choice("binarize", self.binarize, BINARIZE)
        set_(self, "cascade", parse_cascade(self.cascade))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
            raise OptionError(f"batch_size must be an integer, not {self.batch_size!r}")
        if self.batch_size < 1:
            raise OptionError(f"batch_size must be >= 1, not {self.batch_size}")
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, int) or self.dpi <= 0:
            raise OptionError(f"dpi must be a positive integer, not {self.dpi!r}")
        if isinstance(self.pages, str):
            try:
                set_(self, "pages", parse_page_ranges(self.pages))
            except ValueError as err:
                raise OptionError(str(err)) from None
        elif self.pages is not None:
            pages = frozenset(self.pages)
            if not pages or not all(isinstance(p, int) and p >= 1 for p in pages):
                raise OptionError(f"pages must be 1-based page numbers, not {self.pages!r}")
            set_(self, "pages", pages)
        if not isinstance(self.segment, SegmentConfig):
            kind = type(self.segment).__name__
            raise OptionError(f"segment must be a SegmentConfig, not {kind}")
        if self.charset is not None:
            set_(self, "charset", Charset.parse(self.charset))
        try:
            prior = float(self.letter_prior)
        except (TypeError, ValueError):
            raise OptionError(f"letter_prior must be a number, not {self.letter_prior!r}") from None
        if not prior >= 0:
            raise OptionError(f"letter_prior must be >= 0, not {self.letter_prior!r}")
        set_(self, "letter_prior", prior)
        flags = ("remove_lines", "hysteresis", "deskew", "search")
        for name in (*flags, "word_context", "case_context", "bars_as_i"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(f"{name} must be True or False, not {getattr(self, name)!r}")

    @classmethod
    def of(cls, **options: Any) -> ReadOptions:
        """Build from keyword arguments, naming close matches of an unknown one.

        Raises
        ------
        OptionError
            An unknown option name, or a bad value.
        """
        known = [f.name for f in dataclasses.fields(cls)]
        for name in options:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise OptionError(f"unknown reading option {name!r}{hint}")
        return cls(**options)

    def replace(self, **changes: Any) -> ReadOptions:
        """Return a copy with ``changes`` applied and checked (as :meth:`of`)."""
        return ReadOptions.of(**{**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, Any]:
        """Return the options as a shallow dict (typed values, not their text)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def models_differ(self, other: ReadOptions) -> bool:
        """Whether ``other`` needs another ensemble (any of :data:`MODEL_OPTIONS` differs)."""
        return any(getattr(self, n) != getattr(other, n) for n in MODEL_OPTIONS)


def _choice(name: str, value: object, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise OptionError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
