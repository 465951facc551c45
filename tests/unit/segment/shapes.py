"""Synthetic candidates, a classifier and a verifier for the lattice and search tests."""

from __future__ import annotations

import numpy as np

from handocr.labels import NUM_CLASSES, index_of
from handocr.result import Box
from handocr.segment.components import Piece
from handocr.segment.lattice import FEATURES
from handocr.segment.verifier import Verifier

H = 30  # candidate height, pixels


def block(x0: int, width: int, *, y0: int = 10, height: int = H) -> Piece:
    """A solid candidate ``width`` px wide at column ``x0``."""
    return Piece(Box(x0, y0, x0 + width, y0 + height), np.full((height, width), 255, np.uint8))


def touching_pair(x0: int = 0) -> Piece:
    """Two solid 20 px squares joined by a 2 px high bridge at mid-height (one component)."""
    mask = np.zeros((H, 44), np.uint8)
    mask[:, :20] = 255
    mask[:, 24:] = 255
    mask[14:16, 20:24] = 255
    return Piece(Box(x0, 10, x0 + 44, 10 + H), mask)


def confidence_verifier(weight: float = 10.0, bias: float = 0.0) -> Verifier:
    """log_odds = weight * log_p1 + bias: the classifier's confidence alone."""
    f = len(FEATURES)
    w = np.zeros((f, 1))
    w[FEATURES.index("log_p1"), 0] = weight
    return Verifier(np.zeros(f), np.ones(f), [w, np.array([bias])], np.full(NUM_CLASSES, 0.7))


def classify_by_width(pieces):  # type: ignore[no-untyped-def]
    """Squares about 20 px wide read as confident 'A'; anything wider as an unsure 'M'."""
    out = np.full((len(pieces), 1, NUM_CLASSES), 0.01 / (NUM_CLASSES - 1), np.float32)
    for k, p in enumerate(pieces):
        if p.box.width <= 24:
            out[k, 0, index_of("A")] = 0.99
        else:
            out[k, 0] = 1 / NUM_CLASSES
    return out
