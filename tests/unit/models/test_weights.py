"""Weights I/O: safetensors only, checksums, metadata, the manifest writer; nothing unpickled."""

from __future__ import annotations

import ast
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from handocr.errors import WeightsError
from handocr.models.factory import create_model
from handocr.models.weights import (
    WeightsInfo,
    file_sha256,
    find_weights,
    load_weights,
    read_weights_info,
    save_weights,
    write_manifest,
)
from tests.helpers import REPO, Payload


def test_weights_round_trip_keeps_outputs_and_metadata(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = create_model("cnn", weights=None)
    info = WeightsInfo(arch="cnn", tag="t", metrics={"val_accuracy": 0.5})
    path = tmp_path / "cnn.t.safetensors"
    sha = save_weights(net, path, info)
    assert sha == file_sha256(path) and len(sha) == 64
    again = create_model("cnn", weights=None)
    got = load_weights(again, path, sha256=sha)
    assert got.metrics == {"val_accuracy": 0.5} and got.name == "cnn.t"
    assert read_weights_info(path, sha) == got  # the same metadata, without torch
    x = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        np.testing.assert_allclose(net(x).numpy(), again(x).numpy(), atol=0.05)  # fp16 storage
    assert [p.name for p in tmp_path.iterdir()] == ["cnn.t.safetensors"]  # no temporary left


def test_tampered_weights_are_refused(tiny_weights: Path, tmp_path: Path) -> None:
    src = tiny_weights / "cnn.tiny.safetensors"
    sha = json.loads((tiny_weights / "MANIFEST.json").read_text())["weights"]["cnn.tiny"]["sha256"]
    bad = tmp_path / "bad.safetensors"
    raw = bytearray(src.read_bytes())
    raw[-10] ^= 0xFF
    bad.write_bytes(bytes(raw))
    for read in (
        lambda: load_weights(create_model("cnn", weights=None), bad, sha256=sha),
        lambda: load_weights(create_model("cnn", weights=None), (bad, sha)),
        lambda: read_weights_info(bad, sha),
    ):
        with pytest.raises(WeightsError, match="sha256 mismatch"):
            read()
    bad.write_bytes(src.read_bytes()[:100])
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_weights(create_model("cnn", weights=None), bad)
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        read_weights_info(bad)
    with pytest.raises(WeightsError, match="not found"):
        load_weights(create_model("cnn", weights=None), tmp_path / "missing.safetensors")
    with pytest.raises(WeightsError, match="not found"):
        read_weights_info(tmp_path / "missing.safetensors")


def test_weights_of_another_arch_do_not_fit(tiny_weights: Path) -> None:
    with pytest.raises(WeightsError, match="does not fit"):
        load_weights(torch.nn.Linear(3, 3), tiny_weights / "cnn.tiny.safetensors")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other-2"}, "unknown weights format"),
        ({"labels": ("A", "B")}, "label map"),
    ],
)
def test_metadata_is_validated(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "cnn.x.safetensors"
    save_weights(
        create_model("cnn", weights=None), path, WeightsInfo(arch="cnn", tag="x", **change)
    )
    with pytest.raises(WeightsError, match=message):
        read_weights_info(path)
    assert WeightsInfo.from_metadata(
        WeightsInfo(arch="cnn", tag="x").to_metadata(), source="s"
    ) == WeightsInfo(arch="cnn", tag="x")
    with pytest.raises(WeightsError, match="metadata"):
        WeightsInfo.from_metadata({"other": "{}"}, source="s")


def test_a_pickle_named_safetensors_is_refused_unexecuted(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "cnn.evil.safetensors"
    evil.write_bytes(pickle.dumps({"state": Payload(marker)}))
    with pytest.raises(WeightsError, match=r"cnn\.evil\.safetensors"):
        load_weights(create_model("cnn", weights=None), evil)
    with pytest.raises(WeightsError, match=r"cnn\.evil\.safetensors"):
        read_weights_info(evil)
    assert not marker.exists()


def test_torch_load_only_reads_checkpoints_with_weights_only() -> None:
    """Every ``torch.load`` call in the package passes ``weights_only=True``."""
    calls = []
    for path in [*(REPO / "handocr").rglob("*.py"), *(REPO / "cli").rglob("*.py")]:
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
    assert {name for name, _, _ in calls} == {"fit.py", "linefit.py"}  # training checkpoints


def test_find_weights_uses_the_manifest(use_tiny_weights: Path) -> None:
    path, sha = find_weights("cnn")
    assert path == use_tiny_weights / "cnn.tiny.safetensors" and sha == file_sha256(path)
    assert find_weights("cnn", "tiny-b")[0].name == "cnn.tiny-b.safetensors"
    with pytest.raises(WeightsError, match=r"have: cnn\.tiny, cnn\.tiny-b"):
        find_weights("cnn", "v9")


def test_write_manifest_lists_every_file(tiny_weights: Path, tmp_path: Path) -> None:
    dst = tmp_path / "w"
    shutil.copytree(tiny_weights, dst)
    (dst / "MANIFEST.json").unlink()
    manifest = write_manifest(dst, ["cnn.tiny"])
    assert manifest["default_tags"] == {"cnn": "cnn.tiny"}
    assert json.loads((dst / "MANIFEST.json").read_text()) == manifest
    assert set(manifest["weights"]) == {"cnn.tiny", "cnn.tiny-b"}
    entry = manifest["weights"]["cnn.tiny-b"]
    assert entry["sha256"] == file_sha256(dst / "cnn.tiny-b.safetensors") and "graph" not in entry
    assert "voting_weights" not in manifest  # none given, none kept from a manifest
    both = write_manifest(dst, ["cnn.tiny", "cnn.tiny-b"], {"cnn.tiny": 0.6, "cnn.tiny-b": 0.4})
    again = write_manifest(dst, ["cnn.tiny", "cnn.tiny-b"])  # keeps the fitted weights
    assert again["voting_weights"] == both["voting_weights"] == {"cnn.tiny": 0.6, "cnn.tiny-b": 0.4}
    assert write_manifest(dst, ["cnn.tiny-b"])["default_tags"] == {"cnn": "cnn.tiny-b"}
    with pytest.raises(WeightsError, match="without a file"):
        write_manifest(dst, ["cnn.nope"])


def test_write_manifest_lists_graphs_and_keeps_the_cascade(onnx_weights: Path, tmp_path) -> None:
    folder = tmp_path / "w"
    shutil.copytree(onnx_weights, folder)
    manifest = write_manifest(folder, ["cnn.tiny", "cnn.tiny-b"])
    graph = manifest["weights"]["cnn.tiny"]["graph"]
    assert graph["file"] == "cnn.tiny.onnx" and graph["sha256"] == file_sha256(
        folder / "cnn.tiny.onnx"
    )
    assert manifest["cascade"]["first"] == "cnn.tiny-b"
    assert "cascade" not in write_manifest(folder, ["cnn.tiny"])  # other members: dropped


def test_refresh_manifest_lists_a_copied_in_member_and_drops_a_removed_one(
    tiny_weights: Path, tmp_path: Path
) -> None:
    from handocr.models.weights import WeightsInfo, refresh_manifest, save_weights

    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    assert refresh_manifest(folder) is False  # already lists exactly the folder's files
    before = (folder / "MANIFEST.json").read_text()
    assert refresh_manifest(folder) is False and (folder / "MANIFEST.json").read_text() == before
    save_weights(create_model("cnn", weights=None), folder / "cnn.new.safetensors",
                 WeightsInfo(arch="cnn", tag="new"))  # fmt: skip
    (folder / "cnn.tiny-b.safetensors").unlink()
    assert refresh_manifest(folder) is True
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert sorted(manifest["weights"]) == ["cnn.new", "cnn.tiny"]
    assert manifest["default_ensemble"] == ["cnn.tiny"]
    assert "voting_weights" not in manifest  # fitted for both members, no longer valid
