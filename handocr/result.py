"""Result object model: ``Document > Page > Line > Word > Char``, frozen and JSON round-trippable.

A page's lines are its flat reading order; its :class:`Block` objects (text regions or
columns, in reading order) group consecutive runs of them, so ``Page > Block > Line`` is read
with :func:`page_blocks` and every user of ``page.lines`` is unaffected. Boxes are integer
pixels of the input page, top-left origin, half-open ``[x0, x1) x [y0, y1)``. Confidences are
probabilities in ``[0, 1]``. Results hold no images or tensors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from handocr.geometry import Box

__all__ = [
    "REJECTED",
    "SCHEMA_VERSION",
    "Baseline",
    "Block",
    "Box",
    "Char",
    "KINDS",
    "Document",
    "Line",
    "ModelInfo",
    "Page",
    "Word",
    "group_blocks",
    "page_blocks",
]

SCHEMA_VERSION = 5
"""Version of the JSON result schema (docs/result-schema.md). 2 added ``votes`` per character,
3 each page's own ``number`` within its input, its ``blocks``, each line's ``baseline`` and
each word's ``kind``, 4 the calibrated ``exact`` probability and ``rejected``, 5 each word's
``free`` reading and ``in_lexicon`` under a lexicon; :meth:`Document.from_dict` reads 1-5
(words of 1 and 2 are handwritten)."""
READABLE_SCHEMAS = (1, 2, 3, 4, 5)

REJECTED = "[?]"
"""What the text format shows for a word marked ``rejected`` (:attr:`Word.rejected`)."""

KINDS = ("handwritten", "printed")
"""How a word was produced (:attr:`Word.kind`): written by hand, or printed (typed, typeset)."""


@dataclass(frozen=True, slots=True)
class Char:
    """One recognised character.

    Attributes
    ----------
    text : str
        The chosen character (one of the 47 EMNIST classes; merged classes in upper case).
    box : Box
    confidence : float
        The ensemble's probability of ``text``, in ``[0, 1]``.
    alternatives : tuple of (str, float)
        The next most probable characters with their probabilities, best first.
    votes : tuple of (str, str, float)
        Each ensemble member's own vote before context decoding: ``(member "arch.tag", its
        top character, its probability in [0, 1])``; empty when not recorded.
    """

    text: str
    box: Box
    confidence: float
    alternatives: tuple[tuple[str, float], ...] = ()
    votes: tuple[tuple[str, str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "text": self.text,
            "box": self.box.to_list(),
            "confidence": self.confidence,
            "alternatives": [[t, p] for t, p in self.alternatives],
            "votes": [{"model": m, "text": t, "confidence": p} for m, t, p in self.votes],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Char:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["text"],
            Box.from_list(d["box"]),
            float(d["confidence"]),
            tuple((str(t), float(p)) for t, p in d.get("alternatives", ())),
            tuple(
                (str(v["model"]), str(v["text"]), float(v["confidence"]))
                for v in d.get("votes", ())
            ),
        )


class _CharGroup:
    """Shared behaviour of words and lines: confidences over their characters, JSON."""

    __slots__ = ()
    box: Box

    def all_chars(self) -> tuple[Char, ...]:
        """Return every character of the group, left to right."""
        raise NotImplementedError

    def _children(self) -> tuple[tuple[str, list[dict[str, Any]]]]:
        raise NotImplementedError

    @property
    def text(self) -> str:
        """The group's text."""
        raise NotImplementedError

    @property
    def confidence(self) -> float:
        """P(the text is exactly right): ``exact`` when calibrated, else :attr:`char_confidence`."""
        exact = getattr(self, "exact", None)
        return float(exact) if exact is not None else self.char_confidence

    @property
    def char_confidence(self) -> float:
        """Mean character confidence, in ``[0, 1]`` (0 when empty)."""
        values = [c.confidence for c in self.all_chars()]
        return sum(values) / len(values) if values else 0.0

    @property
    def min_confidence(self) -> float:
        """Lowest character confidence, in ``[0, 1]`` (0 when empty)."""
        return min((c.confidence for c in self.all_chars()), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        ((key, children),) = self._children()
        return {
            "text": self.text,
            "box": self.box.to_list(),
            "confidence": self.confidence,
            "calibrated": getattr(self, "exact", None) is not None,
            "char_confidence": self.char_confidence,
            "min_confidence": self.min_confidence,
            key: children,
        }


@dataclass(frozen=True, slots=True)
class Word(_CharGroup):
    """Characters without a word break between them, left to right.

    Attributes
    ----------
    chars : tuple of Char
    box : Box
    kind : {"handwritten", "printed"}, default "handwritten"
        How the word was produced (:data:`KINDS`).
    exact : float or None
        The calibrated probability that the word's text is exactly right
        (:mod:`handocr.confidence`); None when not calibrated.
    rejected : bool
        Its confidence fell below the reader's ``reject_below``: a person should check it (the
        text format shows :data:`REJECTED` instead).
    free : str or None
        Read with a lexicon (:mod:`handocr.lexicon`): the word's free reading, without the
        lexicon, folded (capitals, no accents); None when read without one, or when the free
        reading splits the line into other words. ``text`` is the reading chosen with it.
    in_lexicon : bool or None
        Read with a lexicon: whether the word's lexicon token is one of its words (a token
        joins letter-spaced words of one name, :func:`handocr.lexicon.group_words`, so each
        letter of ``J E A N`` answers for ``JEAN``).

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`KINDS`.
    """

    chars: tuple[Char, ...]
    box: Box
    kind: str = "handwritten"
    exact: float | None = None
    rejected: bool = False
    free: str | None = None
    in_lexicon: bool | None = None

    def __post_init__(self) -> None:
        """Check the kind."""
        if self.kind not in KINDS:
            raise ValueError(f"word kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``kind`` before ``chars``)."""
        d = _CharGroup.to_dict(self)
        chars = d.pop("chars")
        d["kind"] = self.kind
        d["rejected"] = self.rejected
        if self.free is not None or self.in_lexicon is not None:  # read with a lexicon
            d["free"] = self.free
            d["in_lexicon"] = self.in_lexicon
            d["agrees"] = self.free is not None and self.free == self.text.upper()
        d["chars"] = chars
        return d

    @property
    def text(self) -> str:
        """The characters joined."""
        return "".join(c.text for c in self.chars)

    def all_chars(self) -> tuple[Char, ...]:
        """Return the word's characters."""
        return self.chars

    def _children(self) -> tuple[tuple[str, list[dict[str, Any]]]]:
        return (("chars", [c.to_dict() for c in self.chars]),)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        """Inverse of :meth:`to_dict` (a word without ``kind``, before schema 3, is handwritten)."""
        return cls(
            tuple(Char.from_dict(c) for c in d["chars"]),
            Box.from_list(d["box"]),
            str(d.get("kind", "handwritten")),
            _exact(d),
            bool(d.get("rejected", False)),
            None if d.get("free") is None else str(d["free"]),  # schema 5
            None if d.get("in_lexicon") is None else bool(d["in_lexicon"]),
        )


Baseline = tuple[tuple[int, int], tuple[int, int]]
"""A line's baseline: its left and right end points ``((x0, y0), (x1, y1))`` in page pixels.

The straight line the line's characters rest on (descenders hang below it), from the left
edge of the line's box to its right edge; ``y`` is the row below the resting characters' ink,
as a box's ``y1`` is. The end points are mapped to the input page like boxes (so a levelled,
deskewed page gets a sloped baseline)."""


@dataclass(frozen=True, slots=True)
class Line(_CharGroup):
    """Words of one text line, left to right.

    Attributes
    ----------
    words : tuple of Word
    box : Box
    baseline : Baseline or None
        Where the layout estimated the line's baseline (:data:`Baseline`); None when unknown
        (results of schema 1 and 2, lines built by hand).
    exact : float or None
        The calibrated probability that the line's text is exactly right; None when not
        calibrated.
    """

    words: tuple[Word, ...]
    box: Box
    baseline: Baseline | None = None
    exact: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``baseline`` as ``[[x0, y0], [x1, y1]]`` or null)."""
        d = _CharGroup.to_dict(self)
        words = d.pop("words")
        d["baseline"] = None if self.baseline is None else [list(p) for p in self.baseline]
        d["words"] = words
        return d

    @property
    def text(self) -> str:
        """Words joined by a space."""
        return " ".join(w.text for w in self.words)

    @property
    def kind(self) -> str | None:
        """The kind (:data:`KINDS`) all the line's words share; None when mixed or empty."""
        kinds = {w.kind for w in self.words}
        return kinds.pop() if len(kinds) == 1 else None

    def all_chars(self) -> tuple[Char, ...]:
        """Return the characters of all words."""
        return tuple(c for w in self.words for c in w.chars)

    def _children(self) -> tuple[tuple[str, list[dict[str, Any]]]]:
        return (("words", [w.to_dict() for w in self.words]),)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Line:
        """Inverse of :meth:`to_dict`."""
        base = d.get("baseline")  # schema 3
        if base is not None:
            (xa, ya), (xb, yb) = base
            base = ((int(xa), int(ya)), (int(xb), int(yb)))
        words = tuple(Word.from_dict(w) for w in d["words"])
        return cls(words, Box.from_list(d["box"]), base, _exact(d))


def _exact(d: dict[str, Any]) -> float | None:
    """Return a word's or line's calibrated confidence from JSON (None unless ``calibrated``)."""
    return float(d["confidence"]) if d.get("calibrated") else None


@dataclass(frozen=True, slots=True)
class Block:
    """A reading block of a page (a text region or column): a run of its consecutive lines.

    A block holds no lines of its own but the range ``first .. first + count - 1`` of
    :attr:`Page.lines`, so the page's flat reading order stays the one source of its lines
    (:meth:`lines_of`).

    Attributes
    ----------
    box : Box
        Union of its lines' boxes, page pixels.
    first : int
        Index of its first line in :attr:`Page.lines`.
    count : int
        Number of its lines (at least 1).
    """

    box: Box
    first: int
    count: int

    def lines_of(self, page: Page) -> tuple[Line, ...]:
        """Return the block's lines, in reading order, from the page it belongs to."""
        return page.lines[self.first : self.first + self.count]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"box": self.box.to_list(), "first": self.first, "count": self.count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Block:
        """Inverse of :meth:`to_dict`."""
        return cls(Box.from_list(d["box"]), int(d["first"]), int(d["count"]))


def group_blocks(lines: Sequence[Line], block_ids: Sequence[int]) -> tuple[Block, ...]:
    """Return the blocks of lines in reading order: each run of equal ids is one block.

    Parameters
    ----------
    lines : sequence of Line
        A page's lines in reading order.
    block_ids : sequence of int
        One per line: the reading block it belongs to.

    Returns
    -------
    tuple of Block
        Each with its lines' enclosing box; empty when ``lines`` is.

    Raises
    ------
    ValueError
        Not one id per line.

    Examples
    --------
    >>> line = Line((), Box(0, 0, 5, 5))
    >>> [(b.first, b.count) for b in group_blocks([line] * 3, [0, 0, 1])]
    [(0, 2), (2, 1)]
    """
    if len(lines) != len(block_ids):
        raise ValueError(f"{len(block_ids)} block ids for {len(lines)} lines")
    out: list[Block] = []
    first = 0
    for k in range(1, len(lines) + 1):
        if k == len(lines) or block_ids[k] != block_ids[first]:
            box = Box.enclosing([line.box for line in lines[first:k]])
            out.append(Block(box, first, k - first))
            first = k
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its size in pixels, its lines top to bottom, and where it came from.

    Attributes
    ----------
    index : int
        0-based position of the page in the document.
    width, height : int
        Page size in pixels.
    lines : tuple of Line
    source : str or None
        File name (and page number within it, e.g. ``"scan.tif#2"``), or None for arrays.
    number : int
        The page's own 1-based number within its input file (1 for a single image), kept
        under a page selection (``--pages 2,5`` reads pages numbered 2 and 5).
    blocks : tuple of Block
        Reading blocks (text regions, columns) in reading order: consecutive runs of
        ``lines`` that together hold every line once, in order. Empty when the layout's blocks
        are unknown (results of schema 1 and 2, pages built by hand): the page is then one
        block of all its lines (:func:`page_blocks`, which renderers use).

    Raises
    ------
    ValueError
        ``blocks`` is not empty and does not tile ``lines`` in order.
    """

    index: int
    width: int
    height: int
    lines: tuple[Line, ...] = ()
    source: str | None = None
    number: int = 1
    blocks: tuple[Block, ...] = ()

    def __post_init__(self) -> None:
        """Check that the blocks hold every line once, in order."""
        if not self.blocks:
            return
        at = 0
        for b in self.blocks:
            if b.first != at or b.count < 1:
                break
            at += b.count
        else:
            if at == len(self.lines):
                return
        spans = [(b.first, b.count) for b in self.blocks]
        raise ValueError(f"blocks (first, count) {spans} do not tile {len(self.lines)} lines")

    @property
    def text(self) -> str:
        """Lines joined by newlines."""
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "index": self.index,
            "number": self.number,
            "width": self.width,
            "height": self.height,
            "source": self.source,
            "text": self.text,
            "blocks": [b.to_dict() for b in self.blocks],
            "lines": [line.to_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Page:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(d["index"]),
            int(d["width"]),
            int(d["height"]),
            tuple(Line.from_dict(x) for x in d["lines"]),
            d.get("source"),
            int(d.get("number", 1)),  # schema 3; before, pages of a file were not numbered
            tuple(Block.from_dict(b) for b in d.get("blocks", ())),  # schema 3
        )


def page_blocks(page: Page) -> tuple[Block, ...]:
    """Return the page's blocks; a page with lines but no blocks is one block of all of them.

    What the renderers use, so results of schema 1 and 2 and pages built by hand render as
    before. Empty for a page without lines.
    """
    if page.blocks or not page.lines:
        return page.blocks
    return (Block(Box.enclosing([line.box for line in page.lines]), 0, len(page.lines)),)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Which weights produced a result: registry name, tag and the file's sha256."""

    name: str
    tag: str
    sha256: str

    @property
    def key(self) -> str:
        """``"name.tag"``, as in ``weights/MANIFEST.json`` and :attr:`Char.votes`."""
        return f"{self.name}.{self.tag}"

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-ready dict."""
        return {"name": self.name, "tag": self.tag, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Document:
    """Pages in reading order, plus the models that read them."""

    pages: tuple[Page, ...]
    models: tuple[ModelInfo, ...] = field(default=())

    @property
    def text(self) -> str:
        r"""Pages joined by a form feed (``"\f"``)."""
        return "\f".join(p.text for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with ``"schema": SCHEMA_VERSION``."""
        return {
            "schema": SCHEMA_VERSION,
            "models": [m.to_dict() for m in self.models],
            "text": self.text,
            "pages": [p.to_dict() for p in self.pages],
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Return :meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def concat(cls, docs: Sequence[Document], models: Sequence[ModelInfo] = ()) -> Document:
        """Join documents in order into one (with ``models``), pages numbered 0, 1, ... across."""
        pages = [p for d in docs for p in d.pages]
        return cls(tuple(replace(p, index=i) for i, p in enumerate(pages)), tuple(models))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            The dict is of another schema version.
        """
        if d.get("schema") not in READABLE_SCHEMAS:
            raise ValueError(f"unsupported result schema {d.get('schema')!r}")
        return cls(
            tuple(Page.from_dict(p) for p in d["pages"]),
            tuple(ModelInfo(**m) for m in d.get("models", ())),
        )

    @classmethod
    def from_json(cls, s: str) -> Document:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(s))
