"""Bad inputs: each gives a one-line error naming the file and exit code 3, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from handocr_cli.app import app
from PIL import Image
from typer.testing import CliRunner

from handocr import ExitCode
from tests.helpers import draw_text_page, png_claiming

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


def _encrypted_pdf() -> bytes:
    """A one-page PDF whose trailer asks for the standard security handler (a user password)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <"
        + b"11" * 32
        + b"> /U <"
        + b"22" * 32
        + b"> /P -4 >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<00> <00>] >>\n" % (len(objs) + 1)
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


MORE_BAD = {
    "truncated.jpg": lambda p: (
        Image.fromarray(np.full((300, 300), 128, np.uint8)).save(p, quality=90),
        p.write_bytes(p.read_bytes()[:200]),
    ),
    "truncated.tif": lambda p: (
        Image.fromarray(np.full((300, 300), 128, np.uint8)).save(p),
        p.write_bytes(p.read_bytes()[:100]),
    ),
    "huge-header.png": lambda p: p.write_bytes(png_claiming(60000, 60000)),
    "zero-size.png": lambda p: p.write_bytes(png_claiming(0, 0)),
    "random.tiff": lambda p: p.write_bytes(bytes(range(256)) * 8),
    "corrupt.pdf": lambda p: p.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4),
    "encrypted.pdf": lambda p: p.write_bytes(_encrypted_pdf()),
}


@pytest.mark.parametrize("name", sorted(MORE_BAD))
def test_more_bad_files_give_bad_input(use_tiny_weights: Path, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    MORE_BAD[name](path)
    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(good)
    res = runner.invoke(app, ["read", str(path), str(good)])
    assert res.exit_code == ExitCode.PARTIAL, res.output  # the good page is still read
    assert name in res.stderr and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1


def test_tiny_and_inverted_pages(use_tiny_weights: Path, tmp_path: Path) -> None:
    one = tmp_path / "one.png"
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(one)
    res = runner.invoke(app, ["read", str(one)])
    assert res.exit_code == 0 and res.stdout == "\n"
    page = draw_text_page(["AB 12"])
    Image.fromarray(page).save(tmp_path / "page.png")
    Image.fromarray(255 - page).save(tmp_path / "inverted.png")
    normal = runner.invoke(app, ["read", str(tmp_path / "page.png")])
    inverted = runner.invoke(app, ["read", str(tmp_path / "inverted.png")])
    assert normal.exit_code == inverted.exit_code == 0
    assert normal.stdout == inverted.stdout and normal.stdout.strip()


def test_non_utf8_file_name_is_reported(use_tiny_weights: Path, tmp_path: Path) -> None:
    import os

    name = os.fsdecode(b"caf\xe9-bad.png")  # Latin-1 bytes: not valid UTF-8
    try:
        (tmp_path / name).write_bytes(b"junk")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses non-UTF-8 names")
    res = runner.invoke(app, ["read", str(tmp_path)])
    assert res.exit_code == ExitCode.BAD_INPUT and "Traceback" not in res.output
    assert "bad.png" in res.stderr


def test_unreadable_file_is_reported(use_tiny_weights: Path, tmp_path: Path) -> None:
    import os

    path = tmp_path / "locked.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads everything
        pytest.skip("running with permission to read a mode-000 file")
    res = runner.invoke(app, ["read", str(path)])
    assert res.exit_code == ExitCode.BAD_INPUT and "locked.png" in res.stderr
