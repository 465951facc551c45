"""The candidate lattice: over-segmentation cuts, candidates, their features."""

from __future__ import annotations

import numpy as np

from handocr.segment.config import SegmentConfig
from handocr.segment.lattice import FEATURES, build_lattice, candidate_features, cut_columns
from tests.unit.segment.shapes import H, block, classify_by_width, touching_pair


def test_a_thin_bridge_is_cut_and_a_narrow_candidate_is_not() -> None:
    cfg = SegmentConfig()
    cuts = cut_columns(touching_pair().mask, H, cfg)
    assert len(cuts) == 1 and 20 <= cuts[0] <= 24
    assert cut_columns(block(0, 12).mask, H, cfg) == []  # narrower than cut_width heights
    assert cut_columns(block(0, 40).mask, H, cfg) == []  # no column is thin enough


def test_the_lattice_holds_the_layout_path_and_respects_words_and_bounds() -> None:
    row = [touching_pair(0), block(46, 15), block(100, 15)]
    cfg = SegmentConfig(join_gap=0.2)
    lat = build_lattice(row, [True, False, True], cfg)
    assert lat.pieces[:3] == row  # the layout candidates as they stand come first
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
