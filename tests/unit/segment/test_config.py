"""SegmentConfig: every segmentation threshold and its check."""

from __future__ import annotations

import dataclasses

import pytest

from handocr.errors import OptionError
from handocr.segment.config import SegmentConfig


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"track": 0}, "track"),
        ({"max_span": 0}, "max_span"),
        ({"min_component_px": -1}, "min_component_px"),
        ({"cut_ink": -0.1}, "cut_ink"),
        ({"join_gap": float("nan")}, "join_gap"),
        ({"char_bonus": float("nan")}, "char_bonus"),
        ({"line_band": -1.0}, "line_band"),
    ],
)
def test_bad_thresholds_raise_option_errors(changes: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        SegmentConfig(**changes)


def test_every_float_threshold_is_checked() -> None:
    floats = [f.name for f in dataclasses.fields(SegmentConfig) if f.type == "float"]
    assert len(floats) >= 20
    assert SegmentConfig(char_bonus=-1.0).char_bonus == -1.0  # a bonus may be negative
    for name in set(floats) - {"char_bonus"}:
        with pytest.raises(OptionError, match=name):
            SegmentConfig(**{name: -1.0})


def test_config_is_frozen_keyword_only_hashable_and_accepts_limits() -> None:
    cfg = SegmentConfig(mark_gap=float("inf"), min_component_px=0)
    assert cfg.mark_gap == float("inf")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.track = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        SegmentConfig(3)  # type: ignore[misc]
    assert hash(SegmentConfig()) == hash(SegmentConfig()) and SegmentConfig() != cfg
