"""Warm per-field latency: one process, models loaded, each field image read on its own.

Reads every image of a page set (default ``../shared/data/pages/kaggle_names``, 284-324 x 31-50
px names) with ``Recognizer.read``, one image per call as a service or a form reader would, and
prints the median and mean seconds per image for the default reading (the line members fused)
and for the character members alone. Each system reads the set ``--reps`` times after one warm-up
pass; the figures are over all reads.

    python benchmarks/field_latency.py [SET_DIR] [--reps 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from handocr import Recognizer
from handocr.io import IMAGE_SUFFIXES

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pages"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path, nargs="?", default=SHARED / "kaggle_names")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    systems = {"fused (default)": Recognizer(), "characters alone": Recognizer(line_models="none")}
    for name, rec in systems.items():
        for f in files:  # warm-up: models loaded, sessions primed
            rec.read(f)
        times = []
        for _ in range(args.reps):
            for f in files:
                t = time.perf_counter()
                rec.read(f)
                times.append(time.perf_counter() - t)
        ms = np.array(times) * 1000
        print(
            f"{name:>18}: {len(files)} images x {args.reps}: median {np.median(ms):.1f} ms, "
            f"mean {ms.mean():.1f} ms, p90 {np.percentile(ms, 90):.1f} ms"
        )


if __name__ == "__main__":
    main()
