"""Punctuation the 47 EMNIST classes cannot say, read by the fusion with the line members.

Two measurements, each for handocr fused (the default) and the character members alone
(``--line-models none``):

* **hyphens of real names**: every hyphen of ``kaggle_names_more``'s truth (names such as
  ``MARIE-ASTRIDE``) that the reading holds at its place (an ``equal`` step of the edit-distance
  alignment of the normalised texts);
* **slashes of generated dates**: ``DD/MM/YYYY`` and ``DD/MM/YY`` fields laid out from EMNIST
  **test** digits (never trained on) with drawn slashes
  (:func:`handocr.train.synthfields.date_field`); the share of slashes read at their place, and
  CER/exact over the whole dates.

Run::

    python benchmarks/punctuation.py                       # ../shared/data beside the repo
    python benchmarks/punctuation.py --dates 200 --seed 0 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

from handocr import Recognizer
from handocr.evaluate import normalise_for_cer, read_truth
from handocr.train.synthfields import date_field, digits_by_value

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def held(reading: str, truth: str, mark: str) -> tuple[int, int]:
    """Marks of ``truth`` that ``reading`` holds at their place, and the marks of ``truth``."""
    found = 0
    for op in Levenshtein.opcodes(truth, reading):
        if op.tag == "equal":
            found += truth[op.src_start : op.src_end].count(mark)
    return found, truth.count(mark)


def load_digits(data: Path) -> dict[int, np.ndarray]:
    """EMNIST test digits by value, upright (needs the training extra's data reader)."""
    from handocr.train.data import load_emnist, to_label_space

    ds = load_emnist(str(data), "pool47", "test")
    return digits_by_value(ds.images, to_label_space(ds))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--dates", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    systems = {"fused": Recognizer(), "chars": Recognizer(line_models="none")}
    out: dict[str, dict[str, float]] = {}
    names = args.data / "pages" / "kaggle_names_more"
    rows = [r for r in read_truth(names / "truth.tsv") if "-" in r[1]]
    rng = np.random.default_rng(args.seed)
    digits = load_digits(args.data / "emnist47")
    dates = [date_field(rng, digits, "/") for _ in range(args.dates)]
    for name, rec in systems.items():
        got = total = 0
        for file, text in rows:
            reading = normalise_for_cer(rec.read(names / file).text)
            f, t = held(reading, normalise_for_cer(text), "-")
            got, total = got + f, total + t
        slashes = marks = dist = length = exact = 0
        start = time.perf_counter()
        for image, text in dates:
            reading = normalise_for_cer(rec.read(image).text)
            f, t = held(reading, text, "/")
            slashes, marks = slashes + f, marks + t
            d = Levenshtein.distance(reading, text)
            dist, length, exact = dist + d, length + len(text), exact + (d == 0)
        out[name] = {
            "hyphens_read": got,
            "hyphens": total,
            "slashes_read": slashes,
            "slashes": marks,
            "dates_cer": round(dist / max(1, length), 4),
            "dates_exact": round(exact / max(1, len(dates)), 4),
            "seconds_per_date": round((time.perf_counter() - start) / max(1, len(dates)), 4),
        }
        print(f"{name:>6}: {out[name]}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
