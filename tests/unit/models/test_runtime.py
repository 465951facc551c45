"""ONNX Runtime members: sessions on the CPU, thread counts, and errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import WeightsError
from handocr.labels import NUM_CLASSES
from handocr.models.runtime import OnnxNet, cpu_threads, onnxruntime_available


def test_a_graph_maps_crops_to_logits(onnx_weights: Path) -> None:
    net = OnnxNet(onnx_weights / "cnn.tiny.onnx", threads=1)
    x = np.random.default_rng(0).random((5, 1, 28, 28), np.float32)
    out = net(x)
    assert out.shape == (5, NUM_CLASSES) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_array_equal(net(x.astype(np.float64)), out)  # cast, not refused
    np.testing.assert_allclose(net(x[:2]), out[:2], atol=1e-5)  # any batch size


def test_a_broken_graph_is_a_weights_error(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "cnn.bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(WeightsError, match=r"cnn\.bad\.onnx: ONNX Runtime cannot load it"):
        OnnxNet(bad)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(WeightsError, match="needs onnxruntime"):
        OnnxNet(bad)


def test_cpu_threads(monkeypatch) -> None:
    import os

    monkeypatch.delenv("HANDOCR_THREADS", raising=False)
    assert cpu_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("HANDOCR_THREADS", "3")
    assert cpu_threads() == 3
    for ignored in ("0", "-2", "many"):
        monkeypatch.setenv("HANDOCR_THREADS", ignored)
        assert cpu_threads() == len(os.sched_getaffinity(0))


def test_onnxruntime_is_available() -> None:
    assert onnxruntime_available() is True
