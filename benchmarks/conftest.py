"""Fixtures for the benchmarks (synthetic inputs only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SAMPLE = Path(__file__).parents[1] / "tests" / "data" / "emnist47-sample"


@pytest.fixture(scope="session")
def dense_page() -> np.ndarray:
    """A synthetic handprinted page of about 1,500 EMNIST characters (`handocr.train.synth`).

    30 lines of 8 words of 4-8 characters, 28-40 px high, from the committed EMNIST sample.
    """
    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.synth import PageStyle, render_page

    s = load_emnist(SAMPLE, "pool47", "test")
    style = PageStyle(lines=30, words_per_line=8, chars_per_word=(4, 8), height=(28, 40))
    page = render_page(s.images, to_label_space(s), style, seed=0)
    return page.image


@pytest.fixture(scope="session")
def small_field(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300 x 40 px JPEG of one line of 7 EMNIST letters, the size of a kaggle_names field."""
    import cv2

    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.synth import PageStyle, render_page

    s = load_emnist(SAMPLE, "pool47", "test")
    style = PageStyle(lines=1, words_per_line=1, chars_per_word=(7, 7), height=(20, 24), margin=8)
    image = render_page(s.images, to_label_space(s), style, seed=1).image
    scale = min(300 / image.shape[1], 40 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    field = np.full((40, 300), 255, np.uint8)
    field[: small.shape[0], : small.shape[1]] = small
    path = tmp_path_factory.mktemp("field") / "field.jpg"
    cv2.imwrite(str(path), field)
    return path
