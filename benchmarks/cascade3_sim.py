"""Simulate a three-stage cascade on the shipped members (no code path reads this way yet).

Stage 1: the first member alone; where its top-1 minus top-2 probability is below ``m1``, the
second member joins (weighted vote of the two); where that vote's margin is below ``m2``, the
third joins (the full weighted vote). For every order of the members and every (m1, m2) on a
0.05 grid, the validation split decides, with the same rule as ``handocr fit-ensemble``: plain
and class-balanced accuracy within 0.05 point of the full ensemble at (m1, m2) and at every
larger pair; the cheapest in MACs per character wins, and is then scored on pool47 test.

Run (about two minutes on 2 cores)::

    python benchmarks/cascade3_sim.py --data ../shared/data/emnist47
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from handocr.ensemble import Ensemble, combine_votes, staged_combine
from handocr.train.config import TrainConfig
from handocr.train.data import load_emnist, split_train_val, to_label_space
from handocr.train.ensemble import CASCADE_TOLERANCE, balanced_accuracy


def cascade3(per, weights, order, m1, m2):  # type: ignore[no-untyped-def]
    """One member per stage in ``order``: the library's :func:`staged_combine`."""
    p, reached = staged_combine(per, weights, "weighted", [[k] for k in order], (m1, m2))
    return p, float(reached[0].mean()), float(reached[1].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="EMNIST folder (pool47)")
    args = ap.parse_args()
    from handocr.models.factory import macs_per_crop, model_spec

    ens = Ensemble.from_names(batch_size=512, cascade="off")
    macs = np.array([macs_per_crop(model_spec(m.info.name).build()) / 1e6 for m in ens.members])
    train = load_emnist(args.data, "pool47", "train")
    images, labels, _, va = split_train_val((train.images, to_label_space(train)), TrainConfig())
    test = load_emnist(args.data, "pool47", "test")
    sets = {}
    for name, x, y in [
        ("val", images[va], labels[va]),
        ("test", test.images, to_label_space(test)),
    ]:
        sets[name] = (ens.member_proba((x.astype(np.float32) / 255.0)[:, None]), y)
    w = ens.weights
    per, y = sets["val"]
    full = combine_votes(per, w, "weighted")
    bal, plain = balanced_accuracy(full, y), float((full.argmax(1) == y).mean())
    tper, ty = sets["test"]
    tfull = float((combine_votes(tper, w, "weighted").argmax(1) == ty).mean())
    grid = np.linspace(0, 1, 21)
    print(
        "| order | m1 | m2 | val MMAC | test MMAC | test escalated (2nd / 3rd) "
        "| test delta (points) |"
    )
    print("|---|---|---|---|---|---|---|")
    for order in itertools.permutations(range(len(ens.members))):
        ok = np.zeros((len(grid), len(grid)), bool)
        cost = np.zeros(ok.shape)
        for i, j in itertools.product(range(len(grid)), repeat=2):
            p, e1, e2 = cascade3(per, w, order, grid[i], grid[j])
            ok[i, j] = (
                balanced_accuracy(p, y) >= bal - CASCADE_TOLERANCE
                and float((p.argmax(1) == y).mean()) >= plain - CASCADE_TOLERANCE
            )
            cost[i, j] = macs[order[0]] + e1 * macs[order[1]] + e2 * macs[order[2]]
        flipped = np.flip(ok, (0, 1))
        valid = np.flip(np.logical_and.accumulate(np.logical_and.accumulate(flipped, 0), 1), (0, 1))
        if not valid.any():
            continue
        i, j = divmod(int(np.argmin(np.where(valid, cost, np.inf))), len(grid))
        p, e1, e2 = cascade3(tper, w, order, grid[i], grid[j])
        tcost = macs[order[0]] + e1 * macs[order[1]] + e2 * macs[order[2]]
        names = " > ".join(ens.members[k].info.key for k in order)
        delta = 100 * (float((p.argmax(1) == ty).mean()) - tfull)
        print(
            f"| {names} | {grid[i]:.2f} | {grid[j]:.2f} | {cost[i, j]:.1f} | {tcost:.1f} "
            f"| {e1:.3f} / {e2:.3f} | {delta:+.3f} |"
        )


if __name__ == "__main__":
    main()
