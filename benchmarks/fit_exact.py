"""Fit the Platt scaling of the fusion's posterior into P(exact) on a train split (issue #24).

    python benchmarks/fit_exact.py [--set orand_car_a] [--charset digits] [--holdout 0.2]
        [--save]
    python benchmarks/fit_exact.py --samples runs/lexicon/samples.pkl [--holdout 0.3] [--save]

Reads ``../shared/data/train/SET`` as a user would (``--charset``), takes each image whose
handwritten words lie on one line (the field), its probability of an exact reading as read
(the line's fused posterior, or the product of its handwritten words' when the line also holds
printed words) and whether its text equals the truth (case folded, whitespace removed; digits
only for a digit set). A hash of the file name holds out ``--holdout`` of the images
(``handocr.train.realdata.held_out``). With ``--samples`` (the cache of
``benchmarks/fit_lexicon.py``: the Kaggle names train lines, whose printed captions the truth
leaves out) each line's posterior of its chosen free reading is taken instead and its errors
are counted past the caption; every ``1/holdout``-th line is held out
(``handocr.train.fusion.held_out``, 0.3 by default, as in the lexicon fit); the scaling is
then the free-text one (a ``--charset`` is refused). A logistic regression on the logit of
the probability (Platt scaling, ``FusionWeights.exact_slope`` / ``exact_bias``:
``handocr.train.confidence.fit_platt``) is fitted on the others and the held-out ones judge
it (expected calibration error, read rates at 1 % and 0.1 % error); the scaling is kept only
where its 5-fold cross-validated ECE over all the fields beats the posterior's (else slope 1,
bias 0 are written). ``--save`` writes the two
numbers into ``weights/MANIFEST.json`` (``fusion.by_charset.CHARSET``, or the free-text
weights with ``--charset ""``) with the report. Nothing is fitted on ``../shared/data/pages``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared/data/train"


def rows(folder: Path, charset: str | None, holdout: float) -> tuple[np.ndarray, ...]:
    """Return each field's probability as read, whether it is exact, and its held-out flag."""
    from handocr.api import Recognizer
    from handocr.evaluate import read_truth
    from handocr.train.confidence import handwritten_line
    from handocr.train.realdata import held_out

    truth = read_truth(folder / "truth.tsv")
    base = folder / "images" if (folder / "images").is_dir() else folder
    rec = Recognizer(charset=charset)
    # the fitted scaling is undone while reading: the fit starts from the posterior itself
    w = rec.fusion_weights
    rec._models.fusion[charset] = dataclasses.replace(w, exact_slope=1.0, exact_bias=0.0)
    results = rec.read_inputs([base / n for n, _ in truth], errors="report")

    def fold(t: str) -> str:
        t = "".join(t.split()).upper()
        return "".join(c for c in t if c.isdigit()) if charset == "digits" else t

    p, y, h = [], [], []
    for (name, text), r in zip(truth, results, strict=True):
        field = handwritten_line(r)
        if field is None:
            continue
        line, words = field
        whole = len(words) == len(line.words) and line.exact is not None
        p.append(line.exact if whole else float(np.prod([w.confidence for w in words])))
        y.append(fold(" ".join(w.text for w in words)) == fold(text))
        h.append(held_out(name, holdout))
    return np.asarray(p), np.asarray(y, bool), np.asarray(h, bool)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="orand_car_a")
    ap.add_argument("--charset", default=None, help='default: digits; "" for free text')
    ap.add_argument("--holdout", type=float, default=None, help="default: 0.2, 0.3 with --samples")
    ap.add_argument("--samples", type=Path, default=None)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args(argv)
    from handocr.train.confidence import fit_platt, posterior_rows

    if args.samples is not None and args.charset:
        ap.error("--samples fits the free-text scaling (Kaggle names lines): no --charset")
    free = args.samples is not None or args.charset == ""
    charset = None if free else args.charset or "digits"
    if args.holdout is None:
        args.holdout = 0.3 if args.samples is not None else 0.2
    if args.samples is not None:
        from handocr.api import Recognizer
        from handocr.train.fusion import held_out

        samples, keys = pickle.loads(args.samples.read_bytes())  # our own cache (fit_lexicon)
        p, y = posterior_rows(samples, Recognizer(charset=charset).fusion_weights, keys)
        h = np.array([held_out(k, args.holdout) for k in range(len(p))], bool)
        source = {"samples": args.samples.name}
    else:
        p, y, h = rows(TRAIN / args.set, charset, args.holdout)
        source = {"set": args.set}
    a, b, fitted = fit_platt(p, y, h)
    report = {**source, "charset": charset, "holdout": args.holdout, "fields": len(y)}
    report["held_out"] = int(h.sum())
    report |= {"exact_slope": round(a, 4), "exact_bias": round(b, 4), **fitted}
    print(json.dumps(report, indent=2))
    if args.save:
        path = ROOT / "weights" / "MANIFEST.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        entry = manifest["fusion"]["by_charset"][charset] if charset else manifest["fusion"]
        entry.update(exact_slope=a, exact_bias=b, exact_report=report)
        path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
