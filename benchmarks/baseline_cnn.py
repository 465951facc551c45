"""Train and score the widely used EMNIST Balanced baseline CNN beside handocr's members.

The architecture is the popular Keras tutorial network for EMNIST Balanced (reported at about
89 % test accuracy there): Conv2D 32 5x5 ReLU, BN, Conv2D 32 5x5 ReLU, BN, Conv2D 64 3x3 ReLU,
BN, MaxPool 2x2, Dropout 0.25, Flatten, Dense 256 ReLU, Dense 47 softmax ("valid" padding,
1.4 M parameters, 18 MMAC per crop). It is trained by handocr's own loop on the same data and
split, with the same recipe and epoch budget as the shipped ``cnn`` member, so the only
difference is the network. Printed: one JSON line with top-1, top-2, folded accuracy, ECE and
NLL on the test split, before and after temperature scaling on the validation split.

    python benchmarks/baseline_cnn.py --data ../shared/data/emnist47 --out runs/baseline --epochs 14
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import torch
from torch import nn

from handocr.labels import NUM_CLASSES
from handocr.models.registry import register_model
from handocr.train.calibrate import evaluate_logits, fit_temperature
from handocr.train.config import TrainConfig
from handocr.train.data import load_emnist, split_train_val, to_label_space
from handocr.train.fit import fit
from handocr.train.metrics import Scores

NAME = "baseline-cnn"


@register_model(NAME)
def baseline_cnn(*, num_classes: int = NUM_CLASSES) -> nn.Module:
    """The Keras EMNIST baseline, ``(N, 1, 28, 28)`` float32 -> ``(N, num_classes)`` logits."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5),
        nn.ReLU(),
        nn.BatchNorm2d(32),
        nn.Conv2d(32, 32, 5),
        nn.ReLU(),
        nn.BatchNorm2d(32),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.BatchNorm2d(64),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(64 * 9 * 9, 256),
        nn.ReLU(),
        nn.Linear(256, num_classes),
    )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="EMNIST folder (default $HANDOCR_DATA)")
    ap.add_argument("--split", default="pool47")
    ap.add_argument("--out", default="runs/baseline")
    ap.add_argument("--epochs", type=int, default=14, help="the cnn member's epoch count")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train", type=int, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = TrainConfig(
        arch=NAME,
        data=args.data,
        split=args.split,
        out_dir=args.out,
        tag="baseline",
        epochs=args.epochs,
        threads=args.threads,
        seed=args.seed,
        max_train=args.max_train,
    )
    result = fit(cfg)
    net = baseline_cnn()
    from handocr.models.weights import load_weights

    load_weights(net, result.weights)
    net.eval()
    train = load_emnist(args.data, args.split, "train")
    images, labels, _, va_idx = split_train_val((train.images, to_label_space(train)), cfg)
    dev = torch.device("cpu")
    t = fit_temperature(evaluate_logits(net, images[va_idx], device=dev), labels[va_idx])
    test = load_emnist(args.data, args.split, "test")
    y = to_label_space(test)
    z = evaluate_logits(net, test.images, device=dev).astype(np.float64)
    raw, cal = Scores.of(_softmax(z), y), Scores.of(_softmax(z / t), y)
    print(
        json.dumps(
            {
                "member": NAME,
                "epochs": result.metrics["epochs"],
                "seconds": result.metrics["seconds"],
                "params": sum(p.numel() for p in net.parameters()),
                "temperature": round(t, 4),
                "top1": round(raw.top1, 5),
                "top2": round(raw.top2, 5),
                "folded": round(raw.folded, 5),
                "ece_raw": round(raw.ece, 5),
                "ece": round(cal.ece, 5),
                "nll": round(cal.nll, 5),
            }
        )
    )


if __name__ == "__main__":
    main()
