"""Measure how well handocr's crop normalisation reproduces EMNIST's framing.

Each EMNIST test image is upscaled 4x (bicubic) and binarised at 50 %, standing in for a bilevel
character scan, then normalised by :func:`handocr.crops.normalise_glyph` with several border and
blur settings. Printed: mean correlation with the original image, and the median long side of
the glyph (pixels above 30/255) against EMNIST's own.

    python benchmarks/calibrate_crops.py --data ../shared/data/emnist47
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

import handocr.crops as crops
from handocr.train.data import load_emnist


def long_side(img: np.ndarray, thresh: float) -> int:
    ys, xs = np.nonzero(img > thresh)
    return int(max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="EMNIST folder (default $HANDOCR_DATA)")
    ap.add_argument("--split", default="pool47")
    ap.add_argument("--n", type=int, default=700)
    args = ap.parse_args()
    test = load_emnist(args.data, args.split, "test")
    imgs = test.images[:: max(1, len(test.images) // args.n)][: args.n]
    src = [
        (cv2.resize(a, (112, 112), interpolation=cv2.INTER_CUBIC) > 127).astype(np.uint8) * 255
        for a in imgs
    ]
    emnist_side = np.median([long_side(a, 30) for a in imgs])
    print(f"EMNIST median long side: {emnist_side:.0f} px of 28 (n = {len(imgs)})")
    print(f"{'border@128':>10} {'sigma@128':>9} {'corr':>7} {'long side':>9}")
    for border in (2, 8, 10, 12, 14):
        for sigma in (1.0, 2.0):
            crops.BORDER_PX, crops.BLUR_SIGMA_PX = border, sigma
            outs = [crops.normalise_glyph(s) for s in src]
            pairs = zip(outs, imgs, strict=True)
            corr = np.mean([np.corrcoef(o.ravel(), a.ravel())[0, 1] for o, a in pairs])
            side = np.median([long_side(o, 30 / 255) for o in outs])
            print(f"{border:>10} {sigma:>9.1f} {corr:>7.3f} {side:>9.0f}")


if __name__ == "__main__":
    main()
