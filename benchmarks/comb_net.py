"""Fit the comb-cell network (handocr.comb_net) on generated comb fields, choose its weight.

    python benchmarks/comb_net.py fit [--fields 12000] [--val 1500] [--epochs 4] [--nets 1]
        [--save] [--out runs/combnet] [--reuse]

Training fields are drawn from the first 90 % of EMNIST pool47's **train** images, validation
fields from the last 10 % (``handocr.train.combs.generate_combs``, seeds 11 and 12); the
benchmark (``benchmarks/comb_fields.py``) draws its fields from the **test** images. The
windows of the found cells are cached in ``OUT/windows.npz`` (rebuilt when missing). On the
validation fields the soft-voting weight of the network beside the character ensemble is the
one that reads the most cells right, each field's charset applied (digits or capitals, as a
user who knows the form passes it). ``--save`` writes ``weights/combnet.onnx`` and
``weights/combnet.json``; ``--reuse`` keeps ``OUT/combnet.onnx`` when a run already trained it
(the run is seeded: training again gives the same network).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EMNIST = ROOT.parent / "shared/data/emnist47"


def validation(samples, net_path: Path) -> dict:
    """Ensemble vote on each found filled cell's piece and the network's on its window."""
    from handocr.api import Recognizer
    from handocr.comb_net import cell_window
    from handocr.labels import LABELS, Charset
    from handocr.models.runtime import onnx_session
    from handocr.preprocess import ink_map, level_page
    from handocr.segment.comb import cell_pieces, find_combs
    from handocr.train.combnet import choose_weight

    rec = Recognizer()
    session = onnx_session(net_path)
    ens, net, labels, allowed, pitch = [], [], [], [], []
    sets = {k: Charset.parse(k) for k in ("digits", "upper")}
    for s in samples:
        lev = level_page(s.image)
        combs = find_combs(ink_map(lev.gray, remove_lines=False), gray=lev.gray)
        if len(combs) != 1 or len(combs[0].cells) != s.cells:
            continue
        pieces = cell_pieces(combs[0])
        keep = [j for j, ch in enumerate(s.cell_text) if ch != " " and pieces[j] is not None]
        if not keep:
            continue
        ens.append(rec.classify([pieces[j] for j in keep])[:, 0])
        win = np.stack([cell_window(combs[0], j) for j in keep])[:, None]
        net.append(np.asarray(session.run(None, {"x": win})[0]))
        labels += [LABELS.index(s.cell_text[j]) for j in keep]
        allowed += [s.kind] * len(keep)
        pitch += [s.pitch] * len(keep)
    e, n, y, kinds = (
        np.concatenate(ens),
        np.concatenate(net),
        np.asarray(labels),
        np.asarray(allowed),
    )

    def restrict(probs, sel=slice(None)):
        out = np.zeros_like(probs)
        for k, cs in sets.items():
            rows = kinds[sel] == k
            out[rows] = cs.restrict(probs[rows])
        return out

    weight, scores = choose_weight(e, n, y, restrict)
    p = np.asarray(pitch)
    by_band = {}
    for lo in (10, 20, 30):
        sel = (p >= lo) & (p < lo + 10)
        for w in (0.0, weight, 1.0):
            q = restrict((1 - w) * e[sel] + w * n[sel], sel).argmax(1)
            by_band[f"cells {lo}-{lo + 9} px, weight {w:.1f}"] = round(
                float((q != y[sel]).mean()), 4
            )
    return {
        "cells": len(y),
        "weight": weight,
        "accuracy_by_weight": scores,
        "error_by_band": by_band,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["fit"])
    ap.add_argument("--fields", type=int, default=12000)
    ap.add_argument("--val", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--nets", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "runs/combnet")
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args(argv)
    from handocr.models.weights import find_weights
    from handocr.train.combnet import comb_windows, train_comb_net
    from handocr.train.combs import generate_combs
    from handocr.train.data import load_emnist, to_label_space

    split = load_emnist(EMNIST, "pool47", "train")
    labels = np.asarray(to_label_space(split))
    cut = int(0.9 * len(labels))
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "windows.npz"
    t0 = time.time()
    if cache.is_file():
        data = np.load(cache)
        x, y = data["x"], data["y"]
    else:
        train = generate_combs(args.fields, split.images[:cut], labels[:cut], seed=11)
        x, y, _, skipped = comb_windows(train)
        np.savez_compressed(cache, x=x, y=y)
        print(
            f"windows {len(y)} from {args.fields} fields ({skipped} skipped), "
            f"{time.time() - t0:.0f} s",
            flush=True,
        )
    net_path = args.out / "combnet.onnx"
    if not (args.reuse and net_path.is_file()):
        train_comb_net(
            x,
            y,
            net_path,
            find_weights("cnn", "emnist47-v4"),
            epochs=args.epochs,
            seeds=tuple(range(args.nets)),
            progress=lambda e, loss: print(
                f"epoch {e} loss {loss:.4f} {time.time() - t0:.0f} s", flush=True
            ),
        )
    val = generate_combs(args.val, split.images[cut:], labels[cut:], seed=12)
    report = validation(val, net_path)
    print(json.dumps(report, indent=2))
    if args.save:
        from handocr.comb_net import COMB_FILE, NET_FILE
        from handocr.models.weights import file_sha256

        dest = ROOT / "weights"
        shutil.copyfile(net_path, dest / NET_FILE)
        record = {
            "sha256": file_sha256(dest / NET_FILE),
            "weight": report["weight"],
            "train": {
                "fields": args.fields,
                "windows": len(y),
                "epochs": args.epochs,
                "init": "cnn.emnist47-v4",
                "glyphs": "EMNIST pool47 train, first 90 %",
            },
            "validation": report,
            "command": "python benchmarks/comb_net.py fit "
            + " ".join(a for a in argv[1:] if a != "--reuse"),
        }
        (dest / COMB_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
