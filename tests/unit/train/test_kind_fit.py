"""handocr.train.kind: generated mixed pages and a tiny fit of the kind classifier."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from handocr.kind import HANDWRITTEN, PRINTED, KindClassifier, load_kind_classifier
from handocr.train.data import load_emnist, to_label_space
from handocr.train.kind import (
    find_fonts,
    fit_kind,
    generate_kind_pages,
    kind_report,
    save_kind_classifier,
)

needs_fonts = pytest.mark.skipif(not find_fonts(), reason="no TrueType fonts installed")


def _glyphs(sample: Path) -> tuple[np.ndarray, np.ndarray]:
    s = load_emnist(sample, "pool47", "train")
    return s.images, to_label_space(s)


@needs_fonts
def test_generated_pages_mix_both_kinds(emnist_sample: Path) -> None:
    glyphs, labels = _glyphs(emnist_sample)
    pages = generate_kind_pages(3, glyphs, labels, seed=3, width=900)
    assert len(pages) == 3
    for p in pages:
        assert p.image.dtype == np.uint8 and p.image.shape[1] == 900
        kinds = {k for _, _, k in p.regions}
        assert kinds == {PRINTED, HANDWRITTEN}
        bands = [(y0, y1) for y0, y1, _ in p.regions]
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(bands))
    again = generate_kind_pages(1, glyphs, labels, seed=3, width=900)[0]
    np.testing.assert_array_equal(again.image, pages[0].image)


def test_no_fonts_is_an_error(emnist_sample: Path) -> None:
    glyphs, labels = _glyphs(emnist_sample)
    with pytest.raises(ValueError, match="fonts"):
        generate_kind_pages(1, glyphs, labels, fonts=[])


def test_report_counts_each_kind() -> None:
    rep = kind_report([1, 1, 0, 0], [1, 0, 0, 0])
    assert rep["accuracy"] == 0.75
    assert rep[PRINTED] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert rep[HANDWRITTEN]["precision"] == pytest.approx(2 / 3)


@needs_fonts
@pytest.mark.slow
@pytest.mark.weights
def test_tiny_fit_separates_printed_from_handwritten(emnist_sample: Path, tmp_path: Path) -> None:
    from handocr.api import Recognizer

    glyphs, labels = _glyphs(emnist_sample)
    rec = Recognizer(device="cpu", line_models=())
    block, report = fit_kind(
        n_pages=12,
        held_out=0.25,
        seed=5,
        recognizer=rec,
        glyphs=glyphs,
        labels=labels,
        quadratic=False,
    )
    KindClassifier.from_dict(block)
    held = report["held_out"]
    assert held["words"] > 0
    balanced = (held[PRINTED]["recall"] + held[HANDWRITTEN]["recall"]) / 2
    assert balanced > 0.65, report
    save_kind_classifier(tmp_path, block, report)
    assert load_kind_classifier(tmp_path).features == KindClassifier.from_dict(block).features


@needs_fonts
def test_prompted_rows_put_printed_prompts_right_above_boxes_of_handprint(
    emnist_sample: Path,
) -> None:
    from handocr.train.promptfields import prompted_row

    glyphs, labels = _glyphs(emnist_sample)
    rng = np.random.default_rng(5)
    for _ in range(4):
        top, boxes = prompted_row(find_fonts(), glyphs, labels, [], rng, 900)
        assert top.shape[1] == boxes.shape[1] == 900 and top.dtype == boxes.dtype == np.uint8
        assert (top < 128).any() and (boxes < 128).any()  # a prompt, and a frame with ink
        rows = (boxes < 128).mean(axis=1)
        assert rows.max() > 0.05  # a frame's top or bottom rule runs across its box


def test_fonts_are_drawn_family_first(tmp_path: Path) -> None:
    from handocr.train.promptfields import pick_font

    many = [tmp_path / "big" / f"{k}.ttf" for k in range(20)]
    one = [tmp_path / "small" / "only.otf"]
    rng = np.random.default_rng(0)
    drawn = [pick_font(many + one, rng) for _ in range(400)]
    assert 0.35 < drawn.count(one[0]) / len(drawn) < 0.65
    with pytest.raises(ValueError, match="no fonts"):
        pick_font([], rng)
