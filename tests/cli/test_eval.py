"""``handocr eval`` (EMNIST classifier scores) and ``handocr eval-pages`` (CER of page sets)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr import ExitCode
from tests.helpers import draw_text_page

runner = CliRunner()


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


def test_cli_eval_table_names_the_cascade(
    use_onnx_weights: Path, emnist_sample: Path, tmp_path: Path
) -> None:
    png = tmp_path / "cm.png"
    res = runner.invoke(app, ["eval", "--data", str(emnist_sample), "--confusion", str(png)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["model", "top-1", "top-2", "folded", "ECE", "NLL"]
    assert [ln.split()[0] for ln in lines[1:5]] == ["cnn.tiny", "cnn.tiny-b", "ensemble", "cascade"]
    assert any(ln.startswith("cascade: cnn.tiny-b > cnn.tiny (margins 0.5)") for ln in lines)
    off = runner.invoke(app, ["eval", "--data", str(emnist_sample), "--confusion", str(png),
                              "--cascade", "off", "--json"])  # fmt: skip
    assert off.exit_code == 0 and json.loads(off.stdout)["scores"]["cascade"] is None


def test_cli_eval_bad_data_gives_bad_data(tmp_path: Path) -> None:
    res = runner.invoke(app, ["eval", "--data", str(tmp_path)])
    assert res.exit_code == ExitCode.BAD_DATA and "emnist-pool47-test" in res.stderr


def test_cli_eval_bad_options_give_usage(use_tiny_weights: Path, emnist_sample: Path) -> None:
    for opts in (["--backend", "gpu"], ["--cascade", "often"]):
        res = runner.invoke(app, ["eval", "--data", str(emnist_sample), *opts])
        assert res.exit_code == ExitCode.USAGE, (opts, res.output)


def _set(root: Path, name: str, pages: dict[str, str], truth: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for file, text in pages.items():
        cv2.imwrite(str(folder / file), draw_text_page([text]))
    (folder / "truth.tsv").write_text(truth)


def test_cli_eval_pages_scores_a_synthetic_set(use_tiny_weights: Path, tmp_path: Path) -> None:
    _set(tmp_path / "sets", "synthetic", {"a.png": "AB"}, "a.png\tAB\nmissing.png\tCD\n")
    res = runner.invoke(app, ["eval-pages", str(tmp_path / "sets"), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)["synthetic"]
    assert s["images"] == 2 and len(s["failures"]) == 1
    assert 0.5 <= s["cer"] <= 1.0  # the missing image counts as two deletions
    assert s["cer_ci95"][0] <= s["cer"] <= s["cer_ci95"][1]
    assert s["exact_ci95"][0] <= s["exact"] <= s["exact_ci95"][1]
    assert set(s["read_rate"]) == {"0.01", "0.001"} and 0 <= s["calibration_error"] <= 1
    assert "missing.png" in res.stderr  # the failure is reported


def test_cli_eval_pages_table_has_a_confidence_interval(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    _set(tmp_path / "sets", "orand_car_a", {"a.png": "12", "b.png": "3"}, "a.png\t12\nb.png\t3\n")
    res = runner.invoke(app, ["eval-pages", str(tmp_path / "sets"), "--charset", "digits"])
    assert res.exit_code == 0, res.output
    head, row, legend = res.stdout.splitlines()
    assert head.split() == [
        "set", "images", "CER", "95%", "CI", "exact", "95%", "CI",
        "read@1%", "read@0.1%", "ECE", "s/image",
    ]  # fmt: skip
    cells = row.split()
    assert cells[:2] == ["orand_car_a", "2"]
    low, high = (float(v) for v in cells[3].split("-"))
    assert low <= float(cells[2]) <= high
    low, high = (float(v) for v in cells[5].split("-"))
    assert low <= float(cells[4]) <= high
    assert all(0.0 <= float(v) <= 1.0 for v in cells[6:9])
    assert row.endswith("(digits only, --charset digits)")
    assert legend.startswith("read@E: largest share of images accepted")


def test_cli_eval_pages_applies_a_charset_to_one_set(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    for name in ("amounts", "names"):
        _set(tmp_path / "sets", name, {"a.png": "12"}, "a.png\t12\n")
    root = str(tmp_path / "sets")
    res = runner.invoke(
        app, ["eval-pages", root, "--json", "--rows", "--charset", "amounts=digits"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["amounts"]["charset"] == "digits" and out["names"]["charset"] is None
    assert all(ch.isdigit() for ch in out["amounts"]["rows"][0]["output"].replace(" ", ""))
    assert "rows" in out["names"]
    res = runner.invoke(app, ["eval-pages", root, "--json", "--charset", "upper"])
    assert res.exit_code == 0 and {v["charset"] for v in json.loads(res.stdout).values()} == {
        "upper"
    }
    res = runner.invoke(app, ["eval-pages", root, "--charset", "cheques=digits"])
    assert res.exit_code == ExitCode.USAGE and "cheques" in res.output
    res = runner.invoke(app, ["eval-pages", root, "--charset", "amounts=%"])
    assert res.exit_code == ExitCode.USAGE and "47 EMNIST classes" in res.stderr
    res = runner.invoke(app, ["eval-pages", root, "--charset", "%"])
    assert res.exit_code == ExitCode.USAGE


def test_cli_eval_pages_without_sets_is_bad_data(tmp_path: Path) -> None:
    res = runner.invoke(app, ["eval-pages", str(tmp_path)])
    assert res.exit_code == ExitCode.BAD_DATA and "truth.tsv" in res.stderr
