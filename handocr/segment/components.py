"""Connected ink components from OpenCV contours, and candidates made of one or more of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box
from handocr.segment.config import SegmentConfig

__all__ = ["Candidate", "Component", "Piece", "candidate_mask", "find_components"]


@dataclass(frozen=True, slots=True, eq=False)
class Component:
    """One outer contour of ink.

    Attributes
    ----------
    box : Box
        Bounding box in page pixels.
    contour : ndarray of int32, shape (K, 1, 2)
        The outer contour as OpenCV returns it (x, y), page pixels.
    """

    box: Box
    contour: NDArray[np.int32]

    @property
    def cx(self) -> float:
        """Horizontal centre of the box, pixels."""
        return (self.box.x0 + self.box.x1) / 2

    @property
    def cy(self) -> float:
        """Vertical centre of the box, pixels."""
        return (self.box.y0 + self.box.y1) / 2


@dataclass(frozen=True, slots=True, eq=False)
class Candidate:
    """A character candidate: one or more components (e.g. the bar of a 5, the dot of an i)."""

    box: Box
    parts: tuple[Component, ...]

    @classmethod
    def of(cls, parts: Sequence[Component]) -> Candidate:
        """Build a candidate from its components."""
        return cls(Box.enclosing([p.box for p in parts]), tuple(parts))


def find_components(ink: NDArray[np.uint8], cfg: SegmentConfig | None = None) -> list[Component]:
    """Find the outer contours of the ink and their bounding boxes.

    Parameters
    ----------
    ink : ndarray of uint8, shape (H, W)
        255 = ink (:func:`handocr.preprocess.ink_map`).
    cfg : SegmentConfig, optional
        Its ``min_component_px`` is the speckle size.

    Returns
    -------
    list of Component
        In no particular order; speckle (both box sides under ``min_component_px``) dropped.
    """
    import cv2

    min_px = (cfg or SegmentConfig()).min_component_px
    contours, _ = cv2.findContours(ink, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w < min_px and h < min_px:
            continue
        out.append(Component(Box(x, y, x + w, y + h), np.asarray(c, np.int32)))
    return out


def candidate_mask(ink: NDArray[np.uint8], candidate: Candidate) -> NDArray[np.uint8]:
    """Return the candidate's own ink inside its box (ink of neighbours that reach in is excluded).

    Returns
    -------
    ndarray of uint8, shape (box.height, box.width)
        255 = ink of this candidate.
    """
    import cv2

    b = candidate.box
    mask = np.zeros((b.height, b.width), np.uint8)
    cv2.drawContours(
        mask,
        [p.contour for p in candidate.parts],
        -1,
        255,
        thickness=cv2.FILLED,
        offset=(-b.x0, -b.y0),
    )
    return np.minimum(mask, ink[b.y0 : b.y1, b.x0 : b.x1])


@dataclass(frozen=True, slots=True, eq=False)
class Piece:
    """A character candidate as the classifier sees it: a box and its own ink inside the box.

    Attributes
    ----------
    box : Box
        Page pixels.
    mask : ndarray of uint8, shape (box.height, box.width)
        255 = ink of this candidate.
    """

    box: Box
    mask: NDArray[np.uint8]

    @classmethod
    def of_candidate(cls, ink: NDArray[np.uint8], candidate: Candidate) -> Piece:
        """Return the candidate's box and its own ink (:func:`candidate_mask`) as a piece."""
        return cls(candidate.box, candidate_mask(ink, candidate))

    def join(self, other: Piece) -> Piece:
        """One candidate of two: the enclosing box and both masks' ink."""
        box = Box.enclosing([self.box, other.box])
        mask = np.zeros((box.height, box.width), np.uint8)
        for p in (self, other):
            y, x = p.box.y0 - box.y0, p.box.x0 - box.x0
            region = mask[y : y + p.box.height, x : x + p.box.width]
            np.maximum(region, p.mask, out=region)
        return Piece(box, mask)
