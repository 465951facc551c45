"""The CTC line member on its own: each page-set image read whole by its ONNX graph.

Every image of a set (``truth.tsv`` + images, ``../shared/data/pages`` layout) is read as one
line: gray (``handocr.io.load_pages``), resized to 32 px high, ``(255 - gray) / 255``
(:func:`handocr.models.crnn.line_input`), run through the graph in ONNX Runtime on one thread,
and decoded greedily (best path). Scored by the page sets' rule (``handocr.evaluate``: upper
case, whitespace removed, digits only for ``orand_car_a``): CER (micro-average) and the share
read exactly. No torch is imported. Prints a Markdown table, or JSON with ``--json``.

    python benchmarks/crnn_pages.py runs/crnn-v1/crnn.lines-v1.onnx \\
        --sets ../shared/data/pages/kaggle_names_more ../shared/data/pages/kaggle_names \\
               ../shared/data/pages/orand_car_a ../shared/data/pages/nist_sd19_hsf
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def read_set(graph: Path, folder: Path, *, digits_only: bool) -> dict[str, object]:
    """CER, exact share, seconds per image and the rows of one set read by ``graph``."""
    import onnxruntime as ort
    from rapidfuzz.distance import Levenshtein

    from handocr.evaluate import normalise_for_cer, read_truth
    from handocr.io import load_pages
    from handocr.models.crnn import greedy_decode, line_input

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    dist = length = exact = 0
    rows = []
    t0 = time.perf_counter()
    truth = read_truth(folder / "truth.tsv")
    for name, text in truth:
        gray = load_pages(folder / name)[0]
        x = line_input(gray)[None]
        (lp,) = sess.run(["log_probs"], {"x": x})
        hyp = greedy_decode(lp[0])
        ref_n = normalise_for_cer(text, digits_only=digits_only)
        hyp_n = normalise_for_cer(hyp, digits_only=digits_only)
        d = Levenshtein.distance(ref_n, hyp_n)
        dist, length, exact = dist + d, length + len(ref_n), exact + (ref_n == hyp_n)
        rows.append({"file": name, "truth": text, "read": hyp, "distance": d})
    seconds = time.perf_counter() - t0
    n = max(1, len(truth))
    return {
        "set": folder.name,
        "images": len(truth),
        "cer": dist / max(1, length),
        "exact": exact / n,
        "s_per_image": seconds / n,
        "rows": rows,
    }


def main() -> None:
    """Read the sets named on the command line and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("graph", type=Path)
    ap.add_argument("--sets", type=Path, nargs="+", required=True)
    ap.add_argument("--json", action="store_true", help="JSON with per-image rows")
    args = ap.parse_args()
    results = [read_set(args.graph, s, digits_only=s.name == "orand_car_a") for s in args.sets]
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print("| set | images | CER | exact | s/image |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['set']} | {r['images']} | {r['cer']:.3f} | {r['exact']:.3f} "
            f"| {r['s_per_image']:.4f} |"
        )
    cer = np.mean([float(r["cer"]) for r in results])  # type: ignore[arg-type]
    print(f"\nmean CER over sets: {cer:.3f}")


if __name__ == "__main__":
    main()
