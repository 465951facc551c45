"""How far re-ranking and calibration can take the names read with a lexicon (issue #24).

    python benchmarks/rerank_limits.py [--cache runs/lexicon/samples.pkl]
        [--lexicon runs/lexicon/names-public.tsv.gz] [--holdout 0.3]
        [--eval EVAL.json --count-right LABEL,...]

Works on the Kaggle names train lines gathered by ``benchmarks/fit_lexicon.py`` (its cache:
each line's candidate readings with their score parts and errors, counted past the printed
caption), never on ``../shared/data/pages``; the lines held out are those of the lexicon fit
(``handocr.train.fusion.held_out``). Prints, as JSON:

- ``oracle``: share of lines with an exact reading among the candidates; ``chosen``: share
  read exactly with the shipped fusion and lexicon weights (``weights/lexicon.json``);
- ``reranker``: a conditional logit over every score part and the lexicon's share and gain,
  refitted jointly on the fitted lines (the exact readings' likelihood, L2 towards the
  shipped weights, L-BFGS), exact share of the fitted and held-out lines per ridge weight;
- ``frequency_prior``: the list's word frequency added as a prior (weight times the log of
  each listed token's frequency over 1e-8) on a grid with the lexicon weights; the grid point
  that fits best and its held-out share;
- ``calibration``: read rate at 1 % and 5 % error and ECE of 5-fold cross-validated
  logistic calibrations of the chosen reading: its posterior alone, with the edit distances
  of the reading to each member's, and with also its score margin, length and counts.

With ``--eval`` (an ``eval-pages --json --rows`` output, one set) and ``--count-right``
(truth labels), the set's read rate at 1 % and ECE are also given as if the fields with those
labels had been read right: a what-if on labels, nothing is fitted on it.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _reranker(xs: list, es: list, held: np.ndarray, theta0: np.ndarray) -> dict[str, Any]:
    """Refit every weight jointly: maximise the exact readings' probability (fitted lines)."""
    from scipy.optimize import minimize

    def scores(th: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.asarray(x[:, :-1] @ th + x[:, -1])

    def share(th: np.ndarray, mask: np.ndarray) -> float:
        r = [es[k][np.argmax(scores(th, xs[k]))] == 0 for k in np.flatnonzero(mask)]
        return round(float(np.mean(r)), 4)

    fit = [k for k in np.flatnonzero(~held) if (es[k] == 0).any()]

    def loss(th: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
        out, grad = 0.0, np.zeros_like(th)
        for k in fit:
            s = scores(th, xs[k])
            p = np.exp(s - s.max())
            p /= p.sum()
            good = es[k] == 0
            pg = max(float(p[good].sum()), 1e-12)
            out -= np.log(pg)
            grad -= (p[good] @ xs[k][good, :-1]) / pg - p @ xs[k][:, :-1]
        d = th - theta0
        return out / len(fit) + lam * float(d @ d), grad / len(fit) + 2 * lam * d

    out = {"shipped": {"fitted": share(theta0, ~held), "held_out": share(theta0, held)}}
    for lam in (1e-3, 1e-2, 1e-1):
        th = minimize(loss, theta0, args=(lam,), jac=True, method="L-BFGS-B").x
        out[f"ridge {lam}"] = {"fitted": share(th, ~held), "held_out": share(th, held)}
    return out


def _calibration(rows: np.ndarray, right: np.ndarray) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from handocr.fieldscore import calibration_error, read_rate

    fold = np.arange(len(right)) % 5
    out = {}
    width = rows.shape[1]
    for name, cols in (("posterior", [0]), ("+ distances", list(range(width - 5))),
                       ("+ margin, length, counts", list(range(width)))):  # fmt: skip
        x = rows[:, cols]
        p = np.zeros(len(right))
        for k in range(5):
            m = fold != k
            mu, sd = x[m].mean(0), x[m].std(0) + 1e-9
            clf = LogisticRegression(C=1.0, max_iter=2000).fit((x[m] - mu) / sd, right[m])
            p[~m] = clf.predict_proba((x[~m] - mu) / sd)[:, 1]
        out[name] = {
            "ece": round(calibration_error(p, right), 4),
            "read@0.01": round(read_rate(p, right, 0.01), 4),
            "read@0.05": round(read_rate(p, right, 0.05), 4),
        }
    return out


def _what_if(path: Path, labels: set[str]) -> dict[str, Any]:
    from handocr.fieldscore import calibration_error, read_rate

    ((name, s),) = json.loads(path.read_text(encoding="utf-8")).items()
    p = np.array([r["confidence"] for r in s["rows"]])
    y = np.array([r["distance"] == 0 for r in s["rows"]])
    y2 = y | np.array([r["truth"] in labels for r in s["rows"]])
    return {
        "set": name,
        "read@0.01": [read_rate(p, y, 0.01), read_rate(p, y2, 0.01)],
        "ece": [round(calibration_error(p, y), 4), round(calibration_error(p, y2), 4)],
        "relabelled": int((y2 & ~y).sum()),
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=ROOT / "runs/lexicon/samples.pkl")
    ap.add_argument("--lexicon", default=str(ROOT / "runs/lexicon/names-public.tsv.gz"))
    ap.add_argument("--holdout", type=float, default=0.3)
    ap.add_argument("--eval", type=Path, default=None)
    ap.add_argument("--count-right", default="")
    args = ap.parse_args(argv)
    from handocr.api import Recognizer
    from handocr.lexicon import (
        group_words,
        load_lexicon,
        load_lexicon_weights,
        reading_words,
        scored_word,
    )
    from handocr.readings import lexicon_scores, posterior
    from handocr.train.fusion import _features, _pack, held_out
    from handocr.wordlist import folded_text

    samples, keys = pickle.loads(args.cache.read_bytes())  # our own cache (fit_lexicon.py)
    w, lw = Recognizer().fusion_weights, load_lexicon_weights()
    lex = load_lexicon(args.lexicon)
    held = np.array([held_out(k, args.holdout) for k in range(len(samples))], bool)
    es = [s.errors for s in samples]
    base = [w.score(s.features, keys) for s in samples]
    chosen = [
        int(np.argmax(lexicon_scores(b, s.features, lw)))
        for b, s in zip(base, samples, strict=True)
    ]
    report: dict[str, Any] = {
        "lines": len(samples),
        "held_out": int(held.sum()),
        "oracle": round(float(np.mean([(e == 0).any() for e in es])), 4),
        "chosen": round(float(np.mean([e[k] == 0 for e, k in zip(es, chosen, strict=True)])), 4),
    }
    # the re-ranker: score parts, then the lexicon's share, gain, lexical flag; the last
    # column (the first line member's CTC) keeps weight 1, the scale
    xs = []
    for s in samples:
        f, x = s.features, _features(s.features)
        xs.append(np.column_stack([x[:, :-1], f.hits, f.gains, f.lexical, x[:, -1]]))
    theta0 = np.concatenate([_pack(w, keys), [lw.hit, lw.gain, 0.0]])
    report["reranker"] = _reranker(xs, es, held, theta0)
    # a word-frequency prior: log(frequency / 1e-8) of each listed token
    prior = []
    for s in samples:
        row = np.zeros(len(s.features.readings))
        for h, (r, word_of) in enumerate(zip(s.features.readings, s.features.words, strict=True)):
            t = folded_text(r)
            for a, b, found in group_words(t, reading_words(t, word_of), lex):
                if found and scored_word(t[a:b]):
                    row[h] += np.log(max(lex.words[t[a:b]], 1e-8) / 1e-8)
        prior.append(row)
    grid = {}
    for hit in (0.0, 1.0, 2.0, 3.0, 4.0, 6.0):
        for gain in (0.0, 0.1, 0.2, 0.3):
            for fw in (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2):
                right = []
                for k, (b, s) in enumerate(zip(base, samples, strict=True)):
                    f = s.features
                    score = b + hit * f.hits + gain * f.gains + fw * prior[k]
                    right.append(es[k][np.argmax(score)] == 0)
                r = np.asarray(right)
                grid[(hit, gain, fw)] = (float(r[~held].mean()), float(r[held].mean()))
    top = max(grid.values(), key=lambda v: v[0])[0]
    best = {f"{k[0]}/{k[1]}/{k[2]}": [round(v[0], 4), round(v[1], 4)]
            for k, v in grid.items() if v[0] == top}  # fmt: skip
    report["frequency_prior"] = {
        "best_fitted (hit/gain/prior: fitted, held out)": best,
        "without (3.0/0.3/0.0)": [round(v, 4) for v in grid[(3.0, 0.3, 0.0)]],
    }
    # calibration of the chosen free reading from more evidence than its posterior
    rows, right = [], []
    for b, s in zip(base, samples, strict=True):
        f = s.features
        sc = lexicon_scores(b, f, None)
        k = int(np.argmax(sc))
        q = min(max(float(posterior(sc, w.temperature)[k]), 1e-6), 1 - 1e-6)
        top2 = np.sort(sc[np.isfinite(sc)])[::-1]
        margin = min(float(top2[0] - top2[1]), 20.0) if len(top2) > 1 else 20.0
        rows.append([np.log(q / (1 - q)), *f.distance[k], f.lengths[k], f.inserts[k],
                     f.deletes[k], margin, float(np.isfinite(sc).sum())])  # fmt: skip
        right.append(bool(s.errors[k] == 0))
    report["calibration"] = _calibration(np.asarray(rows), np.asarray(right))
    if args.eval is not None:
        labels = {t for t in args.count_right.split(",") if t}
        report["what_if"] = _what_if(args.eval, labels)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
