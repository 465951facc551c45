"""Training the line member: batches, scoring, a few CTC steps, export, parity, resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import OptionError, WeightsError
from handocr.models.crnn import ALPHABET, build_line_model
from handocr.train.linebatch import score, to_batch
from handocr.train.linefit import LineTrainConfig, fit_lines
from handocr.train.lineweights import line_parity, load_line_weights

TINY = {"channels": (8, 16, 16, 16), "stem_width": 4, "hidden": 16}


def test_batches_are_ink_bright_and_right_padded_with_zero() -> None:
    a = np.full((32, 10), 255, np.uint8)
    b = np.zeros((32, 21), np.uint8)
    x, t = to_batch([a, b], extra_px=3)
    assert x.shape == (2, 1, 32, 24) and x.dtype == np.float32
    assert x[0].max() == 0.0 and x[1, 0, :, :21].min() == 1.0 and x[1, 0, :, 21:].max() == 0.0
    assert t.tolist() == [3, 6]


def test_score_follows_the_page_sets_rule() -> None:
    s = score(["JEAN LUC", "AB"], ["jeanluc", "AC"])
    assert s["cer"] == pytest.approx(1 / 9) and s["exact"] == 0.5
    assert score(["1500"], ["1.500,-"], digits_only=True)["cer"] == 0.0


def test_bad_line_options_are_option_errors() -> None:
    with pytest.raises(OptionError):
        LineTrainConfig(arch="cnn")
    with pytest.raises(OptionError):
        LineTrainConfig(steps=0)
    with pytest.raises(OptionError):
        LineTrainConfig(real_share=1.0)


@pytest.mark.slow
def test_a_few_steps_write_weights_graph_and_description(
    emnist_sample: Path, tmp_path: Path
) -> None:
    import torch

    torch.set_num_threads(1)
    cfg = LineTrainConfig(
        data=str(emnist_sample),
        out_dir=str(tmp_path / "run"),
        tag="t1",
        steps=16,
        batch_size=8,
        lr=3e-3,
        checkpoint_every=8,
        synth_val=8,
        model=TINY,
        command="test",
    )
    res = fit_lines(cfg)
    assert res.weights.name == "crnn.t1.safetensors" and res.graph.name == "crnn.t1.onnx"
    hist = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(hist) == 3  # header + steps 8 and 16
    first, last = (float(r.split(",")[1]) for r in (hist[1], hist[2]))
    assert np.isfinite([first, last]).all() and last < first  # CTC loss falls
    desc = json.loads(res.description.read_text())
    assert desc["alphabet"] == ALPHABET and desc["output"] == "log_probs"
    assert desc["input"] == {**desc["input"], "height": 32, "channels": 1, "ink": "bright"}
    assert desc["licence"] == "MIT" and desc["command"] == "test"
    assert desc["metrics"]["val"]["synth"]["lines"] == 8
    assert not (tmp_path / "run" / "crnn.t1.onnx.data").exists()  # weights embedded
    net = build_line_model("crnn", **TINY)
    meta = load_line_weights(net, res.weights)
    assert meta["arch"] == "crnn" and meta["train"]["config"]["steps"] == 16
    assert line_parity(net.eval(), res.graph, widths=(1, 9, 64, 333)) < 1e-4
    with pytest.raises(WeightsError, match="does not fit"):
        load_line_weights(build_line_model("crnn", **{**TINY, "hidden": 8}), res.weights)

    # resume: the checkpoint carries the step count, a finished run only re-exports
    more = fit_lines(dataclasses.replace(cfg), resume=True)
    assert more.metrics["steps"] == 16


@pytest.mark.slow
def test_real_lines_only_fine_tuning_from_init(tmp_path: Path) -> None:
    import cv2
    import torch

    torch.set_num_threads(1)
    folder = tmp_path / "mine"
    folder.mkdir()
    rows = []
    for i, text in enumerate(["AB 12", "CD-3", "E'F", "7/8"] * 3):
        img = np.full((40, 160), 235, np.uint8)
        cv2.putText(img, text, (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 30, 2)
        cv2.imwrite(str(folder / f"{i}.png"), img)
        rows.append(f"{i}.png\t{text}")
    (folder / "truth.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    net = build_line_model("crnn", **TINY)
    from handocr.train.lineweights import LINE_FORMAT, save_line_weights

    init = tmp_path / "init.safetensors"
    save_line_weights(net, init, {"format": LINE_FORMAT, "alphabet": ALPHABET, "arch": "crnn"})
    cfg = LineTrainConfig(
        out_dir=str(tmp_path / "ft"),
        steps=4,
        batch_size=4,
        checkpoint_every=4,
        lines=(str(folder),),
        real_share=1.0,
        real_holdout=0.2,
        init=str(init),
        model=TINY,
    )
    res = fit_lines(cfg)
    assert set(res.metrics["val"]) == {"mine"}  # no EMNIST read, no synthetic lines
