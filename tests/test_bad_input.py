"""Bad inputs: each gives a one-line error naming the file and exit code 3, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from handocr_cli.app import app
from PIL import Image
from typer.testing import CliRunner

from handocr import ExitCode

runner = CliRunner()


def _make(tmp: Path, name: str) -> Path:
    path = tmp / name
    if name == "empty.png":
        path.write_bytes(b"")
    elif name == "truncated.png":
        Image.fromarray(np.full((200, 200), 255, np.uint8)).save(path)
        path.write_bytes(path.read_bytes()[:120])
    elif name == "random.jpg":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, np.uint8).tobytes())
    elif name == "zero-pages.pdf":
        path.write_bytes(b"%PDF-1.4\n%%EOF\n")
    elif name == "a-directory":
        path.mkdir()
    return path


BAD = ["empty.png", "truncated.png", "random.jpg", "zero-pages.pdf", "a-directory", "missing.png"]


@pytest.mark.parametrize("name", BAD)
def test_bad_file_gives_bad_input_and_names_it(
    use_tiny_weights: Path, tmp_path: Path, name: str
) -> None:
    res = runner.invoke(app, ["read", str(_make(tmp_path, name))])
    assert res.exit_code == ExitCode.BAD_INPUT
    assert name in res.stderr and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""


@pytest.mark.parametrize("mode", ["1", "L", "I;16", "RGB", "RGBA", "P", "CMYK", "LA"])
def test_every_image_mode_reads(use_tiny_weights: Path, tmp_path: Path, mode: str) -> None:
    arr = np.full((60, 80), 255, np.uint8)
    arr[15:45, 30:36] = 0
    img = (
        Image.fromarray(arr).convert(mode)
        if mode != "I;16"
        else Image.fromarray(arr.astype(np.uint16) * 257)
    )
    path = tmp_path / ("page.tif" if mode in ("CMYK", "I;16") else "page.png")
    img.save(path)
    res = runner.invoke(app, ["read", str(path)])
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.strip()) == 1  # the one bar


def test_blank_and_black_pages_read_as_empty(use_tiny_weights: Path, tmp_path: Path) -> None:
    for value in (0, 255):
        path = tmp_path / f"flat{value}.png"
        Image.fromarray(np.full((50, 50), value, np.uint8)).save(path)
        res = runner.invoke(app, ["read", str(path)])
        assert res.exit_code == 0 and res.stdout == "\n"
