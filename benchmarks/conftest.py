"""Fixtures for the benchmarks (synthetic inputs only)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def dense_page() -> np.ndarray:
    """A synthetic page of 20 lines x 40 characters drawn by OpenCV (~800 glyphs)."""
    import cv2

    rng = np.random.default_rng(0)
    alphabet = "ABCDEFGHJKLMNPRTUVWXYZ0123456789"
    page = np.full((20 * 60 + 40, 40 * 34 + 40), 255, np.uint8)
    for row in range(20):
        text = "".join(rng.choice(list(alphabet), 40))
        cv2.putText(page, text, (20, 60 + 60 * row), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 3)
    return page
