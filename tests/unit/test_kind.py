"""handocr.kind: word features, the classifier, its file and kind assignment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import WeightsError
from handocr.kind import (
    FEATURES,
    KIND_FILE,
    KindClassifier,
    assign_kinds,
    classifier_sha256,
    load_kind_classifier,
    page_words,
    word_features,
    word_lines,
)
from handocr.result import Box, Char, Line, Page, Word


def _page_of(gray: np.ndarray) -> Page:
    """A page with one word per ink blob row, one char per 40 px column of ink (no models)."""
    h, w = gray.shape
    ys = np.nonzero((gray < 128).any(axis=1))[0]
    lines = []
    for band in np.split(ys, np.nonzero(np.diff(ys) > 1)[0] + 1):
        y0, y1 = int(band[0]), int(band[-1]) + 1
        xs = np.nonzero((gray[y0:y1] < 128).any(axis=0))[0]
        chars = tuple(
            Char(
                "A",
                Box(int(x), y0, int(min(x + 40, w)), y1),
                0.9,
                votes=(("cnn.x", "A", 0.9), ("ppocrv5-rec.mobile", "a", 0.99)),
            )
            for x in range(int(xs[0]), int(xs[-1]) + 1, 40)
        )
        box = Box(chars[0].box.x0, y0, chars[-1].box.x1, y1)
        lines.append(Line((Word(chars, box),), box))
    return Page(0, w, h, tuple(lines))


def test_features_have_one_finite_row_per_word(two_line_page) -> None:
    gray, _ = two_line_page
    page = _page_of(gray)
    x = word_features(page, gray)
    assert x.shape == (len(page_words(page)), len(FEATURES)) == (2, len(FEATURES))
    assert np.isfinite(x).all()
    assert x[:, FEATURES.index("line_agreement")].tolist() == [1.0, 1.0]


def test_features_of_a_blank_page_are_empty() -> None:
    gray = np.full((40, 40), 255, np.uint8)
    assert word_features(Page(0, 40, 40), gray).shape == (0, len(FEATURES))


def test_features_reject_a_colour_page() -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        word_features(Page(0, 4, 4), np.zeros((4, 4, 3), np.uint8))


def _clf(weight: float = 1.0) -> KindClassifier:
    n = len(FEATURES)
    w = np.zeros(n)
    w[FEATURES.index("line_agreement")] = weight
    return KindClassifier(w, 0.0, np.zeros(n), np.ones(n))


def test_classifier_predicts_probabilities() -> None:
    x = np.zeros((3, len(FEATURES)))
    x[:, FEATURES.index("line_agreement")] = [-5.0, 0.0, 5.0]
    p = _clf().predict_proba(x)
    assert p.shape == (3,) and p[0] < 0.5 < p[2] and p[1] == pytest.approx(0.5)
    assert _clf().predict(x) == ["handwritten", "printed", "printed"]


def test_classifier_round_trips_through_its_file(tmp_path: Path) -> None:
    block = _clf(2.0).to_dict()
    (tmp_path / KIND_FILE).write_text(
        json.dumps({"classifier": block, "sha256": classifier_sha256(block)}), encoding="utf-8"
    )
    clf = load_kind_classifier(tmp_path)
    np.testing.assert_allclose(clf.weights, _clf(2.0).weights)


def test_a_changed_file_fails_its_checksum(tmp_path: Path) -> None:
    block = _clf().to_dict()
    sha = classifier_sha256(block)
    block["bias"] = 3.0
    (tmp_path / KIND_FILE).write_text(json.dumps({"classifier": block, "sha256": sha}))
    with pytest.raises(WeightsError, match="sha256"):
        load_kind_classifier(tmp_path)


def test_a_missing_file_is_a_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="kind classifier"):
        load_kind_classifier(tmp_path)


def test_other_features_are_refused() -> None:
    block = _clf().to_dict()
    block["features"] = ["a"]
    with pytest.raises(WeightsError, match="refit"):
        KindClassifier.from_dict(block)


def test_wrong_lengths_are_refused() -> None:
    with pytest.raises(WeightsError, match="weights"):
        KindClassifier(np.zeros(2), 0.0, np.zeros(2), np.ones(2))


def test_assign_kinds_labels_each_word(two_line_page) -> None:
    gray, _ = two_line_page
    page = _page_of(gray)
    assert assign_kinds(page, gray, _clf()) == ["printed", "printed"]
    assert assign_kinds(Page(0, 4, 4), np.full((4, 4), 255, np.uint8), _clf()) == []


@pytest.mark.weights
def test_shipped_classifier_loads() -> None:
    clf = load_kind_classifier()
    assert clf.features == FEATURES


def test_line_weight_mixes_each_word_with_its_line() -> None:
    n = len(FEATURES)
    w = np.zeros(n)
    w[0] = 1.0
    clf = KindClassifier(w, 0.0, np.zeros(n), np.ones(n), line_weight=1.0)
    x = np.zeros((3, n))
    x[:, 0] = [4.0, -1.0, -3.0]
    np.testing.assert_allclose(clf.decision(x, np.array([0, 0, 1])), [1.5, 1.5, -3.0])
    np.testing.assert_allclose(clf.decision(x), [4.0, -1.0, -3.0])
    with pytest.raises(WeightsError, match="line_weight"):
        KindClassifier(w, 0.0, np.zeros(n), np.ones(n), line_weight=2.0)


def test_quadratic_weights_see_the_squares() -> None:
    n = len(FEATURES)
    w = np.zeros(2 * n)
    w[n] = 1.0  # the first feature's square
    clf = KindClassifier(w, -1.0, np.zeros(n), np.ones(n), quadratic=True)
    x = np.zeros((2, n))
    x[:, 0] = [-2.0, 0.5]
    assert clf.predict(x) == ["printed", "handwritten"]
    assert KindClassifier.from_dict(clf.to_dict()).quadratic


def test_word_lines_number_each_words_line(two_line_page) -> None:
    gray, _ = two_line_page
    assert word_lines(_page_of(gray)).tolist() == [0, 1]
