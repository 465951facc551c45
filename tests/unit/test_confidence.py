"""Calibrated word and line confidence: evidence, the model, its file, the page, the fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handocr.confidence import (
    CONFIDENCE_FILE,
    FEATURES,
    ExactModel,
    calibrate_page,
    group_features,
    load_exact_model,
)
from handocr.errors import OptionError, WeightsError
from handocr.result import Box, Char, Line, Page, Word
from handocr.train.confidence import FieldRows, fit_exact_model, judge


def _char(text: str, p: float, votes: tuple = ()) -> Char:
    return Char(text, Box(0, 0, 5, 5), p, (), votes)


def test_evidence_of_a_group() -> None:
    chars = [
        _char("A", 0.9, (("cnn.v", "A", 0.9), ("resnet.v", "A", 0.8), ("ppocrv5-rec.m", "A", 1))),
        _char("B", 0.5, (("cnn.v", "B", 0.5), ("resnet.v", "8", 0.6))),
    ]
    f = dict(zip(FEATURES, group_features(chars, printed=False), strict=True))
    assert f["log_chars"] == pytest.approx(np.log(3))
    assert f["log_product"] == pytest.approx(np.log(0.45))
    assert f["log_min"] == pytest.approx(np.log(0.5)) and f["mean"] == pytest.approx(0.7)
    assert f["members_agree"] == 0.5 and f["line_voted"] == 0.5 and f["line_agree"] == 1.0
    assert f["vote_min"] == 0.0 and f["line_min"] == 1.0  # a member voted 8 for the B
    assert f["printed"] == 0.0 and group_features([], printed=True)[-1] == 1.0


def _model() -> ExactModel:
    n = len(FEATURES)
    weights = np.zeros(n)
    weights[FEATURES.index("log_product")] = 2.0
    return ExactModel(weights, 0.0, np.zeros(n), np.ones(n))


def test_the_model_is_monotone_in_its_evidence_and_round_trips(tmp_path: Path) -> None:
    model = _model()
    x = np.zeros((2, len(FEATURES)))
    x[:, FEATURES.index("log_product")] = [-3.0, -0.1]
    p = model.predict(x)
    assert 0 < p[0] < p[1] < 1
    (tmp_path / CONFIDENCE_FILE).write_text(json.dumps(model.to_dict()), encoding="utf-8")
    again = load_exact_model(tmp_path)
    assert again is not None and np.allclose(again.predict(x), p)
    assert load_exact_model(tmp_path / "nowhere") is None


def test_a_changed_or_broken_file_is_refused(tmp_path: Path) -> None:
    d = _model().to_dict()
    d["model"]["bias"] = 5.0
    (tmp_path / CONFIDENCE_FILE).write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(WeightsError, match="sha256"):
        load_exact_model(tmp_path)
    (tmp_path / CONFIDENCE_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(WeightsError, match="unreadable"):
        load_exact_model(tmp_path)
    n = len(FEATURES)
    with pytest.raises(WeightsError, match="finite"):
        ExactModel(np.full(n, np.nan), 0.0, np.zeros(n), np.ones(n))


def test_a_page_gets_a_probability_per_word_and_line() -> None:
    sure = Word((_char("A", 0.99), _char("B", 0.99)), Box(0, 0, 10, 5))
    unsure = Word((_char("C", 0.4),), Box(12, 0, 16, 5))
    page = Page(0, 20, 10, (Line((sure, unsure), Box(0, 0, 16, 5)),))
    out = calibrate_page(page, _model())
    (line,) = out.lines
    assert line.exact is not None and line.words[0].exact is not None
    assert line.words[0].confidence > line.words[1].confidence
    assert line.confidence == line.exact and line.text == page.lines[0].text
    assert calibrate_page(Page(0, 5, 5, ()), _model()) == Page(0, 5, 5, ())


def test_fitting_learns_that_surer_fields_are_right_more_often() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(FEATURES)))
    y = rng.random(400) < 1 / (1 + np.exp(-2 * x[:, 1]))
    model = fit_exact_model(x, y)
    assert model.weights[1] > 1.0
    rows = FieldRows(x, y, np.ones(400, bool), np.ones(400, bool), np.arange(400), 0)
    report = judge(model, [rows])
    assert report["lines"]["n"] == 400 and report["lines"]["ece"] < 0.1 and "words" not in report
    with pytest.raises(ValueError, match="nothing to calibrate"):
        fit_exact_model(x, np.ones(400, bool))


def test_field_rows_read_a_folder_and_hold_out_by_name(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    import cv2

    from handocr.api import Recognizer
    from handocr.train.confidence import field_rows
    from tests.helpers import draw_text_page

    folder = tmp_path / "names"
    (folder / "images").mkdir(parents=True)
    truth = {"a.png": "AB CD", "b.png": "7", "c.png": "HELLO"}
    for name, text in truth.items():
        cv2.imwrite(str(folder / "images" / name), draw_text_page([text]))
    (folder / "truth.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in truth.items()))
    rows = field_rows(Recognizer(device="cpu"), folder, holdout=1.0)
    assert rows.x.shape[1] == len(FEATURES) and len(rows.y) == len(rows.line) == len(rows.image)
    assert rows.held.all() and rows.line.sum() + rows.skipped == len(truth)
    assert set(rows.image.tolist()) <= {0, 1, 2}
    assert (~rows.line).sum() in (0, 2)  # the two words of "AB CD" when read as two words
    assert not field_rows(Recognizer(device="cpu"), folder, holdout=0.0).held.any()


def test_words_below_the_level_are_marked_and_shown_as_a_placeholder() -> None:
    from handocr.confidence import mark_rejected
    from handocr.formats import render
    from handocr.options import ReadOptions
    from handocr.result import REJECTED, Document

    sure = Word((_char("A", 0.99),), Box(0, 0, 5, 5))
    unsure = Word((_char("B", 0.4),), Box(8, 0, 13, 5))
    page = Page(0, 20, 10, (Line((sure, unsure), Box(0, 0, 13, 5)),))
    marked = mark_rejected(page, 0.5)
    assert [w.rejected for w in marked.lines[0].words] == [False, True]
    assert marked.text == "A B" and mark_rejected(page, 0.1) is page
    doc = Document((marked,))
    assert render(doc, "text") == f"A {REJECTED}\n"
    words = json.loads(render(doc, "json"))["pages"][0]["lines"][0]["words"]
    assert [w["rejected"] for w in words] == [False, True] and words[1]["text"] == "B"
    assert Document.from_json(doc.to_json()) == doc
    assert ReadOptions(reject_below=0.3).decode.reject_below == 0.3
    for bad in (1.5, -0.1, "x", True):
        with pytest.raises(OptionError, match="reject_below"):
            ReadOptions(reject_below=bad)


def test_platt_scaling_is_fitted_to_make_the_posterior_honest() -> None:
    from handocr.readings import platt_scale
    from handocr.train.confidence import fit_platt

    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.999, 4000)
    # the reader is under-confident: a field is right with probability sqrt(p)
    y = rng.uniform(size=p.size) < np.sqrt(p)
    held = np.arange(p.size) % 4 == 0
    a, b, report = fit_platt(p, y, held)
    assert report["held_out_scaled"]["ece"] < report["held_out_posterior"]["ece"]
    assert report["held_out_scaled"]["ece"] < 0.03
    assert platt_scale(0.5, a, b) > 0.6  # sqrt(0.5) = 0.71
    assert platt_scale(0.5, 1.0, 0.0) == pytest.approx(0.5)
    assert report["kept"] and report["fitted_slope"] == pytest.approx(a, abs=1e-4)
    cv = report["cross_validated"]
    assert cv["ece_scaled"] < cv["ece_posterior"]
    # an honest posterior is left as it is: a fitted scaling would only add noise
    honest = rng.uniform(size=p.size) < p
    a, b, report = fit_platt(p, honest, held)
    assert (a, b) == (1.0, 0.0) and not report["kept"]
    with pytest.raises(ValueError, match="nothing to scale"):
        fit_platt(p, np.ones(p.size, bool), held)
    with pytest.raises(ValueError, match="cannot fit"):
        fit_platt(p, y, held, folds=1)
    with pytest.raises(ValueError, match="cannot fit"):
        fit_platt(p, y, np.ones(p.size, bool))


def test_posterior_rows_score_readings_as_the_fusion_does() -> None:
    from handocr.fusion import FusionWeights, LineFeatures
    from handocr.lexicon import LexiconWeights
    from handocr.train.confidence import posterior_rows
    from handocr.train.fusion import Sample

    def features(char: list[float], hits: list[float]) -> LineFeatures:
        n = len(char)
        z = np.zeros(n)
        return LineFeatures(
            [(k,) for k in range(n)], z, np.array(char), z, z, z, z, np.zeros((n, 1)),
            np.zeros((n, 2)), hits=np.array(hits), gains=z, lexical=np.array(hits) > 0,
        )  # fmt: skip

    # reading 0 (free, wrong) beats reading 1 (a lexicon word, right) by 1 log-unit alone
    s = Sample(features([0.0, -1.0], [0.0, 1.0]), np.array([1.0, 0.0]), 4)
    w = FusionWeights(temperature=1.0)
    p, y = posterior_rows([s], w, ["m"])
    assert p[0] == pytest.approx(1.0) and not y[0]  # the lexicon's readings are left out
    p, y = posterior_rows([s], w, ["m"], LexiconWeights(hit=2.0, gain=0.0))
    assert p[0] == pytest.approx(1 / (1 + np.exp(-1.0))) and y[0]
