"""Shared fixtures: synthetic pages, the committed EMNIST sample, tiny untrained weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests: a quick profile for every run, a thorough one for the dedicated command
#   HYPOTHESIS_PROFILE=thorough python -m pytest -m property --hypothesis-show-statistics
settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("thorough", max_examples=1500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HERE = Path(__file__).parent
REPO = HERE.parent
SAMPLE = HERE / "data" / "emnist47-sample"
SHARED = REPO.parent / "shared" / "data"
EXAMPLE_FORM = REPO / "docs" / "examples" / "hsf_w4164_fullpage.png"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `data` tests without ../shared and `gpu` tests without CUDA."""
    skip_data = pytest.mark.skip(reason=f"{SHARED} not present")
    has_gpu = False
    if any("gpu" in item.keywords for item in items):
        import torch

        has_gpu = torch.cuda.is_available()
    for item in items:
        if "data" in item.keywords and not SHARED.is_dir():
            item.add_marker(skip_data)
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="no CUDA device"))


def draw_text_page(lines: list[str], *, scale: float = 2.2, thickness: int = 7) -> np.ndarray:
    """White page with lines of thick OpenCV Hershey text (black), one per row."""
    import cv2

    width = max(60 + int(48 * scale * len(t)) for t in lines)
    page = np.full((60 + 90 * len(lines), width), 255, np.uint8)
    for row, text in enumerate(lines):
        cv2.putText(page, text, (24, 80 + 90 * row), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thickness)
    return page


@pytest.fixture(scope="session")
def two_line_page() -> tuple[np.ndarray, list[str]]:
    """White page with two lines of thick strokes drawn by OpenCV, plus the truth."""
    truth = ["HELLO 42", "WORLD"]
    return draw_text_page(truth), truth


@pytest.fixture(scope="session")
def emnist_sample() -> Path:
    """Folder with the committed 10-per-class EMNIST-47 sample (official IDX names)."""
    return SAMPLE


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder with two untrained `cnn` members (seeds 0 and 1) and MANIFEST.json.

    The default ensemble is both, with voting weights 0.7 / 0.3.
    """
    import torch

    from handocr.models.registry import create_model
    from handocr.models.weights import WeightsInfo, save_weights

    folder = tmp_path_factory.mktemp("weights")
    entries = {}
    for seed, tag in enumerate(("tiny", "tiny-b")):
        torch.manual_seed(seed)
        net = create_model("cnn", weights=None)
        path = folder / f"cnn.{tag}.safetensors"
        sha = save_weights(net, path, WeightsInfo(arch="cnn", tag=tag))
        entries[f"cnn.{tag}"] = {"file": path.name, "sha256": sha}
    manifest = {
        "schema": 1,
        "default_ensemble": ["cnn.tiny", "cnn.tiny-b"],
        "default_tags": {"cnn": "cnn.tiny"},
        "weights": entries,
        "voting_weights": {"cnn.tiny": 0.7, "cnn.tiny-b": 0.3},
    }
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    return folder


def _point_weights(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set HANDOCR_WEIGHTS to ``folder`` for one test and forget cached recognizers."""
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(folder))
    from handocr import api

    api._cached.cache_clear()
    return folder


@pytest.fixture
def use_tiny_weights(tiny_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HANDOCR_WEIGHTS at the tiny weights for one test."""
    return _point_weights(tiny_weights, monkeypatch)


@pytest.fixture(scope="session")
def onnx_weights(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny weights plus their exported ONNX graphs, and a fitted cascade in the manifest.

    The cascade starts with ``cnn.tiny-b`` at margin 0.5.
    """
    import os
    import shutil
    from unittest import mock

    from handocr.models.weights import write_manifest
    from handocr.runtime import PARITY_ATOL, export_member

    folder = tmp_path_factory.mktemp("onnx") / "w"
    shutil.copytree(tiny_weights, folder)
    with mock.patch.dict(os.environ, {"HANDOCR_WEIGHTS": str(folder)}):
        for name in ("cnn.tiny", "cnn.tiny-b"):
            assert export_member(name) <= PARITY_ATOL
        cascade = {"members": ["cnn.tiny", "cnn.tiny-b"], "first": "cnn.tiny-b", "margin": 0.5}
        write_manifest(folder, ["cnn.tiny", "cnn.tiny-b"], cascade=cascade)
    return folder


@pytest.fixture
def use_onnx_weights(onnx_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HANDOCR_WEIGHTS at the tiny weights with ONNX graphs for one test."""
    return _point_weights(onnx_weights, monkeypatch)
