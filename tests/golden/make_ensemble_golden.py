"""Regenerate ``ensemble_v1.npz``: synthetic crops and the shipped ensemble's probabilities.

Run after every weights change: ``python tests/golden/make_ensemble_golden.py``.
The crops are OpenCV-rendered characters (no real evaluation data), normalised by handocr.crops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def synthetic_crops() -> np.ndarray:
    import cv2

    from handocr.crops import to_model_input
    from handocr.result import Box

    crops = []
    for i, ch in enumerate("0123456789ABCDEFGHJKLMNPRTUVWXYZabdefghnqrt"):
        page = np.zeros((120, 110), np.uint8)
        font = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX)[i % 2]
        cv2.putText(page, ch, (18, 95), font, 3.0, 255, 6 + i % 4)
        crops.append(to_model_input(page, [Box(0, 0, 110, 120)])[0])
    return np.stack(crops).astype(np.float32)


def main() -> None:
    from handocr.ensemble import Ensemble

    crops = synthetic_crops()
    probs = Ensemble.from_names(device="cpu", cascade="off").predict_proba(crops)  # every member
    out = Path(__file__).with_name("ensemble_v1.npz")
    np.savez_compressed(out, crops=crops, probs=probs)
    print(f"wrote {out}: {len(crops)} crops")


if __name__ == "__main__":
    main()
