"""Shared fixtures: synthetic pages, the committed EMNIST sample, tiny untrained weights.

Helpers that are not fixtures (paths, page drawing) live in :mod:`tests.helpers`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from tests.helpers import SAMPLE, SHARED, draw_text_page, frames

# One torch/OpenMP thread per test process (set before anything imports torch; an explicit
# OMP_NUM_THREADS wins). On this 2-core machine a second busy process makes multi-threaded torch
# wait at its barriers: the training tests took 254 s with 2 threads and 21 s with 1. No result
# depends on the thread count; subprocesses inherit the setting.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Property tests: a quick profile for every run, a thorough one for the dedicated command
#   HYPOTHESIS_PROFILE=thorough python -m pytest -m property --hypothesis-show-statistics
settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("thorough", max_examples=1500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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

    from handocr.models.factory import create_model
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


def point_weights(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set HANDOCR_WEIGHTS to ``folder`` for one test and forget cached recognizers."""
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(folder))
    from handocr import api

    api._cached.cache_clear()
    return folder


@pytest.fixture
def use_tiny_weights(tiny_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HANDOCR_WEIGHTS at the tiny weights for one test."""
    return point_weights(tiny_weights, monkeypatch)


@pytest.fixture(scope="session")
def onnx_weights(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny weights plus their exported ONNX graphs, and a fitted cascade in the manifest.

    The cascade starts with ``cnn.tiny-b`` at margin 0.5.
    """
    import shutil
    from unittest import mock

    from handocr.models.weights import write_manifest
    from handocr.train.export import export_member

    folder = tmp_path_factory.mktemp("onnx") / "w"
    shutil.copytree(tiny_weights, folder)
    with mock.patch.dict(os.environ, {"HANDOCR_WEIGHTS": str(folder)}):
        for name in ("cnn.tiny", "cnn.tiny-b"):
            export_member(name)  # raises WeightsError when parity exceeds PARITY_ATOL
        cascade = {"members": ["cnn.tiny", "cnn.tiny-b"], "first": "cnn.tiny-b", "margin": 0.5}
        write_manifest(folder, ["cnn.tiny", "cnn.tiny-b"], cascade=cascade)
    return folder


@pytest.fixture
def use_onnx_weights(onnx_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HANDOCR_WEIGHTS at the tiny weights with ONNX graphs for one test."""
    return point_weights(onnx_weights, monkeypatch)


@pytest.fixture
def page_file(tmp_path: Path, two_line_page: tuple[np.ndarray, list[str]]) -> Path:
    """The two-line page written as a PNG."""
    import cv2

    path = tmp_path / "page.png"
    cv2.imwrite(str(path), two_line_page[0])
    return path


@pytest.fixture(scope="session")
def pdf20(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-page PDF (72 dpi); page k carries k bars."""
    path = tmp_path_factory.mktemp("docs") / "twenty.pdf"
    pages = frames(20)
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    return path


@pytest.fixture(scope="session")
def tiff5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-page LZW TIFF; page k carries k bars and is 40 + 14 k pixels wide."""
    path = tmp_path_factory.mktemp("docs") / "five.tif"
    pages = frames(5)
    pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_lzw")
    return path
