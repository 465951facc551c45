"""The segmentation search: the best path, confident candidates, cutting a touching pair."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.labels import NUM_CLASSES, index_of
from handocr.segment.config import SegmentConfig
from handocr.segment.search import best_path, confident_candidates, search_lines
from tests.unit.segment.shapes import block, classify_by_width, confidence_verifier, touching_pair


def test_best_path_maximises_the_sum_and_needs_a_covering_path() -> None:
    spans = [(0, 1), (1, 2), (0, 2), (2, 3)]
    assert best_path(3, spans, np.array([1.0, 1.0, 1.5, 0.5])) == [0, 1, 3]
    assert best_path(3, spans, np.array([1.0, 1.0, 2.5, 0.5])) == [2, 3]
    with pytest.raises(ValueError, match="no segmentation path"):
        best_path(3, [(0, 1), (2, 3)], np.zeros(2))


def test_the_search_cuts_a_touching_pair_the_classifier_reads_better_apart() -> None:
    row = [touching_pair(0)]
    probs = classify_by_width(row)
    lines, starts, out = search_lines(
        [row], [[True]], probs, classify_by_width, verifier=confidence_verifier(bias=3.0)
    )
    assert len(lines[0]) == 2 and all(20 <= p.box.width <= 24 for p in lines[0])
    assert starts == [[True, False]] and out.shape == (2, 1, NUM_CLASSES)
    assert (out[:, 0].argmax(1) == index_of("A")).all()
    # a verifier that rewards fewer characters keeps the pair whole
    lines, _, out = search_lines(
        [row], [[True]], probs, classify_by_width, verifier=confidence_verifier(0.0, -5.0)
    )
    assert len(lines[0]) == 1 and out.shape == (1, 1, NUM_CLASSES)


def test_confident_candidates_are_kept_as_they_stand() -> None:
    row = [block(0, 15), touching_pair(40)]
    probs = classify_by_width(row)
    verifier = confidence_verifier(bias=5.0)  # 4.9 for p = 0.99, -33.5 for p = 1/47
    fixed = confident_candidates([row], [[True, True]], probs, verifier, None, SegmentConfig())
    assert fixed == [[True, False]]
    strict = SegmentConfig(keep_log_odds=float("inf"))
    none = confident_candidates([row], [[True, True]], probs, verifier, None, strict)
    assert none == [[False] * 2]
