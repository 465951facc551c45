"""Every reading option: its default and its check, grouped by the pipeline stage that uses it.

:class:`ReadOptions` holds one frozen config per stage: ``input`` (:class:`InputConfig`),
``clean`` (:class:`handocr.preprocess.CleanConfig`), ``model``
(:class:`handocr.models.config.ModelConfig`), ``segment``
(:class:`handocr.segment.SegmentConfig`), ``search`` (:class:`handocr.segment.SearchConfig`)
and ``decode`` (:class:`handocr.decode.DecodeConfig`); each stage takes its config whole, and
each config is the one owner of its defaults and checks. :class:`handocr.Recognizer`,
:func:`handocr.recognize`, the commands and the benchmarks build a :class:`ReadOptions`,
usually by flat keywords (``ReadOptions(charset="digits", dpi=200)``), which are routed to their
stage; reading ``options.charset`` gives the stage's value. Values arrive in the form a user
types them (a charset name, a page range ``"1-3,7"``, a cascade margin as text) and are
resolved once, in the stage config, to typed values. A bad value raises
:class:`handocr.errors.OptionError` (exit code ``USAGE``).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any, cast

from handocr.decode import DecodeConfig
from handocr.errors import OptionError
from handocr.io import PDF_DPI
from handocr.models.config import ModelConfig
from handocr.preprocess import CleanConfig
from handocr.segment.config import SearchConfig, SegmentConfig

__all__ = ["MODEL_OPTIONS", "STAGES", "InputConfig", "ReadOptions", "parse_pages"]

MODEL_OPTIONS = tuple(f.name for f in dataclasses.fields(ModelConfig))
"""Options that decide the loaded models (:class:`~handocr.models.config.ModelConfig`); a
:class:`handocr.Recognizer` whose options differ only in others shares its loaded models
(:meth:`handocr.Recognizer.with_options`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputConfig:
    """Which pages of an input are read, and how PDF pages are rendered.

    Attributes
    ----------
    dpi : int, default 300
        Resolution at which PDF pages are rendered, dots per inch (> 0).
    pages : frozenset of int or None, default None
        1-based page numbers to read of multi-page inputs; a range text such as ``"1-3,7"`` is
        accepted (:func:`parse_pages`). None: every page.

    Raises
    ------
    OptionError
        ``dpi`` not a positive integer, or ``pages`` not page numbers (the message says how).
    """

    dpi: int = PDF_DPI
    pages: frozenset[int] | None = None

    def __post_init__(self) -> None:
        """Check every value and resolve the page range."""
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, int) or self.dpi <= 0:
            raise OptionError(f"dpi must be a positive integer, not {self.dpi!r}")
        if isinstance(self.pages, str):
            try:
                object.__setattr__(self, "pages", parse_pages(self.pages))
            except OptionError as err:
                raise OptionError(f"pages: {err}") from None
        elif self.pages is not None:
            pages = frozenset(self.pages)
            if not pages or not all(isinstance(p, int) and p >= 1 for p in pages):
                raise OptionError(f"pages must be 1-based page numbers, not {self.pages!r}")
            object.__setattr__(self, "pages", pages)


STAGES: dict[str, type] = {
    "input": InputConfig,
    "clean": CleanConfig,
    "model": ModelConfig,
    "segment": SegmentConfig,
    "search": SearchConfig,
    "decode": DecodeConfig,
}
"""The stage configs of :class:`ReadOptions`, in pipeline order."""

_FLAT = {
    name: stage
    for stage, cls in STAGES.items()
    if stage not in ("segment", "search")
    for name in (f.name for f in dataclasses.fields(cls))
}
"""Each flat option's stage (``segment`` is a stage config itself; ``search`` takes a bool)."""


@dataclass(slots=True, init=False, unsafe_hash=True)  # frozen by __setattr__ below
class ReadOptions:
    """How pages are read: one frozen config per pipeline stage.

    Build it with stage configs or with flat keywords, which are routed to their stage (both
    may be mixed; a flat keyword overrides the stage config's value). The object is immutable
    and hashable; :meth:`replace` gives a changed copy (checked again). Reading a flat name
    (``options.charset``) gives its stage's value.

    Parameters
    ----------
    input : InputConfig, optional
        ``dpi``, ``pages``.
    clean : CleanConfig, optional
        ``binarize``, ``remove_lines``, ``hysteresis``, ``deskew``.
    model : ModelConfig, optional
        ``models``, ``line_models``, ``device``, ``backend``, ``batch_size``, ``voting``,
        ``cascade``.
    segment : SegmentConfig, optional
        Every segmentation threshold.
    search : SearchConfig or bool, optional
        The segmentation search (``search=False`` switches it off).
    decode : DecodeConfig, optional
        ``charset``, ``word_context``, ``case_context``, ``bars_as_i``, ``letter_prior``,
        ``kind``.
    **flat
        Any field of the stage configs above by its own name, e.g. ``charset="digits"``.

    Raises
    ------
    OptionError
        An unknown option (close matches named), or a value outside the documented range or
        set (the message says which).

    Examples
    --------
    >>> opts = ReadOptions(charset="digits", pages="1-2")
    >>> opts.charset.spec, sorted(opts.pages), opts.decode.charset is opts.charset
    ('digits', [1, 2], True)
    >>> ReadOptions.of(chrset="digits")
    Traceback (most recent call last):
    ...
    handocr.errors.OptionError: unknown reading option 'chrset'; did you mean charset?
    """

    input: InputConfig
    clean: CleanConfig
    model: ModelConfig
    segment: SegmentConfig
    search: SearchConfig
    decode: DecodeConfig

    def __init__(self, **given: Any) -> None:
        known = [*STAGES, *_FLAT]
        for name in given:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise OptionError(f"unknown reading option {name!r}{hint}")
        search = given.get("search")
        if search is not None and not isinstance(search, SearchConfig):
            given["search"] = SearchConfig(enabled=search)  # flat search=True/False
        for stage, cls in STAGES.items():
            base: Any = given.get(stage) or cls()
            if not isinstance(base, cls):
                raise OptionError(f"{stage} must be a {cls.__name__}, not {type(base).__name__}")
            changes = {k: v for k, v in given.items() if _FLAT.get(k) == stage}
            config = dataclasses.replace(cast(Any, base), **changes) if changes else base
            object.__setattr__(self, stage, config)

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse: the options are immutable (:meth:`replace` gives a changed copy)."""
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        """Refuse: the options are immutable."""
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __getattr__(self, name: str) -> Any:
        """Read a flat option from its stage (``options.charset`` is ``options.decode.charset``)."""
        stage = _FLAT.get(name)
        if stage is None:
            raise AttributeError(f"ReadOptions has no option {name!r}")
        return getattr(getattr(self, stage), name)

    def __reduce__(self) -> Any:
        """Pickle by stage configs (process pools of ``handocr batch``)."""
        return (_rebuild, (self.stages(),))

    @classmethod
    def of(cls, **options: Any) -> ReadOptions:
        """Build from keyword arguments, naming close matches of an unknown one.

        Raises
        ------
        OptionError
            An unknown option name, or a bad value.
        """
        return cls(**options)

    def replace(self, **changes: Any) -> ReadOptions:
        """Return a copy with ``changes`` (stage configs or flat names) applied and checked."""
        return ReadOptions(**{**self.stages(), **changes})

    def stages(self) -> dict[str, Any]:
        """Return the stage configs by stage name, in pipeline order."""
        return {stage: getattr(self, stage) for stage in STAGES}

    def as_dict(self) -> dict[str, Any]:
        """Return every option as a flat dict (typed values, not their text)."""
        flat = {name: getattr(self, name) for name in _FLAT}
        return {**flat, "segment": self.segment, "search": self.search.enabled}

    def models_differ(self, other: ReadOptions) -> bool:
        """Whether ``other`` needs other models (its :class:`ModelConfig` differs)."""
        return self.model != other.model


def _rebuild(stages: dict[str, Any]) -> ReadOptions:
    return ReadOptions(**stages)


_PAGES_EXAMPLE = "write page numbers and ranges such as 1-3,7"


def parse_pages(spec: str) -> frozenset[int]:
    """Parse a page selection such as ``"1-3,7"`` into 1-based page numbers.

    Parameters
    ----------
    spec : str
        Comma-separated page numbers and inclusive ranges ``a-b`` (``a <= b``), 1-based;
        spaces are ignored.

    Returns
    -------
    frozenset of int

    Raises
    ------
    OptionError
        The message says what is wrong with which part and what to write instead: no page, an
        empty part, a part that is not a number or range, page 0, or a reversed range
        (``5-2 is reversed; write 2-5``).

    Examples
    --------
    >>> sorted(parse_pages("1-3, 7"))
    [1, 2, 3, 7]
    """
    pages: set[int] = set()
    if not spec.strip():
        raise OptionError(f"no page given; {_PAGES_EXAMPLE}")
    for part in spec.replace(" ", "").split(","):
        if not part:
            raise OptionError(f"{spec!r} has an empty part between commas; {_PAGES_EXAMPLE}")
        lo, dash, hi = part.partition("-")
        if not (lo.isdecimal() and (hi.isdecimal() if dash else True)):
            raise OptionError(f"{part!r} is not a page number or range; {_PAGES_EXAMPLE}")
        a = int(lo)
        b = int(hi) if dash else a
        if a < 1:
            if not dash:
                raise OptionError("there is no page 0; pages count from 1")
            fix = f"1-{b}" if b > 1 else "1"
            raise OptionError(f"{part} has page 0, but pages count from 1; write {fix}")
        if b < a:
            raise OptionError(f"{part} is reversed; write {b}-{a}")
        pages.update(range(a, b + 1))
    return frozenset(pages)
