"""The shipped weights: the manifest, a golden file, and the NIST example form end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from handocr import Recognizer
from handocr.models.weights import file_sha256

from .conftest import EXAMPLE_FORM, REPO, SHARED

WEIGHTS = REPO / "weights"
GOLDEN = Path(__file__).parent / "golden"

# The three "0123456789" boxes of the form, in page pixels (from the NIST SD19 field layout).
DIGIT_BOXES = [(133, 807, 747, 912), (787, 807, 1400, 912), (1443, 807, 2060, 912)]


@pytest.mark.weights
def test_manifest_matches_the_files() -> None:
    manifest = json.loads((WEIGHTS / "MANIFEST.json").read_text())
    assert manifest["default_ensemble"]
    for entry in manifest["weights"].values():
        path = WEIGHTS / entry["file"]
        assert file_sha256(path) == entry["sha256"]
        assert path.stat().st_size < 25_000_000
        if "graph" in entry:  # ONNX graph of the member (handocr.runtime)
            assert file_sha256(WEIGHTS / entry["graph"]["file"]) == entry["graph"]["sha256"]


@pytest.mark.weights
def test_shipped_ensemble_matches_golden() -> None:
    from handocr.ensemble import Ensemble

    ref = np.load(GOLDEN / "ensemble_v1.npz")  # synthetic crops + probs; redo when weights change
    probs = Ensemble.from_names(device="cpu").predict_proba(ref["crops"])
    np.testing.assert_allclose(probs, ref["probs"], rtol=1e-3, atol=1e-4)


@pytest.mark.weights
@pytest.mark.slow
def test_example_form_digit_fields_read_within_one_character() -> None:
    page = Recognizer(device="cpu").read(EXAMPLE_FORM).pages[0]
    chars = [c for line in page.lines for w in line.words for c in w.chars]
    for x0, y0, x1, y1 in DIGIT_BOXES:
        inside = [
            c
            for c in chars
            if x0 <= (c.box.x0 + c.box.x1) / 2 < x1 and y0 <= (c.box.y0 + c.box.y1) / 2 < y1
        ]
        text = "".join(c.text for c in sorted(inside, key=lambda c: c.box.x0))
        assert Levenshtein.distance(text, "0123456789") <= 1, text


@pytest.mark.data
@pytest.mark.weights
def test_shipped_cnn_accuracy_on_pool47_test() -> None:
    from handocr.ensemble import Ensemble
    from handocr.evaluate import evaluate_classifier
    from handocr.train.data import load_emnist, to_label_space

    test = load_emnist(SHARED / "emnist47", "pool47", "test")
    report = evaluate_classifier(
        Ensemble.from_names(device="cpu"), test.images, to_label_space(test)
    )
    assert report.ensemble.top1 >= 0.88
