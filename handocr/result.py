"""Result object model: ``Document > Page > Line > Word > Char``, frozen and JSON round-trippable.

Boxes are integer pixels of the input page, top-left origin, half-open ``[x0, x1) x [y0, y1)``.
Confidences are probabilities in ``[0, 1]``. Results hold no images or tensors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMA_VERSION", "Box", "Char", "Document", "Line", "ModelInfo", "Page", "Word"]

SCHEMA_VERSION = 2
"""Version of the JSON result schema (docs/result-schema.md). 2 added ``votes`` per character;
:meth:`Document.from_dict` also reads version 1."""
READABLE_SCHEMAS = (1, 2)


@dataclass(frozen=True, slots=True, order=True)
class Box:
    """An axis-aligned box in page pixels: half-open ``[x0, x1) x [y0, y1)``, top-left origin.

    Raises
    ------
    ValueError
        ``x1 < x0`` or ``y1 < y0``.
    """

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        """Check that the box is not inverted."""
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"inverted box {self.to_list()}")

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        """Area in square pixels."""
        return self.width * self.height

    def union(self, other: Box) -> Box:
        """Return the smallest box holding both."""
        return Box(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )

    def iou(self, other: Box) -> float:
        """Intersection over union in ``[0, 1]`` (0 for two empty boxes)."""
        iw = max(0, min(self.x1, other.x1) - max(self.x0, other.x0))
        ih = max(0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = iw * ih
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    @classmethod
    def enclosing(cls, boxes: Sequence[Box]) -> Box:
        """Return the union of one or more boxes.

        Raises
        ------
        ValueError
            ``boxes`` is empty.
        """
        if not boxes:
            raise ValueError("no boxes to enclose")
        out = boxes[0]
        for b in boxes[1:]:
            out = out.union(b)
        return out

    def to_list(self) -> list[int]:
        """Return ``[x0, y0, x1, y1]``."""
        return [self.x0, self.y0, self.x1, self.y1]

    @classmethod
    def from_list(cls, v: Sequence[int]) -> Box:
        """Inverse of :meth:`to_list`."""
        x0, y0, x1, y1 = (int(a) for a in v)
        return cls(x0, y0, x1, y1)


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
            "min_confidence": self.min_confidence,
            key: children,
        }


@dataclass(frozen=True, slots=True)
class Word(_CharGroup):
    """Characters without a word break between them, left to right."""

    chars: tuple[Char, ...]
    box: Box

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
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(Char.from_dict(c) for c in d["chars"]), Box.from_list(d["box"]))


@dataclass(frozen=True, slots=True)
class Line(_CharGroup):
    """Words of one text line, left to right."""

    words: tuple[Word, ...]
    box: Box

    @property
    def text(self) -> str:
        """Words joined by a space."""
        return " ".join(w.text for w in self.words)

    def all_chars(self) -> tuple[Char, ...]:
        """Return the characters of all words."""
        return tuple(c for w in self.words for c in w.chars)

    def _children(self) -> tuple[tuple[str, list[dict[str, Any]]]]:
        return (("words", [w.to_dict() for w in self.words]),)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Line:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(Word.from_dict(w) for w in d["words"]), Box.from_list(d["box"]))


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
    """

    index: int
    width: int
    height: int
    lines: tuple[Line, ...] = ()
    source: str | None = None

    @property
    def text(self) -> str:
        """Lines joined by newlines."""
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "index": self.index,
            "width": self.width,
            "height": self.height,
            "source": self.source,
            "text": self.text,
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
        )


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
        """Join documents in order into one, numbering their pages 0, 1, 2, ... across them.

        Parameters
        ----------
        docs : sequence of Document
        models : sequence of ModelInfo
            The models of the joined document.

        Returns
        -------
        Document
        """
        from dataclasses import replace

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
