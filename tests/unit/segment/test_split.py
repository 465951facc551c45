"""Candidate cuts of touching characters."""

from __future__ import annotations

import numpy as np

from handocr.result import Box
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig
from handocr.segment.split import split_candidates


def _pair() -> Piece:
    mask = np.zeros((40, 70), np.uint8)
    mask[:, 2:30] = 255  # left blob
    mask[:, 40:68] = 255  # right blob
    mask[18:21, 30:40] = 255  # thin bridge
    return Piece(Box(100, 10, 170, 50), mask)


def test_touching_pair_is_cut_at_the_thin_bridge() -> None:
    options = split_candidates(_pair())
    two = next(o for o in options if len(o) == 2)
    assert 128 <= two[0].box.x1 <= 142 and two[1].box.x0 >= two[0].box.x1
    assert all(p.mask.shape == (p.box.height, p.box.width) for p in two)
    assert all(p.box.y0 >= 10 and p.box.y1 <= 50 for p in two)
    assert split_candidates(Piece(Box(0, 0, 30, 40), np.full((40, 30), 255, np.uint8))) == []


def test_split_options_follow_the_config() -> None:
    assert {len(o) for o in split_candidates(_pair())} == {2, 3}
    assert split_candidates(_pair(), SegmentConfig(split_aspect=2.0)) == []
    capped = split_candidates(_pair(), SegmentConfig(max_pieces=2))
    assert [len(o) for o in capped] == [2]
