"""Page geometry: integer pixel boxes (re-exported by :mod:`handocr.result`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Box"]


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
