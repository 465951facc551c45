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

# The form's 30 field boxes (page pixels) and prompts, from the development set's crops.
FORM_FIELDS = REPO / "docs" / "examples" / "hsf_w4164_fields.tsv"


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
    # issue #4: every one of the form's 28 digit fields exact or within one character
    import csv

    from handocr.evaluate import text_in_box
    from handocr.result import Box

    page = Recognizer(device="cpu").read(EXAMPLE_FORM).pages[0]
    with FORM_FIELDS.open(newline="") as f:
        fields = [r for r in csv.DictReader(f, delimiter="\t") if r["truth"].isdigit()]
    assert len(fields) == 28
    misses = {}
    for r in fields:
        box = Box(int(r["x0"]), int(r["y0"]), int(r["x1"]), int(r["y1"]))
        text = text_in_box(page, box)
        if Levenshtein.distance(text, r["truth"]) > 1:
            misses[r["field"]] = (r["truth"], text)
    assert not misses


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
