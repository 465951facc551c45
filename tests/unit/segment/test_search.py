"""The segmentation search: over-segmentation cuts, the candidate lattice, the best path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.errors import WeightsError
from handocr.labels import NUM_CLASSES, index_of
from handocr.result import Box
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig
from handocr.segment.search import (
    FEATURES,
    Verifier,
    best_path,
    build_lattice,
    candidate_features,
    confident_glyphs,
    cut_columns,
    search_lines,
)

H = 30  # glyph height, pixels


def block(x0: int, width: int, *, y0: int = 10, height: int = H) -> Piece:
    """A solid glyph ``width`` px wide at column ``x0``."""
    return Piece(Box(x0, y0, x0 + width, y0 + height), np.full((height, width), 255, np.uint8))


def touching_pair(x0: int = 0) -> Piece:
    """Two solid 20 px squares joined by a 2 px high bridge at mid-height (one component)."""
    mask = np.zeros((H, 44), np.uint8)
    mask[:, :20] = 255
    mask[:, 24:] = 255
    mask[14:16, 20:24] = 255
    return Piece(Box(x0, 10, x0 + 44, 10 + H), mask)


def test_a_thin_bridge_is_cut_and_a_narrow_glyph_is_not() -> None:
    cfg = SegmentConfig()
    cuts = cut_columns(touching_pair().mask, H, cfg)
    assert len(cuts) == 1 and 20 <= cuts[0] <= 24
    assert cut_columns(block(0, 12).mask, H, cfg) == []  # narrower than cut_width heights
    assert cut_columns(block(0, 40).mask, H, cfg) == []  # no column is thin enough


def test_the_lattice_holds_the_layout_path_and_respects_words_and_bounds() -> None:
    row = [touching_pair(0), block(46, 15), block(100, 15)]
    cfg = SegmentConfig(join_gap=0.2)
    lat = build_lattice(row, [True, False, True], cfg)
    assert lat.pieces[:3] == row  # the layout glyphs as they stand come first
    assert len(lat.atoms) == 4  # the pair is cut once
    for i, j in lat.spans:
        assert 1 <= j - i <= cfg.max_span
        assert len({lat.word_of[a] for a in range(i, j)}) == 1  # never across a word start
    assert (3, 4) in lat.spans and not any(i < 3 < j for i, j in lat.spans)
    joined = [lat.pieces[c] for c, (i, j) in enumerate(lat.spans) if (i, j) == (1, 3)]
    assert joined and 20 <= joined[0].box.x0 <= 24 and joined[0].box.x1 == 61  # + neighbour
    fixed = build_lattice(row, [True, False, True], cfg, [True, False, False])
    assert len(fixed.atoms) == 3 and all(i != 0 or j == 1 for i, j in fixed.spans)


def test_a_gap_wider_than_join_gap_is_never_bridged() -> None:
    row = [block(0, 15), block(15 + int(0.5 * H), 15)]
    lat = build_lattice(row, [True, False], SegmentConfig(join_gap=0.15))
    assert lat.spans == [(0, 1), (1, 2)]


def test_best_path_maximises_the_sum_and_needs_a_covering_path() -> None:
    spans = [(0, 1), (1, 2), (0, 2), (2, 3)]
    assert best_path(3, spans, np.array([1.0, 1.0, 1.5, 0.5])) == [0, 1, 3]
    assert best_path(3, spans, np.array([1.0, 1.0, 2.5, 0.5])) == [2, 3]
    with pytest.raises(ValueError, match="no segmentation path"):
        best_path(3, [(0, 1), (2, 3)], np.zeros(2))


def confidence_verifier(weight: float = 10.0, bias: float = 0.0) -> Verifier:
    """log_odds = weight * log_p1 + bias: the classifier's confidence alone."""
    f = len(FEATURES)
    w = np.zeros((f, 1))
    w[FEATURES.index("log_p1"), 0] = weight
    return Verifier(np.zeros(f), np.ones(f), [w, np.array([bias])], np.full(NUM_CLASSES, 0.7))


def classify_by_width(pieces):  # type: ignore[no-untyped-def]
    """Squares about 20 px wide read as confident 'A'; anything wider as an unsure 'M'."""
    out = np.full((len(pieces), 1, NUM_CLASSES), 0.01 / (NUM_CLASSES - 1), np.float32)
    for k, p in enumerate(pieces):
        if p.box.width <= 24:
            out[k, 0, index_of("A")] = 0.99
        else:
            out[k, 0] = 1 / NUM_CLASSES
    return out


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


def test_confident_glyphs_are_kept_as_they_stand() -> None:
    row = [block(0, 15), touching_pair(40)]
    probs = classify_by_width(row)
    verifier = confidence_verifier(bias=5.0)  # 4.9 for p = 0.99, -33.5 for p = 1/47
    fixed = confident_glyphs([row], [[True, True]], probs, verifier, None, SegmentConfig())
    assert fixed == [[True, False]]
    strict = SegmentConfig(keep_log_odds=float("inf"))
    assert confident_glyphs([row], [[True, True]], probs, verifier, None, strict) == [[False] * 2]


def test_features_describe_the_candidate_relative_to_its_line() -> None:
    row = [touching_pair(0)]
    lat = build_lattice(row, [True], SegmentConfig())
    x = candidate_features(lat, classify_by_width(lat.pieces)[:, 0])
    assert x.shape == (len(lat.spans), len(FEATURES))
    col = {name: x[:, k] for k, name in enumerate(FEATURES)}
    np.testing.assert_allclose(col["aspect"][0], 44 / H)
    assert col["whole"][0] == 1 and (col["whole"][1:] == 0).all()
    assert col["cut_ink_right"][1] > 0 and col["cut_ink_left"][0] == 0  # the left half
    np.testing.assert_allclose(col["log_p1"][1], np.log(0.99), rtol=1e-5)


def test_a_verifier_round_trips_and_rejects_what_it_cannot_use(tmp_path: Path) -> None:
    v = confidence_verifier(bias=1.25)
    path = tmp_path / "v.safetensors"
    v.save(path, '{"fitted": "test"}')
    back = Verifier.load(path)
    x = np.random.default_rng(0).normal(size=(5, len(FEATURES)))
    np.testing.assert_allclose(back.log_odds(x), v.log_odds(x))
    np.testing.assert_allclose(v.shifted(2.0).log_odds(x), v.log_odds(x) + 2.0)
    with pytest.raises(WeightsError, match="one output"):
        Verifier(v.mean, v.scale, [np.zeros((len(FEATURES), 2)), np.zeros(2)], v.class_aspect)
    from safetensors.numpy import save_file

    save_file({"mean": np.zeros(3)}, str(path), metadata={"features": "a,b,c"})
    with pytest.raises(WeightsError, match="other features"):
        Verifier.load(path)
    path.write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match="cannot read"):
        Verifier.load(path)
