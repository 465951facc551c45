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
