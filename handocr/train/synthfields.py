"""Synthetic handprinted date fields: EMNIST digits with drawn separators (``/``, ``-``, ``.``).

The 47 EMNIST classes hold no punctuation, and the train splits' truth leaves the separators out
(ORAND transcribes digits only), so the fusion's weights would never see a slash read right.
These fields give it that evidence: digits are EMNIST glyphs (the **train** part for fitting,
the **test** part for ``benchmarks/punctuation.py``), separators pen strokes drawn with OpenCV:
a slash 1.1-1.3 digit heights long at 55-70 degrees from the baseline, a hyphen a third of a
digit height wide at mid-height, a dot a filled disc on the baseline; pens of 1-4 px, a mild
blur and sensor noise.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["date_field", "date_fields", "digits_by_value"]


def digits_by_value(
    images: NDArray[np.uint8], labels: NDArray[np.int64]
) -> dict[int, NDArray[np.uint8]]:
    """Group EMNIST glyphs (upright, ink 255) of the classes 0-9 by digit value."""
    return {d: images[labels == d] for d in range(10)}


def date_field(
    rng: np.random.Generator,
    digits: dict[int, NDArray[np.uint8]],
    separators: str = "/",
) -> tuple[NDArray[np.uint8], str]:
    """Draw one date on paper: ``DD?MM?YYYY`` or ``DD?MM?YY`` with ``?`` from ``separators``.

    Parameters
    ----------
    rng : numpy Generator
    digits : dict of int to ndarray of uint8, shape (N, 28, 28)
        Glyphs of each digit (:func:`digits_by_value`).
    separators : str
        The separator is drawn uniformly from these (``/``, ``-`` or ``.``).

    Returns
    -------
    (ndarray of uint8, str)
        The gray field (dark ink on light paper, digit height 24-43 px) and its text.
    """
    sep = separators[int(rng.integers(len(separators)))]
    day, month, year = rng.integers(1, 29), rng.integers(1, 13), rng.integers(1950, 2030)
    yy = year if rng.random() < 0.6 else year % 100
    text = f"{day:02d}{sep}{month:02d}{sep}{yy:02d}"
    h = int(rng.integers(24, 44))
    pen = int(rng.integers(1, 5))
    page = np.zeros((h * 2, 12 + len(text) * h), np.uint8)  # ink = 255 while drawing
    x, top = h // 3, h // 2
    for ch in text:
        if ch in "/-.":
            x = _separator(page, ch, x, top, h, pen, rng)
            continue
        pool = digits[int(ch)]
        glyph = pool[int(rng.integers(len(pool)))]
        ys, xs = np.nonzero(glyph > 40)
        glyph = glyph[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        gw = max(2, round(glyph.shape[1] * h / glyph.shape[0]))
        g = cv2.resize(glyph, (gw, h), interpolation=cv2.INTER_AREA)
        dy = int(rng.integers(-2, 3))
        region = page[top + dy : top + dy + h, x : x + gw]
        np.maximum(region, g[: region.shape[0], : region.shape[1]], out=region)
        x += gw + int(h * rng.uniform(0.05, 0.3))
    page = page[:, : x + h // 3]
    img = 255 - page.astype(np.float32) * 0.85
    img = cv2.GaussianBlur(img, (3, 3), 0.6) + rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), text


def _separator(
    page: NDArray[np.uint8], ch: str, x: int, top: int, h: int, pen: int, rng: np.random.Generator
) -> int:
    """Draw a separator from column ``x``; return the column after it and its gap."""
    if ch == "/":
        length = h * rng.uniform(1.1, 1.3)
        angle = np.deg2rad(rng.uniform(55, 70))
        w, rise = int(length * np.cos(angle)), int(length * np.sin(angle))
        y0 = top + h + (rise - h) // 2
        cv2.line(page, (x, y0), (x + w, y0 - rise), 255, pen, cv2.LINE_AA)
    elif ch == "-":
        w = int(h * rng.uniform(0.3, 0.45))
        y = top + h // 2 + int(rng.integers(-2, 3))
        cv2.line(page, (x, y), (x + w, y - int(rng.integers(0, 3))), 255, pen + 1, cv2.LINE_AA)
    else:
        w = max(3, pen + 2)
        cv2.circle(page, (x + w // 2, top + h - w // 2), max(1, w // 2), 255, -1, cv2.LINE_AA)
    return x + w + int(h * rng.uniform(0.1, 0.35))


def date_fields(
    rng: np.random.Generator,
    digits: dict[int, NDArray[np.uint8]],
    n: int,
    separators: str = "/-.",
) -> list[tuple[NDArray[np.uint8], str]]:
    """``n`` fields of :func:`date_field`."""
    return [date_field(rng, digits, separators) for _ in range(n)]
