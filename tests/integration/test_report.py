"""``handocr report``: the HTML page, its figures, and its numbers against scikit-learn."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("jinja2")

from handocr.train.report import build_report, undo_temperature


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_weights: Path, emnist_sample: Path):  # type: ignore[no-untyped-def]
    import os
    from unittest import mock

    import cv2

    from tests.helpers import draw_text_page

    out = tmp_path_factory.mktemp("report")
    pages = tmp_path_factory.mktemp("pages")
    (pages / "set").mkdir()
    for k, text in enumerate(["AB", "123"]):
        cv2.imwrite(str(pages / "set" / f"p{k}.png"), draw_text_page([text]))
    (pages / "set" / "truth.tsv").write_text("p0.png\tAB\np1.png\t123\n")
    with mock.patch.dict(os.environ, {"HANDOCR_WEIGHTS": str(tiny_weights)}):
        index = build_report(out, data=str(emnist_sample), limit=300, pages=pages)
    return out, index


def test_every_figure_of_the_page_exists(report) -> None:  # type: ignore[no-untyped-def]
    out, index = report
    html = index.read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert {"samples.png", "confusion.png", "roc.png", "pr.png", "reliability.png"} <= set(images)
    for name in images:
        assert (out / name).stat().st_size > 1000, name
    assert sum(name.startswith("activations_") for name in images) == 2  # a map per member
    for section in ("Data", "Accuracy", "Scores", "Most confused pairs", "Per class", "Real pages"):
        assert section in html
    assert "samples_real.png" in images  # crops of the page set, by the class read
    assert {"fields_reliability.png", "read_rate.png"} <= set(images)  # fields judged whole
    metrics = json.loads((out / "metrics.json").read_text())
    assert [s["name"] for s in metrics["page_sets"]] == ["set"]


def test_auc_and_per_class_figures_agree_with_scikit_learn(
    report, tiny_weights: Path, emnist_sample: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    from handocr.ensemble import Ensemble, combine_votes
    from handocr.train.data import load_emnist, to_label_space

    monkeypatch.setenv("HANDOCR_WEIGHTS", str(tiny_weights))
    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())
    test = load_emnist(emnist_sample, "pool47", "test")
    x = (test.images[:300].astype(np.float32) / 255.0)[:, None]
    y = to_label_space(test)[:300]
    ens = Ensemble.from_names(None)
    probs = combine_votes(ens.member_proba(x), ens.weights, ens.voting)
    p, r, f, _ = precision_recall_fscore_support(
        y, probs.argmax(1), labels=list(range(47)), zero_division=0
    )
    for c, row in enumerate(metrics["per_class"]):
        assert row["precision"] == pytest.approx(p[c]) and row["recall"] == pytest.approx(r[c])
        assert row["f1"] == pytest.approx(f[c])
        positives = int((y == c).sum())
        if 0 < positives < len(y):
            assert row["auc"] == pytest.approx(roc_auc_score(y == c, probs[:, c]), abs=1e-9)
    assert metrics["n"] == 300


def test_temperature_undone() -> None:
    def soft(v: np.ndarray) -> np.ndarray:
        e = np.exp(v - v.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    z = np.random.default_rng(0).normal(size=(5, 47))
    np.testing.assert_allclose(
        undo_temperature(soft(z / 0.7).astype(np.float32), 0.7), soft(z), atol=1e-5
    )


@pytest.mark.slow
def test_the_page_opens_in_headless_chromium_with_every_figure_loaded(report) -> None:  # type: ignore[no-untyped-def]
    sync = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    _, index = report
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(index.as_uri())
            page.wait_for_load_state("load")
            loaded = page.evaluate(
                "[...document.images].map(i => i.complete && i.naturalWidth > 0)"
            )
            assert loaded and all(loaded)
        finally:
            browser.close()
