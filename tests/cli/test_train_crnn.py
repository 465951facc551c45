"""``handocr train --arch crnn``: the line member from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr.errors import ExitCode

runner = CliRunner()


def _lines_folder(folder: Path) -> Path:
    import cv2

    folder.mkdir()
    rows = []
    for i, text in enumerate(["12.50", "JEAN-LUC", "A/B", "O'NEIL", "10:30", "X, Y"]):
        img = np.full((36, 200), 240, np.uint8)
        cv2.putText(img, text, (4, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 20, 2)
        cv2.imwrite(str(folder / f"line{i}.png"), img)
        rows.append(f"line{i}.png\t{text}")
    (folder / "truth.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_train_crnn_writes_safetensors_onnx_and_json(
    emnist_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    args = [
        "train", "--arch", "crnn", "--data", str(emnist_sample), "--lines",
        str(_lines_folder(tmp_path / "mine")), "--real-holdout", "0.5", "--out", str(out),
        "--tag", "t", "--steps", "2", "--checkpoint-every", "2", "--batch-size", "4",
        "--threads", "1",
    ]  # fmt: skip
    monkeypatch.setattr("sys.argv", ["handocr", *args])  # the command the run records
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    for key, name in (("weights", "crnn.t.safetensors"), ("onnx", "crnn.t.onnx")):
        assert Path(summary[key]) == out / name and (out / name).is_file()
    desc = json.loads((out / "crnn.t.json").read_text())
    assert "train --arch crnn" in desc["command"] and desc["command"].endswith("--threads 1")
    assert summary["steps"] == 2 and "mine" in summary["val"] and "synth" in summary["val"]
    assert (out / "checkpoint.pt").is_file()
    res = runner.invoke(app, [*args, "--resume"])  # already finished: only re-exported
    assert res.exit_code == 0 and json.loads(res.stdout)["steps"] == 2


def test_line_options_with_a_crop_member_are_usage_errors(
    emnist_sample: Path, tmp_path: Path
) -> None:
    base = ["train", "--arch", "cnn", "--data", str(emnist_sample), "--out", str(tmp_path)]
    res = runner.invoke(app, [*base, "--lines", str(tmp_path)])
    assert res.exit_code == ExitCode.USAGE and "--arch crnn" in res.stderr
    res = runner.invoke(app, ["train", "--arch", "crnn", "--out", str(tmp_path), "--steps", "0"])
    assert res.exit_code == ExitCode.USAGE


def test_line_member_with_a_bad_lines_folder_is_a_data_error(
    emnist_sample: Path, tmp_path: Path
) -> None:
    res = runner.invoke(
        app,
        ["train", "--arch", "crnn", "--data", str(emnist_sample), "--lines", str(tmp_path),
         "--out", str(tmp_path / "o"), "--steps", "1"],
    )  # fmt: skip
    assert res.exit_code == ExitCode.BAD_DATA and "truth.tsv" in res.stderr
