"""Fields judged whole: read rate at a fixed error, intervals, calibration, field confidence."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.fieldscore import (
    calibration_error,
    field_confidence,
    read_rate,
    read_rate_interval,
    reliability_bins,
    share_interval,
)
from handocr.result import Box, Char, Document, Line, Page, Word


def test_the_read_rate_accepts_the_most_confident_fields_first() -> None:
    conf = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    right = [True, True, True, True, False, True, True, False, False, True]
    assert read_rate(conf, right, 0.01) == pytest.approx(0.4)
    assert read_rate(conf, right, 1 / 6) == pytest.approx(0.7)  # 1 wrong of 6 is allowed
    assert read_rate(conf, right, 0.5) == pytest.approx(1.0)
    assert read_rate([0.9, 0.1], [False, True], 0.01) == 0.0  # the surest field is wrong
    assert read_rate([0.5, 0.5], [True, True], 0.0) == 1.0
    assert read_rate([], [], 0.01) == 0.0


def test_fields_of_one_confidence_are_accepted_together() -> None:
    # a threshold cannot take the right one of two equally sure fields and leave the other
    assert read_rate([0.9, 0.9, 0.5], [True, False, True], 0.01) == 0.0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_error"):
        read_rate([0.5], [True], 1.0)
    with pytest.raises(ValueError, match="alike"):
        read_rate([0.5, 0.4], [True], 0.01)


def test_intervals_bracket_the_estimate_and_are_reproducible() -> None:
    rng = np.random.default_rng(0)
    conf = rng.random(200)
    right = rng.random(200) < conf  # calibrated by construction
    rate = read_rate(conf, right, 0.05)
    low, high = read_rate_interval(conf, right, 0.05)
    assert low <= rate <= high and (low, high) == read_rate_interval(conf, right, 0.05)
    low, high = share_interval(right)
    assert low <= right.mean() <= high and high - low < 0.2
    assert share_interval([True, True]) == (1.0, 1.0)
    assert calibration_error(conf, right) < 0.1
    assert calibration_error(np.full(200, 0.99), right) > 0.4


def test_reliability_bins_count_every_field() -> None:
    mean_conf, share, count = reliability_bins([0.05, 0.15, 0.95, 1.0], [False, True, True, True])
    assert count.sum() == 4 and count[0] == count[1] == 1 and count[-1] == 2
    assert share[-1] == 1.0 and np.isnan(mean_conf[5])


def test_a_documents_confidence_is_the_product_of_its_lines() -> None:
    def line(p: float) -> Line:
        ch = Char("A", Box(0, 0, 5, 5), p)
        return Line((Word((ch,), ch.box),), ch.box)

    page = Page(0, 10, 10, (line(0.9), line(0.5)))
    assert field_confidence(Document((page,))) == pytest.approx(0.45)
    assert field_confidence(Document((Page(0, 10, 10, ()),))) == 0.0


def test_words_are_judged_where_the_reading_has_the_truth_s_words() -> None:
    from handocr.fieldscore import word_outcomes

    rows = [
        {"truth": "Jean Dupont", "words": [["JEAN", 0.9], ["DUPONT", 0.8]]},
        {"truth": "Marie Curie", "words": [["MARIE", 0.7], ["CURLE", 0.6]]},
        {"truth": "Paul", "words": [["P", 0.5], ["AUL", 0.5]]},  # split: left out
        {"truth": "12", "words": []},
    ]
    conf, right = word_outcomes(rows, lambda t: t.upper())
    assert conf.tolist() == [0.9, 0.8, 0.7, 0.6]
    assert right.tolist() == [True, True, True, False]
