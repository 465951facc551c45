"""Training commands: ``train`` (options, SIGKILL and resume), ``fit-ensemble``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr.ensemble import Ensemble
from handocr.errors import ExitCode, WeightsError
from tests.conftest import point_weights

runner = CliRunner()


def test_bad_training_options_are_usage_errors(emnist_sample: Path, tmp_path: Path) -> None:
    base = ["train", "--arch", "cnn", "--data", str(emnist_sample), "--out", str(tmp_path)]
    for opts in (["--label-smoothing", "1.5"], ["--precision", "fp8"], ["--val-fraction", "0.9"]):
        res = runner.invoke(app, [*base, *opts])
        assert res.exit_code == ExitCode.USAGE, (opts, res.output)
        assert opts[0].lstrip("-").replace("-", "_") in res.stderr
    res = runner.invoke(app, [*base[:3], "--data", str(tmp_path), "--out", str(tmp_path)])
    assert res.exit_code == ExitCode.BAD_DATA and "emnist-pool47-train" in res.stderr


@pytest.mark.slow
def test_fit_ensemble_writes_fitted_weights(
    emnist_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr.models.manifest import load_manifest
    from handocr.models.weights import write_manifest
    from handocr.train.config import TrainConfig
    from handocr.train.ensemble import fit_ensemble
    from handocr.train.fit import fit

    folder = tmp_path / "weights"
    folder.mkdir()
    for arch, seed in (("cnn", 0), ("resnet10t", 0), ("cnn", 1)):
        cfg = TrainConfig(
            arch=arch,
            data=str(emnist_sample),
            out_dir=str(tmp_path / f"{arch}{seed}"),
            tag=f"s{seed}",
            epochs=1,
            batch_size=64,
            val_fraction=0.2,
            seed=seed,
        )
        (folder / f"{arch}.s{seed}.safetensors").write_bytes(fit(cfg).weights.read_bytes())
    write_manifest(folder, ["cnn.s0"])
    point_weights(folder, monkeypatch)
    res = runner.invoke(app, ["fit-ensemble", "cnn.s0", "resnet10t.s0", "--write"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    w = out["voting_weights"]
    assert set(w) == {"cnn.s0", "resnet10t.s0"} and sum(w.values()) == pytest.approx(1, abs=1e-4)
    assert out["nll_fitted"] <= out["nll_equal"] + 1e-6
    manifest = load_manifest(folder)
    assert manifest.default_ensemble == ("cnn.s0", "resnet10t.s0")
    assert dict(manifest.voting_weights) == w
    if "cascade" in out:  # a cascade is written only when one keeps the accuracy
        assert manifest.cascade is not None and set(manifest.cascade.members) == set(w)
    else:
        assert manifest.cascade is None
    ens = Ensemble.from_names(device="cpu")
    np.testing.assert_allclose(ens.weights, [w["cnn.s0"], w["resnet10t.s0"]], rtol=1e-4)
    # members validated on different splits (seed 1 holds out other crops): refused
    with pytest.raises(WeightsError, match="different splits"):
        fit_ensemble(["cnn.s0", "cnn.s1"])
    res = runner.invoke(app, ["fit-ensemble", "cnn.s0", "cnn.s1"])
    assert res.exit_code == ExitCode.BAD_WEIGHTS and "different splits" in res.stderr


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
