"""A reading install: no torch, no timm (issue #16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr import ExitCode
from tests.helpers import EXAMPLE_FORM

BLOCK = "import sys; sys.modules['torch'] = None; sys.modules['timm'] = None; "


@pytest.mark.weights
def test_reading_works_with_torch_and_timm_unimportable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDOCR_WEIGHTS", raising=False)
    code = BLOCK + (
        "from handocr import recognize; import sys; "
        f"sys.stdout.write(recognize({str(EXAMPLE_FORM)!r}).text); "
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]; "
        "assert not [m for m in sys.modules if m.startswith('handocr.train')]"  # nor training code
    )
    lean = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert lean.returncode == 0, lean.stderr[-2000:]
    read = f"sys.stdout.write(recognize({str(EXAMPLE_FORM)!r}, backend='onnx').text)"
    full = subprocess.run(
        [sys.executable, "-c", f"import sys; from handocr import recognize; {read}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert full.returncode == 0 and lean.stdout == full.stdout and lean.stdout.strip()


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--arch", "cnn"],
        ["calibrate", "x.safetensors"],
        ["fit-ensemble", "a"],
        ["export-onnx"],
    ],
)
def test_training_commands_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    res = CliRunner().invoke(app, command)
    assert res.exit_code == ExitCode.MISSING_EXTRA, res.output
    assert 'pip install "handocr[train]"' in res.stderr and "Traceback" not in res.output


def test_the_torch_backend_without_torch_is_a_clear_error(
    use_tiny_weights: Path, monkeypatch: pytest.MonkeyPatch, page_file: Path
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    res = CliRunner().invoke(app, ["read", "--backend", "torch", str(page_file)])
    assert res.exit_code == ExitCode.MISSING_EXTRA and "handocr[train]" in res.stderr
