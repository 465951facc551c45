"""``handocr read``: outputs equal the library's, options, files and directories, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest
from handocr_cli.app import app
from PIL import Image
from typer.testing import CliRunner

from handocr import Document, ExitCode, recognize
from handocr.formats import render
from tests.conftest import point_weights
from tests.helpers import REPO, draw_text_page

runner = CliRunner()
SCHEMA = json.loads((REPO / "docs" / "result.schema.json").read_text())


def test_cli_text_is_doc_text(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", str(page_file)])
    assert res.exit_code == 0, res.output
    assert res.stdout == recognize(page_file).text + "\n"


def test_cli_json_round_trips(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", "--format", "json", str(page_file)])
    assert res.exit_code == 0
    doc = Document.from_json(res.stdout)
    assert doc.pages[0].source == "page.png" and doc.models[0].name == "cnn"
    assert doc == Document.from_json(recognize(page_file).to_json())


@pytest.mark.parametrize("fmt", ["hocr", "tsv"])
def test_cli_hocr_and_tsv_match_the_library(use_tiny_weights: Path, page_file: Path, fmt) -> None:
    res = runner.invoke(app, ["read", "--format", fmt, str(page_file)])
    assert res.exit_code == 0
    assert res.stdout == render(recognize(page_file), fmt)


def test_cli_missing_file_gives_bad_input(use_tiny_weights: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["read", str(tmp_path / "nope.png")])
    assert res.exit_code == ExitCode.BAD_INPUT
    assert "nope.png" in res.stderr and "Traceback" not in res.output


def test_cli_batch_reports_bad_page_and_reads_the_rest(
    use_tiny_weights: Path, page_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    res = runner.invoke(app, ["read", str(bad), str(page_file)])
    assert res.exit_code == ExitCode.PARTIAL  # one failed, the other was read and printed
    assert "bad.png" in res.stderr
    assert res.stdout == recognize(page_file).text + "\n"


def test_cli_reads_many_small_inputs_in_order_and_reports_the_bad_one(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    paths = []
    for i, text in enumerate(["AB", "CDE", "F"]):
        p = tmp_path / f"{i}.png"
        cv2.imwrite(str(p), draw_text_page([text]))
        paths.append(p)
    bad = tmp_path / "1b.png"
    bad.write_bytes(b"not a png")
    args = ["read", "-f", "json", str(paths[0]), str(bad), str(paths[1]), str(paths[2])]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.PARTIAL  # the others were read and written
    doc = json.loads(result.stdout)
    assert [p["source"] for p in doc["pages"]] == [p.name for p in paths]
    assert [p["index"] for p in doc["pages"]] == [0, 1, 2]
    assert [len(p["text"]) for p in doc["pages"]] == [2, 3, 1]


def test_cli_missing_weights_gives_bad_weights(
    page_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_weights(tmp_path, monkeypatch)
    res = runner.invoke(app, ["read", str(page_file)])
    assert res.exit_code == ExitCode.BAD_WEIGHTS and "MANIFEST.json" in res.stderr


def test_tampered_shipped_style_weights_give_exit_4(
    tiny_weights: Path, page_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    target = folder / "cnn.tiny-b.safetensors"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit flipped
    target.write_bytes(bytes(raw))
    point_weights(folder, monkeypatch)
    res = runner.invoke(app, ["read", str(page_file)])
    assert res.exit_code == ExitCode.BAD_WEIGHTS
    assert "cnn.tiny-b.safetensors" in res.stderr and "sha256" in res.stderr
    assert "Traceback" not in res.output and res.stdout == ""


def test_cli_unknown_model_gives_usage(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", "-m", "resnet99", str(page_file)])
    assert res.exit_code == ExitCode.USAGE and "resnet99" in res.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--charset", "€"], "47 EMNIST classes"),
        (["--pages", "3-1"], "--pages: 3-1 is reversed; write 1-3"),
        (["--device", "gpu"], "device"),
        (["--binarize", "niblack"], "--binarize: 'niblack' is not a binarisation method"),
        (["--backend", "gpu"], "--backend: 'gpu' is not a backend"),
        (["--cascade", "often"], "cascade"),
        (["--cascade", "2"], r"[0, 1]"),
    ],
)
def test_bad_options_are_usage_errors_before_reading(
    page_file: Path, tmp_path: Path, monkeypatch, option: list[str], message: str
) -> None:
    point_weights(tmp_path, monkeypatch)  # no weights: a usage error comes first
    res = runner.invoke(app, ["read", *option, str(page_file)])
    assert res.exit_code == ExitCode.USAGE, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_cli_backend_and_cascade_options(use_onnx_weights: Path, tmp_path: Path) -> None:
    page = tmp_path / "p.png"
    cv2.imwrite(str(page), draw_text_page(["A"]))
    for opts in (["--backend", "torch"], ["--cascade", "off"], ["--cascade", "0.2"]):
        res = runner.invoke(app, ["read", str(page), *opts])
        assert res.exit_code == 0, (opts, res.output)
        assert len(res.stdout.strip()) == 1


def test_charset_digits_gives_only_digits(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", "--charset", "digits", str(page_file)])
    assert res.exit_code == 0
    text = res.stdout.replace(" ", "").replace("\n", "")
    assert text.isdigit() and len(text) == 12
    assert res.stdout == recognize(page_file, charset="digits").text + "\n"


def test_cli_options_reach_the_reading(use_tiny_weights: Path, page_file: Path) -> None:
    args = ["--no-deskew", "--binarize", "sauvola", "--letter-prior", "0", "--voting", "hard"]
    res = runner.invoke(app, ["read", *args, str(page_file)])
    assert res.exit_code == 0, res.output
    expected = recognize(
        page_file, deskew=False, binarize="sauvola", letter_prior=0.0, voting="hard"
    )
    assert res.stdout == expected.text + "\n"


def test_reject_below_marks_doubtful_words(use_tiny_weights: Path, page_file: Path) -> None:
    doc = recognize(page_file, reject_below=1.0)  # every word is below certainty
    words = [w for p in doc.pages for ln in p.lines for w in ln.words]
    assert words and all(w.rejected for w in words)
    res = runner.invoke(app, ["read", "--reject-below", "1", str(page_file)])
    assert res.exit_code == 0, res.output
    assert set(res.stdout.split()) == {"[?]"}
    res = runner.invoke(app, ["read", "-f", "json", "--reject-below", "0", str(page_file)])
    out = json.loads(res.stdout)
    assert not any(w["rejected"] for p in out["pages"] for ln in p["lines"] for w in ln["words"])
    res = runner.invoke(app, ["read", "--reject-below", "2", str(page_file)])
    assert res.exit_code == ExitCode.USAGE and "--reject-below" in res.stderr


def test_no_combs_reads_a_comb_field_as_free_handprint(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    import cv2

    from tests.helpers import draw_comb

    path = tmp_path / "comb.png"
    cv2.imwrite(str(path), draw_comb("4 7 2 "))
    for flag, combs in (("--combs", True), ("--no-combs", False)):
        res = runner.invoke(app, ["read", flag, str(path)])
        assert res.exit_code == 0, res.output
        assert res.stdout == recognize(path, combs=combs).text + "\n"
    boxed = runner.invoke(app, ["read", "-f", "json", str(path)])
    (word,) = [w for line in Document.from_json(boxed.stdout).pages[0].lines for w in line.words]
    assert len(word.chars) == 3  # one per filled box, whatever the tiny weights read


def test_kind_option_chooses_the_words_printed(use_tiny_weights: Path, page_file: Path) -> None:
    every = runner.invoke(app, ["read", "-f", "json", str(page_file)])
    assert every.exit_code == 0, every.output
    doc = Document.from_json(every.stdout)
    assert {w.kind for line in doc.pages[0].lines for w in line.words} == {"handwritten"}
    hand = runner.invoke(app, ["read", "--kind", "handwritten", str(page_file)])
    assert hand.exit_code == 0 and hand.stdout == doc.text + "\n"
    printed = runner.invoke(app, ["read", "--kind", "printed", "-f", "json", str(page_file)])
    assert printed.exit_code == 0, printed.output
    jsonschema.validate(json.loads(printed.stdout), SCHEMA)
    none = Document.from_json(printed.stdout)
    assert none.pages[0].lines == () and none.pages[0].blocks == ()
    assert none == Document.from_json(recognize(page_file, kind="printed").to_json())


def test_overlay_writes_one_png_per_page(use_tiny_weights: Path, tmp_path: Path) -> None:
    pages = [Image.fromarray(draw_text_page([t])) for t in ("AB", "CD")]
    tif = tmp_path / "two.tif"
    pages[0].save(tif, save_all=True, append_images=pages[1:])
    out = tmp_path / "overlays"
    res = runner.invoke(app, ["read", "--overlay", str(out), str(tif)])
    assert res.exit_code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["two-p1.png", "two-p2.png"]
    img = cv2.imread(str(out / names[0]))
    assert img.shape[:2] == np.asarray(pages[0]).shape[:2] and img.shape[2] == 3


def test_an_unwritable_overlay_only_warns(
    use_tiny_weights: Path, page_file: Path, tmp_path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = runner.invoke(app, ["read", "--overlay", str(blocker), str(page_file)])
    assert res.exit_code == 0 and "cannot write" in res.stderr
    assert res.stdout == recognize(page_file).text + "\n"


def test_cli_reads_a_20_page_pdf_with_page_numbers(use_tiny_weights: Path, pdf20: Path) -> None:
    res = runner.invoke(app, ["read", str(pdf20), "--dpi", "72", "-f", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert [p["index"] for p in doc["pages"]] == list(range(20))
    assert [p["source"] for p in doc["pages"]] == [f"twenty.pdf#{k}" for k in range(1, 21)]
    assert doc["text"].count("\f") == 19
    assert [len(p["text"]) for p in doc["pages"]] == list(range(1, 21))  # page k: k strokes


def test_cli_pages_option(use_tiny_weights: Path, tiff5: Path) -> None:
    res = runner.invoke(app, ["read", str(tiff5), "--pages", "2-3", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert [p["source"] for p in json.loads(res.stdout)["pages"]] == ["five.tif#2", "five.tif#3"]


def test_cli_reads_standard_input(use_tiny_weights: Path, tiff5: Path) -> None:
    res = runner.invoke(app, ["read", "-", "-f", "json"], input=tiff5.read_bytes())
    assert res.exit_code == 0, res.output
    pages = json.loads(res.stdout)["pages"]
    assert [p["source"] for p in pages] == [f"stdin#{k}" for k in range(1, 6)]


@pytest.mark.parametrize("fmt", ["text", "json", "hocr", "tsv"])
def test_cli_output_dir_writes_one_result_per_input(
    use_tiny_weights: Path, tiff5: Path, tmp_path: Path, fmt: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), draw_text_page(["AB"]))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "c.tif").write_bytes(tiff5.read_bytes())
    out = tmp_path / "out"
    res = runner.invoke(app, ["read", str(folder), "--output-dir", str(out), "-f", fmt])
    assert res.exit_code == ExitCode.PARTIAL, res.output
    assert "broken.png" in res.stderr and res.stdout == ""
    suffix = {"text": "txt"}.get(fmt, fmt)
    assert sorted(p.name for p in out.iterdir()) == [f"a.png.{suffix}", f"c.tif.{suffix}"]
    expected = render(recognize(folder / "a.png"), fmt)
    assert (out / f"a.png.{suffix}").read_text(encoding="utf-8") == expected
    if fmt == "json":
        tif = json.loads((out / "c.tif.json").read_text())
        jsonschema.validate(tif, SCHEMA)
        assert [p["index"] for p in tif["pages"]] == [0, 1, 2, 3, 4]  # numbered per input


def test_cli_output_file_is_written_whole(
    use_tiny_weights: Path, tiff5: Path, tmp_path: Path
) -> None:
    target = tmp_path / "deep" / "result.json"
    res = runner.invoke(app, ["read", str(tiff5), "-o", str(target), "-f", "json"])
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
    res = runner.invoke(app, ["read", str(tiff5), "-o", str(blocker / "r.txt")])
    assert res.exit_code == ExitCode.BAD_OUTPUT and "cannot write" in res.stderr


def test_cli_every_input_bad_is_exit_3(use_tiny_weights: Path, tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    res = runner.invoke(app, ["read", str(empty)])
    assert res.exit_code == ExitCode.BAD_INPUT and "no images" in res.stderr
    res = runner.invoke(app, ["read", str(tmp_path / "missing.png")])
    assert res.exit_code == ExitCode.BAD_INPUT and "missing.png" in res.stderr
    res = runner.invoke(app, ["read", "a.png", "-o", "x", "--output-dir", "y"])
    assert res.exit_code == ExitCode.USAGE


def test_hocr_is_xhtml_with_the_required_classes(use_tiny_weights: Path, tiff5: Path) -> None:
    from lxml import etree

    res = runner.invoke(app, ["read", str(tiff5), "-f", "hocr"])
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


def test_model_failure_is_exit_1_with_one_line(
    use_tiny_weights: Path, tiff5: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr.ensemble import Ensemble
    from handocr.errors import ModelOutputError

    def broken(self: Ensemble, x: np.ndarray, members=None) -> np.ndarray:
        raise ModelOutputError("member cnn.tiny returned non-finite probabilities")

    monkeypatch.setattr(Ensemble, "member_proba", broken)
    res = runner.invoke(app, ["read", str(tiff5)])
    assert res.exit_code == ExitCode.FAILURE and "non-finite" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output and res.stdout == ""


def test_model_failure_over_several_inputs_is_exit_1(
    use_tiny_weights: Path, tiff5: Path, page_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr.ensemble import Ensemble
    from handocr.errors import ModelOutputError

    def broken(self: Ensemble, x: np.ndarray, members=None) -> np.ndarray:
        raise ModelOutputError("member cnn.tiny returned non-finite probabilities")

    monkeypatch.setattr(Ensemble, "member_proba", broken)
    res = runner.invoke(app, ["read", str(page_file), str(tiff5), str(page_file)])
    assert res.exit_code == ExitCode.FAILURE and "non-finite" in res.stderr
    assert "Traceback" not in res.output and res.stdout == ""
