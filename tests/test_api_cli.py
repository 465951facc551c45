"""The public API and the command line: outputs, exit codes, batches with bad pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr import Document, ExitCode, InputImageError, Recognizer, recognize

from .conftest import draw_text_page

runner = CliRunner()


@pytest.fixture
def page_file(tmp_path: Path, two_line_page) -> Path:
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), two_line_page[0])
    return path


def test_blank_page_reads_as_empty_text() -> None:
    assert recognize(np.full((32, 32), 255, np.uint8)).text == ""


def test_document_structure_boxes_and_confidences(use_tiny_weights: Path, two_line_page) -> None:
    page, truth = two_line_page
    doc = Recognizer(device="cpu").read(page)
    assert len(doc.pages) == 1 and doc.models[0].tag == "tiny"
    p = doc.pages[0]
    assert (p.width, p.height) == (page.shape[1], page.shape[0])
    assert [len(line.words) for line in p.lines] == [len(t.split()) for t in truth]
    for line in p.lines:
        for word in line.words:
            for ch in word.chars:
                assert 0.0 <= ch.confidence <= 1.0 and len(ch.text) == 1
                assert 0 <= ch.box.x0 < ch.box.x1 <= p.width
                assert len(ch.alternatives) == 2
    assert [len(line.text.replace(" ", "")) for line in p.lines] == [7, 5]


def test_rgba_array_raises_input_error() -> None:
    with pytest.raises(InputImageError, match="channels"):
        recognize(np.zeros((8, 8, 4), np.uint8))


def test_float_array_raises_input_error() -> None:
    with pytest.raises(InputImageError, match="uint8"):
        recognize(np.zeros((8, 8), np.float64))


def test_multipage_tiff_and_pdf_keep_order(use_tiny_weights: Path, tmp_path: Path) -> None:
    from PIL import Image

    frames = [Image.fromarray(draw_text_page([t])) for t in ("A", "BB", "CCC")]
    tif = tmp_path / "doc.tif"
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    pdf = tmp_path / "doc.pdf"
    frames[0].convert("RGB").save(
        pdf, save_all=True, append_images=[f.convert("RGB") for f in frames[1:]]
    )
    for path in (tif, pdf):
        doc = recognize(path)
        assert [p.source for p in doc.pages] == [f"{path.name}#{k}" for k in (1, 2, 3)]
        assert [len(p.text) for p in doc.pages] == [1, 2, 3]


def test_cli_text_is_doc_text(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", str(page_file)])
    assert res.exit_code == 0, res.output
    assert res.stdout == recognize(page_file).text + "\n"


def test_cli_json_round_trips(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", "--format", "json", str(page_file)])
    assert res.exit_code == 0
    doc = Document.from_json(res.stdout)
    assert doc.pages[0].source == "page.png" and doc.models[0].name == "cnn"


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


def test_cli_missing_weights_gives_bad_weights(
    page_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(tmp_path))
    res = runner.invoke(app, ["read", str(page_file)])
    assert res.exit_code == ExitCode.BAD_WEIGHTS and "MANIFEST.json" in res.stderr


def test_cli_unknown_model_gives_usage(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", "-m", "resnet99", str(page_file)])
    assert res.exit_code == ExitCode.USAGE and "resnet99" in res.stderr


def test_cli_eval_json(use_tiny_weights: Path, emnist_sample: Path, tmp_path: Path) -> None:
    png = tmp_path / "cm.png"
    res = runner.invoke(
        app, ["eval", "--data", str(emnist_sample), "--json", "--confusion", str(png)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] == 470 and set(out["members"]) == {"cnn.tiny", "cnn.tiny-b"}
    best = max(out["members"].values())
    assert best <= out["scores"]["oracle"] <= 1.0 and 0.0 <= out["scores"]["agreement"] <= 1.0
    assert 0.0 <= out["ensemble"] <= 1.0 and png.stat().st_size > 0


def test_cli_eval_bad_data_gives_bad_data(tmp_path: Path) -> None:
    res = runner.invoke(app, ["eval", "--data", str(tmp_path)])
    assert res.exit_code == ExitCode.BAD_DATA and "emnist-pool47-test" in res.stderr


def test_cli_eval_pages_scores_a_synthetic_set(use_tiny_weights: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sets" / "synthetic"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "a.png"), draw_text_page(["AB"]))
    (folder / "truth.tsv").write_text("a.png\tAB\nmissing.png\tCD\n")
    res = runner.invoke(app, ["eval-pages", str(tmp_path / "sets"), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)["synthetic"]
    assert s["images"] == 2 and len(s["failures"]) == 1
    assert 0.5 <= s["cer"] <= 1.0  # the missing image counts as two deletions


def test_python_dash_m_runs(use_tiny_weights: Path, page_file: Path) -> None:
    env = {**os.environ, "HANDOCR_WEIGHTS": str(use_tiny_weights)}
    res = subprocess.run(
        [sys.executable, "-m", "handocr", "read", str(page_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == recognize(page_file).text + "\n"


def test_import_handocr_does_not_import_torch() -> None:
    code = "import sys, handocr; print('torch' in sys.modules, 'cv2' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["False", "False"]


def test_cli_help_does_not_import_torch() -> None:
    code = (
        "import sys; from handocr_cli.app import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['read', '--help']); "
        "print(r.exit_code, 'torch' in sys.modules, 'timm' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["0", "False", "False"]


def test_scores_fold_ambiguous_classes_and_count_top2() -> None:
    from handocr.evaluate import Scores
    from handocr.labels import NUM_CLASSES, index_of

    labels = np.array([index_of("O"), index_of("A")])
    probs = np.full((2, NUM_CLASSES), 0.001)
    probs[0, index_of("0")] = 0.9  # O read as 0: wrong, right when folded
    probs[0, index_of("O")] = 0.05
    probs[1, index_of("B")] = 0.6  # A read as B, A second
    probs[1, index_of("A")] = 0.3
    probs /= probs.sum(1, keepdims=True)
    sc = Scores.of(probs, labels)
    assert sc.top1 == 0.0 and sc.top2 == 1.0 and sc.folded == 0.5
    assert 0.0 < sc.ece <= 1.0 and sc.nll > 0


def test_charset_digits_gives_only_digits(use_tiny_weights: Path, page_file: Path) -> None:
    res = runner.invoke(app, ["read", "--charset", "digits", str(page_file)])
    assert res.exit_code == 0
    assert res.stdout.replace(" ", "").replace("\n", "").isdigit()


def test_bad_charset_is_a_usage_error(page_file: Path) -> None:
    res = runner.invoke(app, ["read", "--charset", "€", str(page_file)])
    assert res.exit_code == ExitCode.USAGE and "47 EMNIST classes" in res.stderr


def test_apply_charset_folds_case_and_renormalises() -> None:
    from handocr.decode import apply_charset
    from handocr.labels import NUM_CLASSES, index_of

    p = np.zeros((1, NUM_CLASSES), np.float32)
    p[0, index_of("a")] = 0.5
    p[0, index_of("A")] = 0.2
    p[0, index_of("4")] = 0.3
    out = apply_charset(p, "upper")
    assert out[0, index_of("A")] == pytest.approx(1.0) and out[0, index_of("4")] == 0


def test_oversized_header_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    import handocr.io as hio

    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.full((300, 400), 255, np.uint8))
    monkeypatch.setattr(hio, "MAX_PIXELS", 100_000)
    with pytest.raises(InputImageError, match="over the limit"):
        recognize(path)


@pytest.mark.parametrize("fmt", ["hocr", "tsv"])
def test_cli_hocr_and_tsv_match_the_library(use_tiny_weights: Path, page_file: Path, fmt) -> None:
    res = runner.invoke(app, ["read", "--format", fmt, str(page_file)])
    assert res.exit_code == 0
    doc = recognize(page_file)
    assert res.stdout == (doc.to_hocr() if fmt == "hocr" else doc.to_tsv())


def test_overlay_writes_one_png_per_page(use_tiny_weights: Path, tmp_path: Path) -> None:
    from PIL import Image

    frames = [Image.fromarray(draw_text_page([t])) for t in ("AB", "CD")]
    tif = tmp_path / "two.tif"
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    out = tmp_path / "overlays"
    res = runner.invoke(app, ["read", "--overlay", str(out), str(tif)])
    assert res.exit_code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["two-p1.png", "two-p2.png"]
    img = cv2.imread(str(out / names[0]))
    assert img.shape[:2] == np.asarray(frames[0]).shape[:2] and img.shape[2] == 3


def test_cli_eval_pages_applies_a_charset_to_one_set(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    for name in ("amounts", "names"):
        folder = tmp_path / "sets" / name
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "a.png"), draw_text_page(["12"]))
        (folder / "truth.tsv").write_text("a.png\t12\n")
    root = str(tmp_path / "sets")
    res = runner.invoke(
        app, ["eval-pages", root, "--json", "--rows", "--charset", "amounts=digits"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["amounts"]["charset"] == "digits" and out["names"]["charset"] is None
    assert all(ch.isdigit() for ch in out["amounts"]["rows"][0]["output"].replace(" ", ""))
    res = runner.invoke(app, ["eval-pages", root, "--json", "--charset", "upper"])
    assert res.exit_code == 0 and {v["charset"] for v in json.loads(res.stdout).values()} == {
        "upper"
    }
    res = runner.invoke(app, ["eval-pages", root, "--charset", "cheques=digits"])
    assert res.exit_code == ExitCode.USAGE and "cheques" in res.output
    res = runner.invoke(app, ["eval-pages", root, "--charset", "amounts=%"])
    assert res.exit_code == ExitCode.USAGE


def test_read_pages_shares_batches_and_equals_page_by_page(use_tiny_weights) -> None:
    from handocr.api import Recognizer

    from .conftest import draw_text_page

    images = [draw_text_page([t]) for t in ("AB 12", "XYZ", "7")]
    images.append(np.full((50, 80), 255, np.uint8))  # blank: no crops
    rec = Recognizer(device="cpu")
    together = rec.read_pages(images, indices=[3, 4, 5, 6], sources=["a", "b", "c", "d"])
    triples = zip(images, [3, 4, 5, 6], "abcd", strict=True)
    alone = [rec.read_page(im, index=i, source=s) for im, i, s in triples]
    assert [p.index for p in together] == [3, 4, 5, 6] and together[3].lines == ()
    for a, b in zip(together, alone, strict=True):
        assert a.text == b.text and a.source == b.source
        ca = [c for line in a.lines for c in line.all_chars()]
        cb = [c for line in b.lines for c in line.all_chars()]
        assert [c.box for c in ca] == [c.box for c in cb]
        np.testing.assert_allclose(
            [c.confidence for c in ca], [c.confidence for c in cb], atol=1e-5
        )
    with pytest.raises(ValueError, match="one index"):
        rec.read_pages(images, indices=[0])


def test_batch_pages_groups_by_pixels_and_count() -> None:
    from types import SimpleNamespace

    from handocr.api import BATCH_PAGES, batch_pages

    pages = [SimpleNamespace(image=np.zeros((10, 10))) for _ in range(7)]
    assert [len(g) for g in batch_pages(pages, pixels=300)] == [3, 3, 1]
    many = [SimpleNamespace(image=np.zeros((1, 1))) for _ in range(BATCH_PAGES + 5)]
    assert [len(g) for g in batch_pages(many)] == [BATCH_PAGES, 5]


def test_cli_reads_many_small_inputs_in_order_and_reports_the_bad_one(
    use_tiny_weights, tmp_path: Path
) -> None:
    import cv2
    from handocr_cli.app import app
    from typer.testing import CliRunner

    from .conftest import draw_text_page

    paths = []
    for i, text in enumerate(["AB", "CD", "EF"]):
        p = tmp_path / f"{i}.png"
        cv2.imwrite(str(p), draw_text_page([text]))
        paths.append(p)
    bad = tmp_path / "1b.png"
    bad.write_bytes(b"not a png")
    args = ["read", "-f", "json", str(paths[0]), str(bad), str(paths[1]), str(paths[2])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 6  # PARTIAL: the others were read and written
    doc = json.loads(result.stdout)
    assert [p["source"] for p in doc["pages"]] == [p.name for p in paths]
    assert [p["index"] for p in doc["pages"]] == [0, 1, 2]


def test_confident_glyphs_are_never_offered_cuts(monkeypatch) -> None:
    from handocr import api
    from handocr.labels import NUM_CLASSES
    from handocr.result import Box
    from handocr.segment import split
    from handocr.segment.split import Piece

    seen: list[Box] = []

    def fake_candidates(piece: Piece) -> list:
        seen.append(piece.box)
        return []

    monkeypatch.setattr(split, "split_candidates", fake_candidates)
    pieces = [Piece(Box(0, 0, 60, 20), np.full((20, 60), 255, np.uint8)) for _ in range(2)]
    pieces[1] = Piece(Box(70, 0, 130, 20), pieces[1].mask)
    stack = np.full((2, 2, NUM_CLASSES), 0.1 / (NUM_CLASSES - 1), np.float32)
    stack[0, :, 5] = 0.9  # confident: log(0.9) + SPLIT_MARGIN > 0, no cut can win
    stack[1, :, 5] = 0.5  # unsure: cuts are worth classifying
    rec = api.Recognizer(device="cpu")
    rec._split_touching([pieces], [[True, False]], stack)
    assert seen == [pieces[1].box]
    assert np.log(0.9) + api.SPLIT_MARGIN > 0 > np.log(0.5) + api.SPLIT_MARGIN


def test_a_character_broken_in_two_is_joined_when_recognition_says_so() -> None:
    # a Y drawn as two strokes: each alone a poor L, together a confident Y; a pair of clear
    # glyphs (or a pair too far apart) is never joined
    from handocr import api
    from handocr.labels import NUM_CLASSES, index_of
    from handocr.result import Box
    from handocr.segment.split import Piece

    def probs(ch: str, p: float) -> np.ndarray:
        row = np.full(NUM_CLASSES, (1 - p) / (NUM_CLASSES - 1), np.float32)
        row[index_of(ch)] = p
        return row

    left = Piece(Box(0, 0, 15, 40), np.full((40, 15), 255, np.uint8))
    right = Piece(Box(17, 0, 32, 40), np.full((40, 15), 255, np.uint8))
    joined_seen: list[Box] = []

    class Stub(api.Recognizer):
        def _classify(self, pieces):  # type: ignore[no-untyped-def]
            joined_seen.extend(p.box for p in pieces)
            out = np.stack([probs("Y", 0.95)] * len(pieces))
            return np.stack([out, out], axis=1)

    rec = Stub(device="cpu")
    unsure = np.stack([np.stack([probs("L", 0.5)] * 2)] * 2)  # (2 glyphs, 1 + 1 member, 47)
    items, starts, stack = rec._merge_broken([[left, right]], [[True, False]], unsure)
    assert [p.box for p in items[0]] == [Box(0, 0, 32, 40)] and starts == [[True]]
    assert stack.shape == (1, 2, NUM_CLASSES) and stack[0, 0].argmax() == index_of("Y")
    assert items[0][0].mask.shape == (40, 32) and items[0][0].mask[:, 15:17].max() == 0
    # confident parts: log(0.9) + MERGE_MARGIN >= 0, not even classified (exact pruning)
    joined_seen.clear()
    sure = np.stack([np.stack([probs("L", 0.9)] * 2)] * 2)
    items, _, _ = rec._merge_broken([[left, right]], [[True, False]], sure)
    assert len(items[0]) == 2 and joined_seen == []
    # 0.2 heights apart is no broken character, nor a pair wider together than high
    far = Piece(Box(23, 0, 38, 40), right.mask)
    items, _, _ = rec._merge_broken([[left, far]], [[True, False]], unsure)
    assert len(items[0]) == 2 and joined_seen == []
    wide = Piece(Box(0, 10, 15, 40), left.mask[:30])
    items, _, _ = rec._merge_broken(
        [[wide, Piece(Box(17, 10, 32, 40), wide.mask)]], [[True, False]], unsure
    )
    assert len(items[0]) == 2 and joined_seen == []
