"""Peak memory of `handocr read` on generated N-page PDFs: it must not grow with N.

Each page is an A4-proportioned page at 150 dpi (1240 x 1754 px) with a few lines of block
capitals drawn by OpenCV. Every run is a fresh `handocr read` process; its peak resident set
size (``ru_maxrss`` of the child, Linux KiB) and wall time are printed as one JSON line per N.

    python benchmarks/memory_pages.py --pages 10 100
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def page(k: int) -> Image.Image:
    """Page ``k``: white, five lines of capitals and digits, black ink."""
    img = np.full((1754, 1240), 255, np.uint8)
    for j in range(5):
        text = f"PAGE {k:03d} LINE {j} ABCDEF"
        cv2.putText(img, text, (80, 200 + 180 * j), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 6)
    return Image.fromarray(img)


def write_pdf(path: Path, n: int) -> None:
    """Write an ``n``-page PDF, one page image at a time."""
    first = page(1)
    first.save(
        path, save_all=True, append_images=(page(k) for k in range(2, n + 1)), resolution=150
    )


def measure(pdf: Path) -> None:
    """Run `handocr read` as this process's only child and print its peak RSS and wall time."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "handocr_cli.app", "read", str(pdf), "--dpi", "150", "-q"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode(errors="replace"))
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    pages = proc.stdout.decode().count("\f") + 1
    print(
        json.dumps(
            {"pages": pages, "peak_rss_mib": round(peak_kib / 1024, 1), "wall_s": round(wall, 2)}
        )
    )


def run(pdf: Path) -> dict[str, float]:
    """Measure in a fresh wrapper process, so that each N gets its own ``ru_maxrss``."""
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(pdf)], capture_output=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measure(args.measure)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.pages):
            pdf = Path(tmp) / f"doc{n}.pdf"
            write_pdf(pdf, n)
            print(json.dumps({"n": n, **run(pdf)}), flush=True)


if __name__ == "__main__":
    main()
