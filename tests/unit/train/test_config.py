"""TrainConfig: every training option's default and check."""

from __future__ import annotations

import dataclasses

import pytest

from handocr.errors import ExitCode, OptionError
from handocr.train.config import PRECISIONS, TrainConfig


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label_smoothing": 1.5}, "label_smoothing"),
        ({"precision": "fp8"}, "precision"),
        ({"ema": 1.0}, "ema"),
        ({"patience": 0}, "patience"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"val_fraction": 0.6}, "val_fraction"),
        ({"time_budget_s": 0.0}, "time_budget_s"),
        ({"lowres": 1.5}, "lowres"),
    ],
)
def test_config_checks_ranges(changes: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message) as info:
        TrainConfig(**changes)
    assert isinstance(info.value, ValueError) and info.value.exit_code == ExitCode.USAGE


def test_config_is_frozen_and_records_its_command() -> None:
    cfg = TrainConfig(epochs=3)
    assert cfg.precision in PRECISIONS and PRECISIONS == ("auto", "fp32", "bf16")
    assert isinstance(cfg.command, str)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 4  # type: ignore[misc]
    assert TrainConfig(**dataclasses.asdict(cfg)) == cfg
