"""The shipped weights: the manifest, golden files for both backends, the NIST example form."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from handocr import Recognizer
from handocr.ensemble import Ensemble
from handocr.models.manifest import load_manifest
from handocr.models.weights import file_sha256
from handocr.train.export import PARITY_ATOL
from tests.helpers import EXAMPLE_FORM, FORM_FIELDS, GOLDEN, SHARED, WEIGHTS

pytestmark = pytest.mark.weights


@pytest.fixture(autouse=True)
def _shipped_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the packaged weights, whatever HANDOCR_WEIGHTS says outside the tests."""
    monkeypatch.delenv("HANDOCR_WEIGHTS", raising=False)
    from handocr import api

    api._cached.cache_clear()


def test_manifest_matches_the_files() -> None:
    manifest = json.loads((WEIGHTS / "MANIFEST.json").read_text())
    assert manifest["default_ensemble"]
    for entry in manifest["weights"].values():
        path = WEIGHTS / entry["file"]
        assert file_sha256(path) == entry["sha256"]
        assert path.stat().st_size < 25_000_000
        if "graph" in entry:  # ONNX graph of the member (handocr.runtime)
            assert file_sha256(WEIGHTS / entry["graph"]["file"]) == entry["graph"]["sha256"]
    typed = load_manifest(WEIGHTS)
    assert typed.default_ensemble == tuple(manifest["default_ensemble"])
    assert set(typed.weights) == set(manifest["weights"])


def test_shipped_graphs_are_listed_and_small() -> None:
    manifest = json.loads((WEIGHTS / "MANIFEST.json").read_text())
    for name in manifest["default_ensemble"]:
        graph = manifest["weights"][name]["graph"]
        assert graph["bytes"] < 100_000


def test_shipped_ensemble_matches_golden() -> None:
    # synthetic crops + the full ensemble's probabilities; redo when weights change
    ref = np.load(GOLDEN / "ensemble_v1.npz")
    probs = Ensemble.from_names(device="cpu", cascade="off").predict_proba(ref["crops"])
    np.testing.assert_allclose(probs, ref["probs"], rtol=1e-3, atol=1e-4)
    # the default reading runs the fitted cascade: the same top-1 class on every crop
    cascade = Ensemble.from_names(device="cpu")
    assert cascade.cascade is not None
    np.testing.assert_array_equal(
        cascade.predict_proba(ref["crops"]).argmax(1), ref["probs"].argmax(1)
    )


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_shipped_backends_match_golden(backend: str) -> None:
    ref = np.load(GOLDEN / "ensemble_v1.npz")
    ens = Ensemble.from_names(device="cpu", backend=backend, cascade="off")
    assert ens.backend == backend
    np.testing.assert_allclose(ens.predict_proba(ref["crops"]), ref["probs"], atol=PARITY_ATOL)


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
@pytest.mark.slow
def test_shipped_ensemble_accuracy_on_pool47_test() -> None:
    from handocr.evaluate import evaluate_classifier
    from handocr.train.data import load_emnist, to_label_space

    test = load_emnist(SHARED / "emnist47", "pool47", "test")
    report = evaluate_classifier(
        Ensemble.from_names(device="cpu"), test.images, to_label_space(test)
    )
    assert report.ensemble.top1 >= 0.88


def test_the_search_with_the_shipped_verifier_cuts_touching_letters(emnist_sample) -> None:  # type: ignore[no-untyped-def]
    """Mixed-case words whose letters touch: the search finds more of the true boxes."""
    from handocr.synth import PageStyle, match_boxes, render_page
    from handocr.train.data import load_emnist, to_label_space

    s = load_emnist(emnist_sample, "pool47", "test")
    style = PageStyle(case="mixed", char_gap=(-0.12, 0.03), chars_per_word=(4, 8))
    rec = Recognizer(device="cpu")
    assert rec.verifier is not None  # shipped beside the members
    recall = {}
    for search in (True, False):
        reader = rec.with_options(search=search)
        matched = chars = 0
        for seed in range(3):
            page = render_page(s.images, to_label_space(s), style, seed=seed)
            lines = reader.read(page.image).pages[0].lines
            found = [c.box for line in lines for c in line.all_chars()]
            matched += match_boxes([c.box for c in page.chars], found)[2]
            chars += len(page.chars)
        recall[search] = matched / chars
    assert recall[True] >= recall[False] + 0.15, recall
