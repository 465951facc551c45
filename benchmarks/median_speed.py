"""Median times of classification and of a dense page, for interleaved comparisons.

pytest-benchmark's means drift with this VM's speed; comparing two builds or two sets of
weights is fairer by alternating short runs of each and comparing medians. One run prints the
median time of ``Ensemble.predict_proba`` on 256 real EMNIST crops (the committed sample, as in
``benchmarks/test_speed.py``; default cascade, ONNX Runtime) and of ``Recognizer.read_page`` on
the dense synthetic page of ``benchmarks/conftest.py`` (1,444 characters).

    python benchmarks/median_speed.py                                  # this checkout
    PYTHONPATH=../old-checkout python benchmarks/median_speed.py       # another build
    HANDOCR_WEIGHTS=../other-weights python benchmarks/median_speed.py # other weights
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).parents[1] / "tests" / "data" / "emnist47-sample"


def median_s(fn: Callable[[], object], reps: int, warm: int = 3) -> float:
    for _ in range(warm):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    from handocr.api import Recognizer
    from handocr.ensemble import Ensemble
    from handocr.train.data import load_emnist, to_label_space

    try:
        from handocr.train.synth import PageStyle, render_page
    except ImportError:  # a build before issue #22 (for interleaved comparisons)
        from handocr.synth import PageStyle, render_page  # type: ignore[no-redef]

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crop-reps", type=int, default=150)
    ap.add_argument("--page-reps", type=int, default=12)
    args = ap.parse_args()
    s = load_emnist(SAMPLE, "pool47", "test")
    x = (s.images.astype(np.float32) / 255.0)[:, None]
    x = np.resize(x[np.random.default_rng(0).permutation(len(x))], (256, 1, 28, 28))
    ens = Ensemble.from_names(device="cpu", backend="onnx", cascade="auto", batch_size=256)
    style = PageStyle(lines=30, words_per_line=8, chars_per_word=(4, 8), height=(28, 40))
    page = render_page(s.images, to_label_space(s), style, seed=0).image
    rec = Recognizer(device="cpu")
    # read_images since issue #22; read_pages before
    read = getattr(rec, "read_images", None) or rec.read_pages  # type: ignore[attr-defined]
    row = {
        "classify_256_ms": round(1000 * median_s(lambda: ens.predict_proba(x), args.crop_reps), 2),
        "dense_page_s": round(median_s(lambda: read([page]), args.page_reps, 1), 3),
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
