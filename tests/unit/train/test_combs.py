"""The synthetic comb-field generator: deterministic, truthful about its cells."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.labels import DIGITS, LABELS, UPPER
from handocr.train.combs import generate_combs


def glyphs() -> tuple[np.ndarray, np.ndarray]:
    """One blob image (white on black) per digit and capital."""
    labels = np.array([LABELS.index(c) for c in DIGITS + UPPER], np.int64)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    for i in range(len(labels)):
        images[i, 6:22, 8 + i % 5 : 16 + i % 5] = 255
    return images, labels


def test_the_same_seed_gives_the_same_fields() -> None:
    a = generate_combs(4, *glyphs(), seed=3)
    b = generate_combs(4, *glyphs(), seed=3)
    assert [s.text for s in a] == [s.text for s in b]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))


def test_fields_hold_their_alphabet_and_fit_their_cells() -> None:
    for s in generate_combs(20, *glyphs(), seed=0):
        assert set(s.text) <= set(DIGITS if s.kind == "digits" else UPPER)
        assert 0 < len(s.text) <= s.cells and 10 <= s.pitch <= 40 and 1 <= s.pen <= 4
        assert s.image.dtype == np.uint8 and s.image.shape[1] > s.cells * s.pitch


def test_missing_glyphs_are_refused() -> None:
    images, labels = glyphs()
    with pytest.raises(ValueError, match="no glyph image"):
        generate_combs(1, images[:10], labels[:10])
