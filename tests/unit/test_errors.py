"""The exception tree, its exit codes, and the exit code of a batch."""

from __future__ import annotations

import pytest

from handocr.errors import (
    DataError,
    ExitCode,
    HandocrError,
    ImageTooLargeError,
    InputImageError,
    ModelOutputError,
    OptionError,
    OutputError,
    UnknownModelError,
    UnreadableImageError,
    WeightsError,
    exit_code_for,
)


@pytest.mark.parametrize(
    ("cls", "builtin", "code"),
    [
        (InputImageError, ValueError, ExitCode.BAD_INPUT),
        (ImageTooLargeError, InputImageError, ExitCode.BAD_INPUT),
        (UnreadableImageError, InputImageError, ExitCode.BAD_INPUT),
        (OptionError, ValueError, ExitCode.USAGE),
        (WeightsError, ValueError, ExitCode.BAD_WEIGHTS),
        (DataError, ValueError, ExitCode.BAD_DATA),
        (ModelOutputError, RuntimeError, ExitCode.FAILURE),
        (OutputError, OSError, ExitCode.BAD_OUTPUT),
    ],
)
def test_each_error_has_its_exit_code_and_builtin(cls: type, builtin: type, code: int) -> None:
    err = cls("x")
    assert isinstance(err, HandocrError) and isinstance(err, builtin)
    assert err.exit_code == code


def test_unknown_model_lists_close_matches_without_key_error_quotes() -> None:
    err = UnknownModelError("cnnn", ["resnet18", "cnn"])
    assert isinstance(err, KeyError) and err.exit_code == ExitCode.USAGE
    assert str(err) == "unknown model 'cnnn'; did you mean cnn? (registered: cnn, resnet18)"
    assert err.name == "cnnn"
    assert "did you mean" not in str(UnknownModelError("zzz", ["cnn"]))


def test_exit_code_of_a_batch() -> None:
    bad, weights, model = InputImageError("a"), WeightsError("w"), ModelOutputError("m")
    assert exit_code_for([], succeeded=0) == ExitCode.OK
    assert exit_code_for([], succeeded=5) == ExitCode.OK
    assert exit_code_for([bad], succeeded=1) == ExitCode.PARTIAL
    assert exit_code_for([bad, bad], succeeded=0) == ExitCode.BAD_INPUT
    # an error of the models affects every input: its code wins, the first such one
    assert exit_code_for([bad, weights], succeeded=3) == ExitCode.BAD_WEIGHTS
    assert exit_code_for([model, weights], succeeded=0) == ExitCode.FAILURE
    assert exit_code_for(iter([bad]), succeeded=2) == ExitCode.PARTIAL
