"""Every file handocr writes gets one mode: what open() gives under the umask (weights too)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr.io import file_mode

runner = CliRunner()


@pytest.fixture
def umask_027() -> Iterator[int]:
    """Run one test under umask 027 (a mode other than the usual 0644 shows a hard-coded one)."""
    before = os.umask(0o027)
    try:
        yield 0o640
    finally:
        os.umask(before)


def _modes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mode & 0o777
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_train_writes_weights_with_the_mode_of_every_other_file(
    emnist_sample: Path, tmp_path: Path, umask_027: int
) -> None:
    out = tmp_path / "run"
    args = ["train", "--arch", "cnn", "--data", str(emnist_sample), "--out", str(out)]
    res = runner.invoke(
        app, [*args, "--epochs", "1", "--batch-size", "64", "--val-fraction", "0.2"]
    )
    assert res.exit_code == 0, res.output
    modes = _modes(out)
    assert "cnn.emnist47-v1.safetensors" in modes and len(modes) > 1
    assert file_mode() == umask_027
    assert modes == dict.fromkeys(modes, umask_027)  # safetensors alone made its file 0600


def test_read_outputs_get_the_same_mode(
    use_tiny_weights: Path, page_file: Path, tmp_path: Path, umask_027: int
) -> None:
    out = tmp_path / "out"
    one = out / "one" / "page.json"
    assert runner.invoke(app, ["read", str(page_file), "-f", "json", "-o", str(one)]).exit_code == 0
    res = runner.invoke(
        app, ["read", str(page_file), "-f", "alto", "--output-dir", str(out / "each")]
    )
    assert res.exit_code == 0, res.output
    assert _modes(out) == {"one/page.json": umask_027, "each/page.png.alto.xml": umask_027}
