"""Speed benchmarks (pytest-benchmark). Run: ``pytest benchmarks --benchmark-only``.

Compare results only between runs on the same machine. Throughput is ``chars`` (in
``extra_info``) divided by the mean time.
"""

from __future__ import annotations

import numpy as np
import pytest

from handocr.preprocess import ink_map
from handocr.segment import segment_page


@pytest.mark.parametrize("batch", [1, 64, 1024])
@pytest.mark.parametrize("member", ["cnn", "resnet10t", "resnet10t-imagenet"])
def test_member_classification(benchmark, member: str, batch: int) -> None:
    import torch

    from handocr.ensemble import Ensemble, Member
    from handocr.models import create_model
    from handocr.result import ModelInfo

    torch.manual_seed(0)
    net = create_model(member, weights=None)
    ens = Ensemble([Member(ModelInfo(member, "untrained", ""), net)])
    x = np.random.default_rng(0).random((batch, 1, 28, 28), np.float32)
    benchmark.extra_info["chars"] = batch
    benchmark(ens.predict_proba, x)


@pytest.mark.parametrize("batch", [256, 1024])
def test_shipped_ensemble_classification(benchmark, batch: int) -> None:
    from handocr.ensemble import Ensemble

    ens = Ensemble.from_names(device="cpu", batch_size=batch)
    x = np.random.default_rng(0).random((batch, 1, 28, 28), np.float32)
    benchmark.extra_info["chars"] = batch
    benchmark.extra_info["members"] = [m.info.key for m in ens.members]
    benchmark(ens.predict_proba, x)


def test_binarise_and_segment_dense_page(benchmark, dense_page: np.ndarray) -> None:
    lines = benchmark(lambda: segment_page(ink_map(dense_page)))
    benchmark.extra_info["glyphs"] = sum(len(line.glyphs) for line in lines)


def test_read_dense_page_end_to_end(benchmark, dense_page: np.ndarray) -> None:
    from handocr.api import Recognizer

    rec = Recognizer(device="cpu")
    rec.ensemble  # noqa: B018 - load the models outside the timing
    page = benchmark.pedantic(rec.read_page, args=(dense_page,), rounds=3, iterations=1)
    benchmark.extra_info["chars"] = sum(len(line.all_chars()) for line in page.lines)
