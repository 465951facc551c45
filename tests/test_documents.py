"""Documents and outputs: multi-page PDF/TIFF order, directories, stdin, -o/--output-dir, schema."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from handocr.errors import ExitCode, InputImageError
from handocr.io import expand_inputs, iter_pages, parse_page_ranges
from handocr.result import Document

from .conftest import draw_text_page

runner = CliRunner()
SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "result.schema.json").read_text())


def _app():
    from handocr_cli.app import app

    return app


def _frames(n: int) -> list[Image.Image]:
    """``n`` small pages; page k (1-based) carries k short strokes, so its ink grows with k."""
    out = []
    for k in range(1, n + 1):
        img = np.full((60, 40 + 14 * k), 255, np.uint8)
        for j in range(k):
            img[15:45, 20 + 14 * j : 26 + 14 * j] = 0
        out.append(Image.fromarray(img))
    return out


@pytest.fixture(scope="module")
def pdf20(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("docs") / "twenty.pdf"
    frames = _frames(20)
    frames[0].save(path, save_all=True, append_images=frames[1:], resolution=72)
    return path


@pytest.fixture(scope="module")
def tiff5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("docs") / "five.tif"
    frames = _frames(5)
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    return path


def _ink_order(pages: list[np.ndarray]) -> list[int]:
    return [int((p < 128).sum()) for p in pages]


def test_pdf_and_tiff_pages_come_in_order(pdf20: Path, tiff5: Path) -> None:
    pdf = list(iter_pages(pdf20, pdf_dpi=72))
    assert [p.source for p in pdf] == [f"twenty.pdf#{k}" for k in range(1, 21)]
    ink = _ink_order([p.image for p in pdf])
    assert ink == sorted(ink) and len(set(ink)) == 20  # page k has k strokes
    tif = list(iter_pages(tiff5))
    assert [p.source for p in tif] == [f"five.tif#{k}" for k in range(1, 6)]
    assert [p.image.shape[1] for p in tif] == [40 + 14 * k for k in range(1, 6)]


def test_page_ranges_select_pages(pdf20: Path, tiff5: Path) -> None:
    got = [p.source for p in iter_pages(pdf20, pdf_dpi=72, pages=parse_page_ranges("1-3,7,25"))]
    assert got == ["twenty.pdf#1", "twenty.pdf#2", "twenty.pdf#3", "twenty.pdf#7"]
    got = [p.source for p in iter_pages(tiff5, pages=parse_page_ranges("2,4-5"))]
    assert got == ["five.tif#2", "five.tif#4", "five.tif#5"]
    for bad in ("", "0", "3-1", "a", "1-"):
        with pytest.raises(ValueError, match="page range"):
            parse_page_ranges(bad)


def test_pdf_dpi_scales_the_rendering(pdf20: Path) -> None:
    small = next(iter(iter_pages(pdf20, pdf_dpi=72))).image
    big = next(iter(iter_pages(pdf20, pdf_dpi=144))).image
    assert big.shape == (2 * small.shape[0], 2 * small.shape[1])


def test_bytes_and_pil_images_are_pages(tiff5: Path, pdf20: Path) -> None:
    from_bytes = list(iter_pages(tiff5.read_bytes()))
    assert len(from_bytes) == 5 and from_bytes[0].source == "bytes 0#1"
    assert len(list(iter_pages(pdf20.read_bytes(), pdf_dpi=72))) == 20
    rgba = Image.new("RGBA", (30, 20), (0, 0, 0, 0))  # transparent -> white paper
    (page,) = iter_pages(rgba)
    assert page.image.shape == (20, 30) and page.image.min() == 255
    with pytest.raises(InputImageError, match="empty"):
        list(iter_pages(b""))


def test_directories_expand_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.jpg", "notes.txt", ".hidden.png", "sub/c.pdf"):
        (tmp_path / name).write_bytes(b"x")
    assert [Path(p).name for p in expand_inputs([tmp_path])] == ["a.jpg", "b.png"]
    deep = [
        Path(p).relative_to(tmp_path).as_posix() for p in expand_inputs([tmp_path], recursive=True)
    ]
    assert deep == ["a.jpg", "b.png", "sub/c.pdf"]
    assert expand_inputs(["-", str(tmp_path / "missing.png")]) == [
        "-",
        str(tmp_path / "missing.png"),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputImageError, match="no images"):
        expand_inputs([empty])


def test_cli_reads_a_20_page_pdf_with_page_numbers(use_tiny_weights: Path, pdf20: Path) -> None:
    res = runner.invoke(_app(), ["read", str(pdf20), "--dpi", "72", "-f", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert [p["index"] for p in doc["pages"]] == list(range(20))
    assert [p["source"] for p in doc["pages"]] == [f"twenty.pdf#{k}" for k in range(1, 21)]
    assert doc["text"].count("\f") == 19


def test_cli_pages_option(use_tiny_weights: Path, tiff5: Path) -> None:
    res = runner.invoke(_app(), ["read", str(tiff5), "--pages", "2-3", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert [p["source"] for p in json.loads(res.stdout)["pages"]] == ["five.tif#2", "five.tif#3"]
    res = runner.invoke(_app(), ["read", str(tiff5), "--pages", "3-1"])
    assert res.exit_code == ExitCode.USAGE and "page range" in res.stderr


def test_cli_reads_standard_input(use_tiny_weights: Path, tiff5: Path) -> None:
    res = runner.invoke(_app(), ["read", "-", "-f", "json"], input=tiff5.read_bytes())
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["pages"][0]["source"] == "stdin#1"


@pytest.mark.parametrize("fmt", ["text", "json", "hocr", "tsv"])
def test_cli_output_dir_writes_one_result_per_input(
    use_tiny_weights: Path, tiff5: Path, tmp_path: Path, fmt: str
) -> None:
    import cv2

    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), draw_text_page(["AB"]))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "c.tif").write_bytes(tiff5.read_bytes())
    out = tmp_path / "out"
    res = runner.invoke(_app(), ["read", str(folder), "--output-dir", str(out), "-f", fmt])
    assert res.exit_code == ExitCode.PARTIAL, res.output
    assert "broken.png" in res.stderr and res.stdout == ""
    suffix = {"text": "txt"}.get(fmt, fmt)
    assert sorted(p.name for p in out.iterdir()) == [f"a.png.{suffix}", f"c.tif.{suffix}"]
    if fmt == "json":
        tif = json.loads((out / "c.tif.json").read_text())
        jsonschema.validate(tif, SCHEMA)
        assert [p["index"] for p in tif["pages"]] == [0, 1, 2, 3, 4]  # numbered per input


def test_cli_output_file_is_written_whole(
    use_tiny_weights: Path, tiff5: Path, tmp_path: Path
) -> None:
    target = tmp_path / "deep" / "result.json"
    res = runner.invoke(_app(), ["read", str(tiff5), "-o", str(target), "-f", "json"])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    doc = Document.from_json(target.read_text())
    assert len(doc.pages) == 5
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]  # no temporary left


def test_cli_unwritable_output_is_exit_7(
    use_tiny_weights: Path, tiff5: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = runner.invoke(_app(), ["read", str(tiff5), "-o", str(blocker / "r.txt")])
    assert res.exit_code == ExitCode.BAD_OUTPUT and "cannot write" in res.stderr


def test_cli_every_input_bad_is_exit_3(use_tiny_weights: Path, tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    res = runner.invoke(_app(), ["read", str(empty)])
    assert res.exit_code == ExitCode.BAD_INPUT and "no images" in res.stderr
    res = runner.invoke(_app(), ["read", str(tmp_path / "missing.png")])
    assert res.exit_code == ExitCode.BAD_INPUT and "missing.png" in res.stderr
    res = runner.invoke(_app(), ["read", "a.png", "-o", "x", "--output-dir", "y"])
    assert res.exit_code == ExitCode.USAGE


def test_hocr_is_xhtml_with_the_required_classes(use_tiny_weights: Path, tiff5: Path) -> None:
    from lxml import etree

    res = runner.invoke(_app(), ["read", str(tiff5), "-f", "hocr"])
    assert res.exit_code == 0, res.output
    root = etree.parse(io.BytesIO(res.stdout.encode()), etree.XMLParser(resolve_entities=False))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages = root.findall(".//h:div[@class='ocr_page']", ns)
    assert len(pages) == 5
    for cls, prop in [
        ("ocr_page", "bbox "),
        ("ocr_line", "bbox "),
        ("ocrx_word", "bbox "),
        ("ocrx_cinfo", "x_bboxes "),  # hOCR 1.2: character boxes
    ]:
        found = list(root.iterfind(f".//*[@class='{cls}']", ns))
        assert found, cls
        assert all(prop in el.get("title", "") for el in found)
    for word in root.iterfind(".//*[@class='ocrx_word']", ns):
        assert "x_wconf " in word.get("title", "")


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.full((40, 80), 255, np.uint8)
    arr[:, :10] = 0  # ink on the left edge
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    (page,) = iter_pages(path)
    assert page.image.shape == (80, 40)
    assert page.image[:10].mean() < 128  # the left edge is now the top


def test_model_failure_is_exit_1_with_one_line(
    use_tiny_weights: Path, tiff5: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr.ensemble import Ensemble
    from handocr.errors import ModelOutputError

    def broken(self: Ensemble, x: np.ndarray) -> np.ndarray:
        raise ModelOutputError("member cnn.tiny returned non-finite probabilities")

    monkeypatch.setattr(Ensemble, "member_proba", broken)
    res = runner.invoke(_app(), ["read", str(tiff5)])
    assert res.exit_code == ExitCode.FAILURE and "non-finite" in res.stderr
    assert "Traceback" not in res.output and res.stdout == ""


def test_ctrl_c_is_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import handocr_cli.app as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == ExitCode.INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
