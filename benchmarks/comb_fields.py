"""Synthetic comb fields read whole (issue #23, deliverable 4): CER and exact share.

Generates comb fields from EMNIST **test** glyphs (:mod:`handocr.train.combs`: 6-20 cells of
10-40 px, pens of 1-4 px, glyphs touching and crossing walls, up to 2 degrees of skew, JPEG)
and reads each as ``handocr read`` does, with and without comb reading (``combs=False``: the
free reading with ruled-line removal). CER = Levenshtein distance / truth length, case folded,
whitespace removed, summed over fields, also by field kind and by cell pitch;
``--charset-by-kind`` reads digit fields with ``charset="digits"`` and letter fields with
``charset="upper"`` (what a user who knows the form passes).

    python benchmarks/comb_fields.py [--n 300] [--seed 0] [--charset-by-kind] [--json]
    python benchmarks/comb_fields.py --samples DIR   # also write the first 12 images there
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parents[1]
EMNIST = ROOT.parent / "shared" / "data" / "emnist47"


def fold(text: str) -> str:
    """Case folded, whitespace removed."""
    return "".join(text.split()).casefold()


def score(recognizers: dict, samples: list) -> dict:
    """CER, exact share and seconds per field of each way of reading."""
    out = {}
    for name, (rec_any, rec_kind) in recognizers.items():
        errs = chars = exact = 0
        by_kind: dict[str, list[int]] = {}
        t0 = time.perf_counter()
        for s in samples:
            rec = rec_kind[s.kind] if rec_kind else rec_any
            (read,) = rec.read_images([s.image])
            pred, truth = fold(read.page.text if read.page else ""), fold(s.text)
            d = Levenshtein.distance(pred, truth)
            errs, chars, exact = errs + d, chars + len(truth), exact + (d == 0)
            for key in (s.kind, f"cells {s.pitch // 10 * 10}-{s.pitch // 10 * 10 + 9} px"):
                k = by_kind.setdefault(key, [0, 0])
                k[0] += d
                k[1] += len(truth)
        out[name] = {
            "cer": round(errs / max(chars, 1), 4),
            "exact": round(exact / max(len(samples), 1), 4),
            "cer_by": {k: round(e / max(c, 1), 4) for k, (e, c) in sorted(by_kind.items())},
            "seconds_per_field": round((time.perf_counter() - t0) / max(len(samples), 1), 4),
        }
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--charset-by-kind", action="store_true")
    ap.add_argument("--samples", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from handocr.api import Recognizer
    from handocr.train.combs import generate_combs
    from handocr.train.data import load_emnist, to_label_space

    split = load_emnist(EMNIST, "pool47", "test")
    samples = generate_combs(args.n, split.images, to_label_space(split), seed=args.seed)
    if args.samples:
        args.samples.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(samples[:12]):
            cv2.imwrite(str(args.samples / f"comb_{i:02d}_{s.text}.png"), s.image)
    recognizers = {}
    for name, combs in (("combs", True), ("free reading", False)):
        any_ = Recognizer(combs=combs)
        by_kind = (
            {
                k: Recognizer(combs=combs, charset=c)
                for k, c in (("digits", "digits"), ("upper", "upper"))
            }
            if args.charset_by_kind
            else None
        )
        recognizers[name] = (any_, by_kind)
    result = {"fields": len(samples), "chars": sum(len(s.text) for s in samples)}
    result.update(score(recognizers, samples))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:14s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
