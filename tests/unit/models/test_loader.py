"""Loading members: the backend and device choice, and checks of every file before it is read."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from handocr.ensemble import Ensemble
from handocr.errors import OptionError, WeightsError
from handocr.models import loader
from handocr.models.loader import BACKENDS, Member, load_members, resolve_device, use_onnx
from handocr.models.manifest import load_manifest
from handocr.models.runtime import OnnxNet
from handocr.train.export import PARITY_ATOL
from tests.conftest import point_weights

SAMPLE_CROPS = 64


def _crops(n: int = SAMPLE_CROPS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    x[: n // 2] = (x[: n // 2] > 0.6).astype(np.float32)
    return x


def test_use_onnx_follows_the_backend_device_and_graphs(
    onnx_weights: Path, tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["cnn.tiny", "cnn.tiny-b"]
    with_graphs, without = load_manifest(onnx_weights), load_manifest(tiny_weights)
    assert BACKENDS == ("auto", "onnx", "torch")
    assert use_onnx(names, backend="onnx", device="cuda", manifest=without)
    assert not use_onnx(names, backend="torch", device="cpu", manifest=with_graphs)
    assert use_onnx(names, backend="auto", device="cpu", manifest=with_graphs)
    assert not use_onnx(names, backend="auto", device="cpu", manifest=without)
    assert not use_onnx(names, backend="auto", device="cuda:0", manifest=with_graphs)
    assert not use_onnx(["cnn.v9"], backend="auto", device="cpu", manifest=with_graphs)
    monkeypatch.setattr(loader, "_nvidia_driver", lambda: False)
    assert use_onnx(names, backend="auto", device="auto", manifest=with_graphs)
    monkeypatch.setattr(loader, "_nvidia_driver", lambda: True)
    assert not use_onnx(names, backend="auto", device="auto", manifest=with_graphs)
    with pytest.raises(OptionError, match="backend"):
        use_onnx(names, backend="tensorrt", device="cpu", manifest=with_graphs)


def test_resolve_device() -> None:
    import torch

    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_load_members_in_order_with_their_metadata(use_onnx_weights: Path) -> None:
    members, dev, manifest = load_members(["cnn.tiny-b", "cnn.tiny"], backend="onnx")
    assert dev == "cpu" and manifest.folder == use_onnx_weights
    assert all(isinstance(m, Member) and isinstance(m.net, OnnxNet) for m in members)
    assert [m.info.key for m in members] == ["cnn.tiny-b", "cnn.tiny"]
    assert members[0].info.sha256 == manifest.entry("cnn.tiny-b").sha256
    assert (members[0].mean, members[0].std, members[0].temperature) == (0.0, 1.0, 1.0)
    torch_members, dev, _ = load_members(["cnn"], backend="torch", device="cpu")
    assert dev == "cpu" and torch_members[0].info.key == "cnn.tiny"
    assert not isinstance(torch_members[0].net, OnnxNet)


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


def test_auto_backend(use_onnx_weights: Path, tiny_weights: Path, monkeypatch) -> None:
    assert Ensemble.from_names(device="cpu").backend == "onnx"
    assert Ensemble.from_names(device="cpu", backend="torch").backend == "torch"
    point_weights(tiny_weights, monkeypatch)  # no graphs there
    assert Ensemble.from_names(device="cpu").backend == "torch"
    with pytest.raises(WeightsError, match="export-onnx"):
        Ensemble.from_names(device="cpu", backend="onnx")
    with pytest.raises(OptionError, match="backend"):
        Ensemble.from_names(device="cpu", backend="tensorrt")


def test_tampered_graph_is_refused(onnx_weights: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "w"
    shutil.copytree(onnx_weights, folder)
    graph = folder / "cnn.tiny.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    point_weights(folder, monkeypatch)
    with pytest.raises(WeightsError, match=r"cnn\.tiny\.onnx.*sha256"):
        Ensemble.from_names(device="cpu", backend="onnx")
    graph.unlink()
    with pytest.raises(WeightsError, match=r"cnn\.tiny\.onnx: missing"):
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
    point_weights(folder, monkeypatch)
    with pytest.raises(WeightsError, match=r"cnn\.tiny-b\.safetensors.*sha256"):
        Ensemble.from_names(device="cpu", backend="onnx")


def test_a_stored_temperature_scales_the_member(tmp_path: Path, monkeypatch) -> None:
    import torch

    from handocr.models.factory import create_model
    from handocr.models.weights import WeightsInfo, save_weights, write_manifest

    folder = tmp_path / "w"
    folder.mkdir()
    torch.manual_seed(0)
    net = create_model("cnn", weights=None)
    for tag, metrics in (("cold", {}), ("warm", {"temperature": 4.0})):
        save_weights(
            net,
            folder / f"cnn.{tag}.safetensors",
            WeightsInfo(arch="cnn", tag=tag, metrics=metrics),
        )
    write_manifest(folder, ["cnn.cold"])
    point_weights(folder, monkeypatch)
    (cold,), _, _ = load_members(["cnn.cold"], backend="torch", device="cpu")
    (warm,), _, _ = load_members(["cnn.warm"], backend="torch", device="cpu")
    assert (cold.temperature, warm.temperature) == (1.0, 4.0)
    x = _crops(8)
    p_cold = Ensemble([cold]).predict_proba(x)
    p_warm = Ensemble([warm]).predict_proba(x)
    assert np.array_equal(p_cold.argmax(1), p_warm.argmax(1))
    assert (p_warm.max(1) < p_cold.max(1)).all()  # a higher temperature: flatter rows


def test_weights_folder_copy_is_found(tiny_weights: Path, tmp_path: Path, monkeypatch) -> None:
    # the manifest names files relative to its folder: a copied folder works as it is
    dst = tmp_path / "w"
    shutil.copytree(tiny_weights, dst)
    point_weights(dst, monkeypatch)
    members, _, manifest = load_members(["cnn.tiny"], device="cpu")
    assert manifest.folder == dst and members[0].info.tag == "tiny"
    assert Ensemble.from_names(device="cpu").models[0].tag == "tiny"
