"""Speed benchmarks (pytest-benchmark). Run: ``pytest benchmarks --benchmark-only``.

Compare results only between runs on the same machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from handocr.preprocess import ink_map
from handocr.segment import segment_page


@pytest.mark.parametrize("batch", [1, 64, 1024])
def test_cnn_classification(benchmark, batch: int) -> None:
    import torch

    from handocr.ensemble import Ensemble, Member
    from handocr.models import create_model
    from handocr.result import ModelInfo

    torch.manual_seed(0)
    ens = Ensemble([Member(ModelInfo("cnn", "untrained", ""), create_model("cnn", weights=None))])
    x = np.random.default_rng(0).random((batch, 1, 28, 28), np.float32)
    benchmark.extra_info["chars"] = batch
    benchmark(ens.predict_proba, x)


def test_binarise_and_segment_dense_page(benchmark, dense_page: np.ndarray) -> None:
    lines = benchmark(lambda: segment_page(ink_map(dense_page)))
    benchmark.extra_info["glyphs"] = sum(len(line.glyphs) for line in lines)
