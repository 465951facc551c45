"""Fit the calibrated word and line confidence (handocr.confidence) on the train splits.

    python benchmarks/fit_confidence.py [--holdout 0.2] [--save] [--cache runs/confidence]

Reads ``../shared/data/train/orand_car_a`` (with ``--charset digits``, as a user who knows the
field reads amounts) and ``../shared/data/train/kaggle_names`` (the handwritten words of each
form: its printed captions are not the field), collects the evidence rows of each field's line
and words (``handocr.train.confidence.field_rows``; cached as ``CACHE/<set>.npz``, rebuilt when
missing), fits one logistic regression on the images not held out (a hash of the file name
holds out 20 %) and reports calibration (ECE) and read rates at 1 % and 0.1 % field error on
the held-out images of each set, lines and words apart. ``--save`` writes
``weights/confidence.json``. Nothing is fitted on ``../shared/data/pages``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared/data/train"
SETS = {"orand_car_a": "digits", "kaggle_names": None}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs/confidence")
    args = ap.parse_args(argv)
    from handocr.api import Recognizer
    from handocr.confidence import CONFIDENCE_FILE
    from handocr.train.confidence import FieldRows, field_rows, fit_exact_model, judge

    args.cache.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, charset in SETS.items():
        path = args.cache / f"{name}.npz"
        if path.is_file():
            d = np.load(path)
            rows[name] = FieldRows(
                d["x"], d["y"], d["line"], d["held"], d["image"], int(d["skipped"])
            )
            continue
        rec = Recognizer(charset=charset)
        r = field_rows(rec, TRAIN / name, holdout=args.holdout)
        np.savez(path, x=r.x, y=r.y, line=r.line, held=r.held, image=r.image, skipped=r.skipped)
        rows[name] = r
    x = np.concatenate([r.x[~r.held] for r in rows.values()])
    y = np.concatenate([r.y[~r.held] for r in rows.values()])
    report = {
        "fit": {
            n: {
                "rows": int((~r.held).sum()),
                "right": round(float(r.y[~r.held].mean()), 4),
                "skipped_images": r.skipped,
            }
            for n, r in rows.items()
        },
        "holdout": args.holdout,
    }
    model = fit_exact_model(x, y, report=report)
    report["held_out"] = {n: judge(model, [r]) for n, r in rows.items()}
    report["command"] = "python benchmarks/fit_confidence.py " + " ".join(
        a for a in argv if a != "--save"
    )
    print(json.dumps(report, indent=2))
    if args.save:
        (ROOT / "weights" / CONFIDENCE_FILE).write_text(
            json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
