"""ONNX export: graphs that reference the safetensors tensors, and parity with torch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest

from handocr.errors import WeightsError
from handocr.models.factory import create_model
from handocr.models.weights import load_weights
from handocr.train.export import PARITY_ATOL, export_graph, export_member, parity
from tests.conftest import point_weights


def test_graph_holds_no_weights(onnx_weights: Path) -> None:
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


def test_exported_graphs_match_their_torch_members(onnx_weights: Path) -> None:
    net = create_model("cnn", weights=None)
    load_weights(net, onnx_weights / "cnn.tiny-b.safetensors")
    assert parity(net, onnx_weights / "cnn.tiny-b.onnx", n=32) <= PARITY_ATOL
    other = create_model("cnn", weights=None)
    load_weights(other, onnx_weights / "cnn.tiny.safetensors")
    assert parity(other, onnx_weights / "cnn.tiny-b.onnx", n=32) > 10 * PARITY_ATOL


def test_export_checks_the_folder_and_the_tensors(onnx_weights: Path, tmp_path: Path) -> None:
    net = create_model("cnn", weights=None)
    weights = onnx_weights / "cnn.tiny.safetensors"
    load_weights(net, weights)
    with pytest.raises(WeightsError, match="must be in the folder"):
        export_graph(net, weights, tmp_path / "cnn.tiny.onnx")
    folder = tmp_path / "w"
    shutil.copytree(onnx_weights, folder)
    with pytest.raises(WeightsError, match="differs from"):
        export_graph(
            create_model("cnn", weights=None), folder / "cnn.tiny.safetensors", folder / "x.onnx"
        )


def test_export_member_of_unknown_weights(onnx_weights: Path, monkeypatch) -> None:
    point_weights(onnx_weights, monkeypatch)
    with pytest.raises(WeightsError, match="no shipped weights"):
        export_member("cnn.v9")
