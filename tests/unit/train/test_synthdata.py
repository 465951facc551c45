"""Pipeline-matched synthetic crops: EMNIST glyphs read back through the real segmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.labels import LABELS, NUM_CLASSES
from handocr.train.data import load_emnist, to_label_space
from handocr.train.synth import PageStyle, render_page
from handocr.train.synthdata import pipeline_crops, training_styles
from tests.helpers import uniform_recognizer


@pytest.fixture(scope="module")
def glyphs(emnist_sample: Path) -> tuple[np.ndarray, np.ndarray]:
    s = load_emnist(emnist_sample, "pool47", "train")
    return s.images, to_label_space(s)


def test_pipeline_crops_label_the_matched_pieces_and_count_the_rest(glyphs) -> None:  # type: ignore[no-untyped-def]
    images, labels = glyphs
    x, y, report = pipeline_crops(uniform_recognizer(), images, labels, pages=3, seed=4)
    assert x.shape == (len(y), 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert report["matched"] == len(y) > 0
    assert report["chars"] == report["matched"] + report["missed"]
    assert report["pieces"] == report["matched"] + report["wrong"]
    assert ((y >= 0) & (y < NUM_CLASSES)).all()
    again = pipeline_crops(uniform_recognizer(), images, labels, pages=3, seed=4)
    np.testing.assert_array_equal(again[0], x)


def test_training_styles_cover_the_variations_of_real_scans() -> None:
    rng = np.random.default_rng(0)
    styles = [training_styles(rng) for _ in range(200)]
    assert {s.case for s in styles} == {"any", "upper", "mixed"}
    assert any(s.boxed for s in styles) and any(s.ruled for s in styles)
    assert any(s.char_gap[0] < 0 for s in styles)  # touching neighbours
    assert all(s.height[0] >= 10 and s.height[1] <= 25 for s in styles)
    assert any(s.jpeg_quality is not None for s in styles) and any(s.texture for s in styles)


def test_mixed_case_words_are_a_capital_then_lower_case(glyphs) -> None:  # type: ignore[no-untyped-def]
    images, labels = glyphs
    page = render_page(images, labels, PageStyle(case="mixed", lines=2), seed=1)
    words: dict[tuple[int, int], str] = {}
    for c in page.chars:
        words[c.line, c.word] = words.get((c.line, c.word), "") + c.text
    for word in words.values():
        assert word[0].isupper() and word[0] in LABELS
        assert all(ch.islower() or ch in "CIJKLMOPSUVWXYZ" for ch in word[1:]), word


def test_grey_textured_jpeg_pages_keep_the_paper_lighter_than_the_ink(glyphs) -> None:  # type: ignore[no-untyped-def]
    images, labels = glyphs
    style = PageStyle(paper=(200, 200), ink_contrast=(90, 90), texture=10.0, jpeg_quality=50)
    page = render_page(images, labels, style, seed=2)
    ink = np.zeros(page.image.shape, bool)
    for c in page.chars:
        ink[c.box.y0 : c.box.y1, c.box.x0 : c.box.x1] = True
    assert 170 < np.median(page.image[~ink]) < 230
    assert page.image[ink].min() < 150
