"""Speed benchmarks (pytest-benchmark) of the shipped models. Run::

    pytest benchmarks --benchmark-only --benchmark-columns=mean,stddev,rounds

Compare results only between runs on the same, otherwise idle machine. Throughput is
``extra_info["chars"]`` divided by the mean time. Crops are real EMNIST test images (the committed
sample, tiled), so a cascade escalates as many of them as it would on real characters.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handocr.preprocess import ink_map
from handocr.segment import segment_page

SAMPLE = Path(__file__).parents[1] / "tests" / "data" / "emnist47-sample"
MEMBERS = ["cnn", "resnet10t", "resnet10t-imagenet"]


def _crops(n: int) -> np.ndarray:
    from handocr.train.data import load_emnist

    images = load_emnist(SAMPLE, "pool47", "test").images
    x = (images.astype(np.float32) / 255.0)[:, None]
    x = x[np.random.default_rng(0).permutation(len(x))]  # the file is sorted by class
    return np.resize(x, (n, 1, 28, 28))


@pytest.mark.parametrize("batch", [1, 64, 1024])
@pytest.mark.parametrize("member", MEMBERS)
@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_member_classification(benchmark, backend: str, member: str, batch: int) -> None:
    from handocr.ensemble import Ensemble

    ens = Ensemble.from_names([member], device="cpu", backend=backend, batch_size=batch)
    x = _crops(batch)
    benchmark.extra_info["chars"] = batch
    benchmark(ens.predict_proba, x)


@pytest.mark.parametrize("batch", [256, 1024])
@pytest.mark.parametrize("cascade", ["auto", "off"])
@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_ensemble_classification(benchmark, backend: str, cascade: str, batch: int) -> None:
    from handocr.ensemble import Ensemble

    ens = Ensemble.from_names(device="cpu", backend=backend, cascade=cascade, batch_size=batch)
    x = _crops(batch)
    benchmark.extra_info["chars"] = batch
    benchmark.extra_info["members"] = [m.info.key for m in ens.members]
    benchmark(ens.predict_proba, x)


def test_binarise_and_segment_dense_page(benchmark, dense_page: np.ndarray) -> None:
    lines = benchmark(lambda: segment_page(ink_map(dense_page)))
    benchmark.extra_info["glyphs"] = sum(len(line.candidates) for line in lines)


@pytest.mark.parametrize("cascade", ["auto", "off"])
def test_read_dense_page_end_to_end(benchmark, dense_page: np.ndarray, cascade: str) -> None:
    from handocr.api import Recognizer

    rec = Recognizer(device="cpu", cascade=cascade)
    rec.read_images([dense_page])  # load the models and warm up outside the timing
    page = benchmark.pedantic(rec.read_page, args=(dense_page,), rounds=5, iterations=1)
    benchmark.extra_info["chars"] = sum(len(line.all_chars()) for line in page.lines)
    benchmark.extra_info["backend"] = rec.ensemble.backend


def test_cold_start_read_one_small_image(benchmark, small_field: Path) -> None:
    """Wall time of a whole ``handocr read`` process on one name-field-sized image."""
    cmd = [sys.executable, "-m", "handocr_cli", "read", str(small_field)]
    subprocess.run(cmd, check=True, capture_output=True)  # warm the file cache once

    def run() -> None:
        subprocess.run(cmd, check=True, capture_output=True)

    benchmark.pedantic(run, rounds=5, iterations=1)
