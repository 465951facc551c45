"""Weights safety and training faults: tampering, pickles, corrupt checkpoints, SIGKILL."""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handocr.errors import DataError, ExitCode

runner = CliRunner()
ROOT = Path(__file__).parents[1]


class _Payload:
    """Unpickling this would create a file: proof that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_tampered_shipped_style_weights_give_exit_4(
    tiny_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr_cli.app import app

    from .conftest import draw_text_page

    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    target = folder / "cnn.tiny-b.safetensors"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit flipped
    target.write_bytes(bytes(raw))
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(folder))
    from handocr import api

    api._cached.cache_clear()
    import cv2

    page = tmp_path / "p.png"
    cv2.imwrite(str(page), draw_text_page(["AB"]))
    res = runner.invoke(app, ["read", str(page)])
    assert res.exit_code == ExitCode.BAD_WEIGHTS
    assert "cnn.tiny-b.safetensors" in res.stderr and "sha256" in res.stderr
    assert "Traceback" not in res.output


def test_a_pickle_named_safetensors_is_refused_unexecuted(tmp_path: Path) -> None:
    from handocr.errors import WeightsError
    from handocr.models import create_model
    from handocr.models.weights import load_weights

    marker = tmp_path / "pwned"
    evil = tmp_path / "cnn.evil.safetensors"
    evil.write_bytes(pickle.dumps({"state": _Payload(marker)}))
    with pytest.raises(WeightsError, match=r"cnn\.evil\.safetensors"):
        load_weights(create_model("cnn", weights=None), evil)
    assert not marker.exists()


def test_torch_load_only_reads_checkpoints_with_weights_only() -> None:
    """Every ``torch.load`` call in the package passes ``weights_only=True``."""
    calls = []
    for path in [*(ROOT / "handocr").rglob("*.py"), *(ROOT / "cli").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "load"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "torch"
            ):
                kw = {k.arg: k.value for k in node.keywords}
                ok = (
                    isinstance(kw.get("weights_only"), ast.Constant)
                    and kw["weights_only"].value is True
                )
                calls.append((path.name, node.lineno, ok))
    assert calls, "expected the training checkpoint reader"
    assert all(ok for _, _, ok in calls), calls
    assert {name for name, _, _ in calls} == {"fit.py"}  # training checkpoints only


def _tiny_data(emnist_sample: Path) -> tuple:
    import numpy as np

    from handocr.train.data import load_emnist, to_label_space

    s = load_emnist(emnist_sample, "pool47", "train")
    labels = to_label_space(s)
    keep = np.concatenate([np.flatnonzero(labels == k)[:5] for k in range(47)])
    return s.images[keep], labels[keep]


@pytest.mark.slow
def test_corrupt_checkpoint_is_detected_on_resume(emnist_sample: Path, tmp_path: Path) -> None:
    from handocr.train.fit import TrainConfig, fit

    data = _tiny_data(emnist_sample)
    cfg = TrainConfig(out_dir=str(tmp_path), epochs=1, batch_size=32, val_fraction=0.2)
    fit(cfg, train_set=data)
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(DataError, match="checkpoint"):
        fit(cfg, train_set=data, resume=True)
    marker = tmp_path / "pwned"
    ckpt.write_bytes(pickle.dumps({"model": _Payload(marker)}))
    with pytest.raises(DataError, match="checkpoint"):
        fit(cfg, train_set=data, resume=True)
    assert not marker.exists()


@pytest.mark.slow
def test_training_killed_with_sigkill_resumes_and_finishes(
    emnist_sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "handocr_cli.app",
        "train",
        "--arch",
        "cnn",
        "--data",
        str(emnist_sample),
        "--out",
        str(out),
        "--epochs",
        "6",
        "--batch-size",
        "16",
        "--threads",
        "1",
        "--precision",
        "fp32",
        "--val-fraction",
        "0.2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    history = out / "history.csv"
    while time.monotonic() < deadline and proc.poll() is None:
        if history.is_file() and len(history.read_text().splitlines()) >= 3:  # 2 epochs done
            break
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be killed"
    time.sleep(0.5)  # somewhere inside epoch 3
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "cnn.emnist47-v1.safetensors").exists()
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["epochs"] == 6
    assert len((out / "history.csv").read_text().splitlines()) == 7  # header + 6 epochs
    assert (out / "cnn.emnist47-v1.safetensors").is_file()


def test_same_input_gives_identical_json_and_batch_size_barely_matters(
    use_tiny_weights: Path,
) -> None:
    """Determinism: byte-identical JSON across runs; across batch sizes, the same text and
    confidences within 1e-5 (docs/reliability.md)."""
    from handocr.api import Recognizer

    from .conftest import draw_text_page

    page = draw_text_page(["HELLO 42"])
    first = Recognizer(device="cpu").read(page).to_json()
    again = Recognizer(device="cpu").read(page).to_json()
    assert first == again
    docs = [Recognizer(device="cpu", batch_size=b).read(page) for b in (1, 1024)]
    texts = {d.text for d in docs}
    assert len(texts) == 1
    conf = [[c.confidence for ln in d.pages[0].lines for c in ln.all_chars()] for d in docs]
    for other in conf[1:]:
        assert max(abs(a - b) for a, b in zip(conf[0], other, strict=True)) <= 1e-5
