"""Synthetic pages: the generator's ground truth, and segmentation scored against it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.preprocess import estimate_skew, ink_map
from handocr.result import Box
from handocr.segment import segment_page
from handocr.train.data import load_emnist, to_label_space
from handocr.train.synth import PageStyle, match_boxes, render_page

STYLES = {
    "clean": PageStyle(),
    "ruled": PageStyle(ruled=True),
    "boxed": PageStyle(boxed=True),
    "noisy": PageStyle(noise=12.0, slant_deg=12.0),
}


@pytest.fixture(scope="module")
def glyphs(emnist_sample: Path) -> tuple[np.ndarray, np.ndarray]:
    s = load_emnist(emnist_sample, "pool47", "test")
    return s.images, to_label_space(s)


def test_pages_are_reproducible_and_boxes_hold_ink(glyphs: tuple[np.ndarray, np.ndarray]) -> None:
    a = render_page(*glyphs, PageStyle(noise=5.0), seed=3)
    b = render_page(*glyphs, PageStyle(noise=5.0), seed=3)
    assert np.array_equal(a.image, b.image) and a.chars == b.chars
    assert a.image.dtype == np.uint8 and a.image.ndim == 2
    h, w = a.image.shape
    for c in a.chars:
        assert 0 <= c.box.x0 < c.box.x1 <= w and 0 <= c.box.y0 < c.box.y1 <= h
        assert (a.image[c.box.y0 : c.box.y1, c.box.x0 : c.box.x1] < 100).any()
    words = a.text.split()
    assert len(a.text.splitlines()) == 4 and sum(map(len, words)) == len(a.chars)


def test_box_matching() -> None:
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert match_boxes([a], [a, b]) == (0.5, 1.0, 1)
    assert match_boxes([a, b], []) == (1.0, 0.0, 0)


@pytest.mark.parametrize("name", sorted(STYLES))
def test_segmentation_finds_the_characters(
    glyphs: tuple[np.ndarray, np.ndarray], name: str
) -> None:
    truth, found = [], []
    for seed in range(3):
        page = render_page(*glyphs, STYLES[name], seed=seed)
        lines = segment_page(ink_map(page.image))
        offset = len(truth)
        truth += [
            Box(c.box.x0, c.box.y0 + 10_000 * seed, c.box.x1, c.box.y1 + 10_000 * seed)
            for c in page.chars
        ]
        found += [
            Box(g.box.x0, g.box.y0 + 10_000 * seed, g.box.x1, g.box.y1 + 10_000 * seed)
            for line in lines
            for g in line.candidates
        ]
        assert len(lines) == 4, (name, seed, offset)
    precision, recall, _ = match_boxes(truth, found)
    assert precision >= 0.98 and recall >= 0.98, (name, precision, recall)


@pytest.mark.parametrize("seed", range(4))
def test_skew_is_measured_on_multi_line_pages(
    glyphs: tuple[np.ndarray, np.ndarray], seed: int
) -> None:
    page = render_page(*glyphs, PageStyle(skew_deg=5.0, lines=5), seed=seed)
    assert estimate_skew(ink_map(page.image)) == pytest.approx(page.angle_deg, abs=0.3)
    single = render_page(*glyphs, PageStyle(lines=1, margin=4), seed=seed)
    assert estimate_skew(ink_map(single.image)) == 0.0  # a field crop: not enough to tell


def test_sauvola_reads_a_page_under_uneven_light(glyphs: tuple[np.ndarray, np.ndarray]) -> None:
    page = render_page(*glyphs, PageStyle(), seed=11)
    h, w = page.image.shape
    light = np.linspace(0.25, 1.0, w)[None, :] * np.ones((h, 1))  # dark on the left
    dim = (page.image.astype(np.float64) * light).astype(np.uint8)
    truth = [c.box for c in page.chars]
    scores = {}
    for method in ("otsu", "sauvola"):
        lines = segment_page(ink_map(dim, method=method))
        scores[method] = match_boxes(truth, [g.box for ln in lines for g in ln.candidates])[:2]
    assert min(scores["sauvola"]) >= 0.95, scores
    assert min(scores["sauvola"]) > min(scores["otsu"]), scores
    with pytest.raises(ValueError, match="method"):
        ink_map(dim, method="niblack")
