"""The ONNX Runtime backend (parity, safety, no torch import) and the cascade."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handocr.ensemble import Ensemble, Member, cascade_combine, combine_votes, low_margin
from handocr.errors import WeightsError
from handocr.labels import NUM_CLASSES
from handocr.result import ModelInfo
from handocr.runtime import PARITY_ATOL

from .conftest import REPO

SAMPLE_CROPS = 64


def _crops(n: int = SAMPLE_CROPS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    x[: n // 2] = (x[: n // 2] > 0.6).astype(np.float32)
    return x


def test_onnx_and_torch_backends_agree(use_onnx_weights: Path) -> None:
    x = _crops()
    a = Ensemble.from_names(backend="onnx", device="cpu")
    b = Ensemble.from_names(backend="torch", device="cpu")
    assert (a.backend, b.backend) == ("onnx", "torch")
    diff = np.abs(a.member_proba(x) - b.member_proba(x)).max()
    assert diff <= PARITY_ATOL
    # batch size does not change the result
    c = Ensemble.from_names(backend="onnx", device="cpu", batch_size=7)
    np.testing.assert_allclose(c.member_proba(x), a.member_proba(x), atol=1e-6)


@pytest.mark.weights
@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_shipped_backends_match_golden(backend: str) -> None:
    ref = np.load(Path(__file__).parent / "golden" / "ensemble_v1.npz")
    ens = Ensemble.from_names(device="cpu", backend=backend, cascade="off")
    assert ens.backend == backend
    np.testing.assert_allclose(ens.predict_proba(ref["crops"]), ref["probs"], atol=PARITY_ATOL)


def test_auto_backend(use_onnx_weights: Path, tiny_weights: Path, monkeypatch) -> None:
    assert Ensemble.from_names(device="cpu").backend == "onnx"
    assert Ensemble.from_names(device="cpu", backend="torch").backend == "torch"
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(tiny_weights))  # no graphs there
    assert Ensemble.from_names(device="cpu").backend == "torch"
    with pytest.raises(WeightsError, match="export-onnx"):
        Ensemble.from_names(device="cpu", backend="onnx")
    with pytest.raises(ValueError, match="backend"):
        Ensemble.from_names(device="cpu", backend="tensorrt")


def test_graph_holds_no_weights(onnx_weights: Path) -> None:
    import onnx

    manifest = json.loads((onnx_weights / "MANIFEST.json").read_text())
    for entry in manifest["weights"].values():
        graph = onnx_weights / entry["graph"]["file"]
        model = onnx.load(str(graph), load_external_data=False)
        external = [
            t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
        ]
        inline = sum(len(t.raw_data) for t in model.graph.initializer)
        assert external and inline < 4096  # only tiny folded constants live in the graph
        assert {kv.value for t in external for kv in t.external_data if kv.key == "location"} == {
            entry["file"]
        }
        assert graph.stat().st_size < 0.1 * (onnx_weights / entry["file"]).stat().st_size


def test_tampered_graph_is_refused(onnx_weights: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "w"
    shutil.copytree(onnx_weights, folder)
    graph = folder / "cnn.tiny.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(folder))
    with pytest.raises(WeightsError, match=r"cnn\.tiny\.onnx.*sha256"):
        Ensemble.from_names(device="cpu", backend="onnx")


def test_tampered_weights_are_refused_by_the_onnx_backend(
    onnx_weights: Path, tmp_path: Path, monkeypatch
) -> None:
    folder = tmp_path / "w"
    shutil.copytree(onnx_weights, folder)
    weights = folder / "cnn.tiny-b.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(folder))
    with pytest.raises(WeightsError, match=r"cnn\.tiny-b\.safetensors.*sha256"):
        Ensemble.from_names(device="cpu", backend="onnx")


def test_reading_with_onnx_never_imports_torch(onnx_weights: Path, tmp_path: Path) -> None:
    import cv2

    page = np.full((60, 200), 255, np.uint8)
    cv2.putText(page, "A7", (20, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 0, 4)
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), page)
    code = (
        "import sys; from handocr import recognize; "
        f"d = recognize({str(path)!r}, device='cpu'); "
        "assert d.text.strip(), d.text; "
        "assert d.models[0].tag == 'tiny'; "
        "assert 'torch' not in sys.modules and 'timm' not in sys.modules"
    )
    env = {**os.environ, "HANDOCR_WEIGHTS": str(onnx_weights)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# -- cascade -----------------------------------------------------------------------------------


class _Const:
    """A fake ONNX-style member: fixed logits per crop, counts the crops it saw."""

    def __init__(self, logits: np.ndarray) -> None:
        self.logits = logits
        self.seen = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.seen += len(x)
        idx = x[:, 0, 0, 0].astype(int)  # crop i carries its index in pixel (0, 0)
        return self.logits[idx]


def _fake_members(n: int = 50, seed: int = 0) -> tuple[list[Member], np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = [rng.normal(0, s, (n, NUM_CLASSES)).astype(np.float32) for s in (3.0, 2.0, 4.0)]
    x = np.zeros((n, 1, 28, 28), np.float32)
    x[:, 0, 0, 0] = np.arange(n)
    members = [
        Member(ModelInfo(f"m{k}", "t", ""), _Const(z))  # type: ignore[arg-type]
        for k, z in enumerate(logits)
    ]
    return members, x


def test_cascade_margins_0_and_1_are_one_member_and_the_full_ensemble(monkeypatch) -> None:
    from handocr import runtime

    monkeypatch.setattr(runtime, "OnnxNet", _Const)  # the fakes take the numpy path
    members, x = _fake_members()
    full = Ensemble(members, weights=[0.5, 0.3, 0.2])
    per = full.member_proba(x)
    none = Ensemble(members, weights=[0.5, 0.3, 0.2], cascade=0.0, cascade_first=2)
    np.testing.assert_allclose(none.predict_proba(x), per[2], atol=1e-7)
    every = Ensemble(members, weights=[0.5, 0.3, 0.2], cascade=1.0, cascade_first=2)
    np.testing.assert_allclose(every.predict_proba(x), full.predict_proba(x), atol=1e-6)


def test_cascade_runs_the_others_only_on_low_margin_crops(monkeypatch) -> None:
    from handocr import runtime

    monkeypatch.setattr(runtime, "OnnxNet", _Const)
    members, x = _fake_members()
    ens = Ensemble(members, weights=[0.5, 0.3, 0.2], cascade=0.3, cascade_first=1)
    per_full = Ensemble(members, weights=[0.5, 0.3, 0.2]).member_proba(x)
    for m in members:
        m.net.seen = 0  # type: ignore[union-attr]
    combined, per = ens.vote(x)
    escalated = low_margin(per_full[1], 0.3)
    assert 0 < escalated.sum() < len(x)
    assert [m.net.seen for m in members] == [escalated.sum(), len(x), escalated.sum()]  # type: ignore[union-attr]
    assert np.isnan(per[0, ~escalated]).all() and not np.isnan(per[0, escalated]).any()
    expected, esc = cascade_combine(per_full, ens.weights, "weighted", 0.3, 1)
    np.testing.assert_array_equal(esc, escalated)
    np.testing.assert_allclose(combined, expected, atol=1e-6)


def test_cascade_votes_list_only_the_members_that_read_a_crop() -> None:
    from handocr.decode import attach_votes
    from handocr.result import Box, Char

    per = np.full((2, 2, NUM_CLASSES), np.nan, np.float32)
    per[:, 0] = np.eye(NUM_CLASSES, dtype=np.float32)[[3, 4]]
    per[1, 1] = np.eye(NUM_CLASSES, dtype=np.float32)[5]
    chars = [Char("3", Box(0, 0, 1, 1), 1.0), Char("4", Box(1, 0, 2, 1), 1.0)]
    out = attach_votes(chars, per, ["a.t", "b.t"])
    assert [len(c.votes) for c in out] == [1, 2]
    assert out[1].votes[1] == ("b.t", "5", 1.0)


def test_cascade_settings(use_onnx_weights: Path) -> None:
    fitted = Ensemble.from_names(device="cpu", cascade="auto")
    assert (fitted.cascade, fitted.models[fitted.cascade_first].tag) == (0.5, "tiny-b")
    assert Ensemble.from_names(device="cpu", cascade="off").cascade is None
    custom = Ensemble.from_names(device="cpu", cascade=0.25)
    assert (custom.cascade, custom.cascade_first) == (0.25, 1)
    # a different set of members has no fitted cascade
    assert Ensemble.from_names(["cnn.tiny"], device="cpu", cascade="auto").cascade is None
    with pytest.raises(WeightsError, match="no fitted cascade"):
        Ensemble.from_names(["cnn.tiny", "cnn.tiny"], device="cpu", cascade="fitted")
    with pytest.raises(ValueError, match="cascade"):
        Ensemble.from_names(device="cpu", cascade="sometimes")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Ensemble.from_names(device="cpu", cascade=1.5)


def test_fit_cascade_picks_the_cheapest_within_tolerance() -> None:
    from handocr.train.calibrate import fit_cascade

    rng = np.random.default_rng(1)
    n, c = 400, NUM_CLASSES
    y = rng.integers(0, c, n)
    eye = np.eye(c, dtype=np.float32)
    # member 0 (cheap): confident and right on 80 %, unsure and wrong on the rest;
    # member 1 (costly): always right with a moderate margin.
    unsure = np.arange(n) < n // 5
    p0 = 0.9 * eye[y] + 0.1 / c
    wrong = (y + 1) % c
    p0[unsure] = 0.4 * eye[wrong[unsure]] + 0.35 * eye[y[unsure]] + 0.25 / c
    p1 = 0.6 * eye[y] + 0.4 / c
    per = np.stack([p0, p1]).astype(np.float32)
    w = np.array([0.5, 0.5])
    fit = fit_cascade(per, y, w, [1.0, 10.0], tolerance=0.0)
    assert fit["first"] == 0 and fit["escalated"] == pytest.approx(0.2, abs=0.01)
    assert fit["accuracy"] >= fit["accuracy_full"]
    assert fit["cost"] == pytest.approx(1.0 + fit["escalated"] * 10.0, abs=0.1)
    loose = fit_cascade(per, y, w, [1.0, 10.0], tolerance=1.0)
    assert (loose["first"], loose["margin"], loose["cost"]) == (0, 0.0, 1.0)


def test_eval_reports_the_cascade(use_onnx_weights: Path, emnist_sample: Path) -> None:
    from handocr.evaluate import evaluate_classifier
    from handocr.train.data import load_emnist, to_label_space

    test = load_emnist(emnist_sample, "pool47", "test")
    ens = Ensemble.from_names(device="cpu", cascade="auto")
    report = evaluate_classifier(ens, test.images, to_label_space(test))
    assert report.cascade is not None and report.escalated is not None
    per = ens.member_proba((test.images.astype(np.float32) / 255)[:, None])
    expected, esc = cascade_combine(per, ens.weights, "weighted", 0.5, 1)
    labels = to_label_space(test)
    assert report.cascade.top1 == pytest.approx((expected.argmax(1) == labels).mean())
    assert report.escalated == pytest.approx(esc.mean())
    full = combine_votes(per, ens.weights, "weighted")
    assert report.ensemble.top1 == pytest.approx((full.argmax(1) == labels).mean())
    assert report.to_dict()["scores"]["escalated"] == report.escalated


def test_write_manifest_lists_graphs_and_keeps_the_cascade(onnx_weights: Path, tmp_path) -> None:
    from handocr.models.weights import write_manifest

    folder = tmp_path / "w"
    shutil.copytree(onnx_weights, folder)
    manifest = write_manifest(folder, ["cnn.tiny", "cnn.tiny-b"])
    assert manifest["weights"]["cnn.tiny"]["graph"]["file"] == "cnn.tiny.onnx"
    assert manifest["cascade"]["first"] == "cnn.tiny-b"
    assert "cascade" not in write_manifest(folder, ["cnn.tiny"])  # other members: dropped


@pytest.mark.weights
def test_shipped_graphs_are_listed_and_small() -> None:
    manifest = json.loads((REPO / "weights" / "MANIFEST.json").read_text())
    for name in manifest["default_ensemble"]:
        graph = manifest["weights"][name]["graph"]
        assert graph["bytes"] < 100_000


def test_cli_backend_and_cascade_options(use_onnx_weights: Path, tmp_path: Path) -> None:
    import cv2
    from handocr_cli.app import app
    from typer.testing import CliRunner

    page = tmp_path / "p.png"
    cv2.imwrite(str(page), np.full((40, 40), 255, np.uint8))
    runner = CliRunner()
    for opts in (["--backend", "torch"], ["--cascade", "off"], ["--cascade", "0.2"]):
        assert runner.invoke(app, ["read", str(page), *opts]).exit_code == 0, opts
    for opts in (["--backend", "gpu"], ["--cascade", "often"], ["--cascade", "2"]):
        result = runner.invoke(app, ["read", str(page), *opts])
        assert result.exit_code == 2, (opts, result.output)


def test_fit_cascade_does_not_take_a_lucky_dip() -> None:
    from handocr.train.calibrate import fit_cascade

    c = NUM_CLASSES
    eye = np.eye(c, dtype=np.float32)
    # A: the cheap member is right but unsure (margin 0.3), the costly one confidently wrong;
    # B: the cheap member is confidently wrong, the costly one right; C: the cheap member is
    # confidently right, the costly one unsure and wrong. The cheap member alone ties the full
    # ensemble (20 of 30) by luck: escalating only A (margin 0.5) drops to 10 of 30.
    groups = [
        (0.6 * eye[0] + 0.3 * eye[1] + 0.1 / c, 0.99 * eye[1] + 0.01 / c, 0),
        (0.95 * eye[3] + 0.05 / c, 0.99 * eye[2] + 0.01 / c, 2),
        (0.9 * eye[4] + 0.1 / c, 0.5 * eye[5] + 0.4 * eye[4] + 0.1 / c, 4),
    ]
    cheap = np.stack([g[0] for g in groups for _ in range(10)])
    costly = np.stack([g[1] for g in groups for _ in range(10)])
    y = np.array([g[2] for g in groups for _ in range(10)])
    per = np.stack([cheap, costly]).astype(np.float32)
    fit = fit_cascade(
        per, y, np.array([0.5, 0.5]), [1.0, 10.0], tolerance=0.0, margins=np.array([0, 0.5, 1])
    )
    assert (fit["first"], fit["margin"]) != (0, 0.0)  # the lucky dip is not taken
    assert (fit["first"], fit["margin"]) == (1, 0.5)


def test_three_stage_cascade_runs_each_stage_on_fewer_crops(monkeypatch) -> None:
    from handocr import runtime
    from handocr.ensemble import staged_combine

    monkeypatch.setattr(runtime, "OnnxNet", _Const)
    members, x = _fake_members(n=80)
    w = [0.5, 0.3, 0.2]
    per_full = Ensemble(members, weights=w).member_proba(x)
    for m in members:
        m.net.seen = 0  # type: ignore[union-attr]
    stages, margins = [[2], [0], [1]], [0.6, 0.3]
    ens = Ensemble(members, weights=w, cascade_stages=stages, cascade_margins=margins)
    assert (ens.cascade, ens.cascade_first) == (0.6, 2)
    combined, per = ens.vote(x)
    expected, reached = staged_combine(per_full, ens.weights, "weighted", stages, margins)
    np.testing.assert_allclose(combined, expected, atol=1e-6)
    seen = [m.net.seen for m in members]  # type: ignore[union-attr]
    assert seen == [reached[0].sum(), reached[1].sum(), len(x)]
    assert 0 < reached[1].sum() < reached[0].sum() < len(x)
    assert np.isnan(per[1, ~reached[1]]).all() and not np.isnan(per[1, reached[1]]).any()
    with pytest.raises(ValueError, match="every member once"):
        Ensemble(members, cascade_stages=[[0], [1]], cascade_margins=[0.5])
    with pytest.raises(ValueError, match="margins"):
        staged_combine(per_full, ens.weights, "weighted", stages, [0.5])


def test_fitted_three_stage_cascade_keeps_accuracy_at_all_larger_margins() -> None:
    from handocr.ensemble import combine_votes, staged_combine
    from handocr.train.calibrate import balanced_accuracy, fit_cascade

    rng = np.random.default_rng(0)
    n, c = 600, NUM_CLASSES
    y = rng.integers(0, c, n)
    per = []
    for noise in (1.2, 1.5, 1.8):  # three members of decreasing quality
        z = rng.normal(0, noise, (n, c))
        z[np.arange(n), y] += 2.5
        e = np.exp(z - z.max(1, keepdims=True))
        per.append(e / e.sum(1, keepdims=True))
    per_m = np.stack(per).astype(np.float32)
    w = np.full(3, 1 / 3)
    tol = 0.0
    fit = fit_cascade(per_m, y, w, [10.0, 200.0, 5.0], tolerance=tol)
    full = combine_votes(per_m, w, "weighted")
    assert "stages" in fit  # the costly member last: three stages beat two
    grid = np.linspace(0, 1, 41)[::2]
    m1, m2 = fit["margins"]
    for a in grid[grid >= m1 - 1e-9]:
        for b in grid[grid >= m2 - 1e-9]:
            p, _ = staged_combine(per_m, w, "weighted", fit["stages"], (a, b))
            assert balanced_accuracy(p, y) >= balanced_accuracy(full, y) - tol - 1e-9
            assert (p.argmax(1) == y).mean() >= (full.argmax(1) == y).mean() - tol - 1e-9
    assert fit["stages"][-1] == [1]  # the costly member reads only the hardest crops
    assert fit["cost"] < 0.7 * 215.0
