"""Synthetic comb fields: EMNIST glyphs written one per cell of a drawn comb, scanned.

A comb field is a row of equal cells between two rules (:mod:`handocr.segment.comb`). Each
sample draws one: 6-20 cells of 10-40 px pitch, a pen of 1-4 px, the cells filled from the left
with a digit field (an ID, a date) or a capital-letter field (a name; :data:`FIELD_LETTERS`),
sometimes a cell left empty inside it or at its end; every glyph, dark as a pen's stroke, scaled
to 60-95 % of the cell's height (at most 95 % of its pitch wide) and moved off centre by up to
12 % of the pitch and 15 % of the height, so that some touch or cross a wall or a rule; then the
page is turned by up to 2 degrees, blurred a little and JPEG-compressed at quality 35-90.

The glyphs come from the caller: EMNIST **test** images for evaluation (the classifier never
saw them), never from ``../shared/data/pages``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.labels import DIGITS, LABELS, UPPER

__all__ = ["FIELD_LETTERS", "CombSample", "generate_combs"]

FIELD_LETTERS = UPPER.replace("L", "")
"""The letters of a letter field. ``L`` is left out: EMNIST Balanced merges ``l`` into ``L``,
so a third of its images are a bare vertical bar, the same shape as ``I`` and ``1``, which no
reader can tell apart and a writer of capitals in a comb does not write."""


@dataclass(frozen=True, slots=True)
class CombSample:
    """One generated comb field.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W)
        The scan, 0 = black.
    text : str
        The characters of the filled cells, left to right (no spaces: a comb field is one word).
    kind : {"digits", "upper"}
        What the field holds.
    cells : int
        Its number of cells, empty ones included.
    pitch : int
        Cell pitch in pixels.
    pen : int
        Rule and wall thickness in pixels.
    cell_text : str
        Each cell's character left to right, a space for an empty cell (``cells`` long).
    """

    image: NDArray[np.uint8]
    text: str
    kind: str
    cells: int
    pitch: int
    pen: int
    cell_text: str = ""


def _by_class(labels: NDArray[np.int64], chars: str) -> dict[str, NDArray[np.int64]]:
    return {ch: np.flatnonzero(labels == LABELS.index(ch)) for ch in chars}


def _glyph(image: NDArray[np.uint8], h: int, max_w: int) -> NDArray[np.uint8]:
    """Return the glyph's ink (255 = ink) cropped, scaled to ``h`` high, at most ``max_w`` wide."""
    import cv2

    ys, xs = np.nonzero(image > 40)
    crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = h / crop.shape[0]
    w = max(1, min(max_w, round(crop.shape[1] * scale)))
    small = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    # a pen's stroke is dark at any size: the averaging of a shrunk glyph would leave a thin
    # stroke grey, so the levels are stretched (stroke cores saturate, edges stay soft)
    return np.asarray(np.clip(small * 255.0 / max(float(small.max()), 1.0) * 2.0, 0, 255), np.uint8)


def _one(
    images: NDArray[np.uint8], pools: dict[str, NDArray[np.int64]], rng: np.random.Generator
) -> CombSample:
    import cv2

    kind = "digits" if rng.random() < 0.6 else "upper"
    alphabet = DIGITS if kind == "digits" else FIELD_LETTERS
    n = int(rng.integers(6, 21))
    pitch = int(rng.integers(10, 41))
    ch = round(pitch * rng.uniform(1.0, 1.4))
    pen = min(int(rng.integers(1, 5)), max(1, pitch // 6))
    margin = int(rng.integers(12, 30))
    height, width = ch + 2 * margin, n * pitch + 2 * margin
    ink = np.zeros((height, width), np.uint8)
    filled = [True] * n
    for j in range(n - int(rng.integers(0, 3)), n):
        filled[j] = False  # unused cells at the end
    if n > 6 and rng.random() < 0.25:
        filled[int(rng.integers(1, n - 1))] = False  # a gap inside (a date's separator)
    text = []
    for j in range(n):
        if not filled[j]:
            continue
        c = str(rng.choice(list(alphabet)))
        idx = pools[c]
        glyph = _glyph(
            images[int(rng.choice(idx))],
            max(4, round(ch * rng.uniform(0.6, 0.95))),
            round(pitch * 0.95),
        )
        gh, gw = glyph.shape
        cx = margin + j * pitch + pitch / 2 + rng.uniform(-0.12, 0.12) * pitch
        cy = margin + ch / 2 + rng.uniform(-0.15, 0.15) * ch
        x0, y0 = round(cx - gw / 2), round(cy - gh / 2)
        x0, y0 = min(max(x0, 0), width - gw), min(max(y0, 0), height - gh)
        region = ink[y0 : y0 + gh, x0 : x0 + gw]
        np.maximum(region, glyph, out=region)
        text.append(c)
    frame = np.zeros_like(ink)
    x_end, y_end = margin + n * pitch, margin + ch
    for y in (margin, y_end):
        cv2.line(frame, (margin, y), (x_end, y), 255, pen)
    for j in range(n + 1):
        x = margin + j * pitch
        cv2.line(frame, (x, margin), (x, y_end), 255, pen)
    paper = rng.uniform(215, 250)
    dark = rng.uniform(0, 70)
    level = np.maximum(ink.astype(np.float32) / 255, frame.astype(np.float32) / 255)
    shade = paper - (paper - dark) * level + rng.normal(0, 4, level.shape)
    page: Any = np.clip(shade, 0, 255).astype(np.uint8)
    angle = rng.uniform(-2, 2)
    rot = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    page = cv2.warpAffine(page, rot, (width, height), borderValue=int(paper))
    if rng.random() < 0.5:
        page = cv2.GaussianBlur(page, (3, 3), 0.6)
    ok, buf = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 91))])
    if ok:
        page = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    cell_text = iter(text)
    per_cell = "".join(next(cell_text) if f else " " for f in filled)
    return CombSample(np.asarray(page, np.uint8), "".join(text), kind, n, pitch, pen, per_cell)


def generate_combs(
    n: int, images: NDArray[np.uint8], labels: Sequence[int] | NDArray[np.int64], *, seed: int = 0
) -> list[CombSample]:
    """Generate ``n`` comb fields from glyph images.

    Parameters
    ----------
    n : int
        Number of fields, >= 0.
    images : ndarray of uint8, shape (N, 28, 28)
        Upright glyphs, white on black (:func:`handocr.train.data.load_emnist`); EMNIST
        **test** images for evaluation.
    labels : array of int, shape (N,)
        Each image's class in :data:`handocr.labels.LABELS` order
        (:func:`handocr.train.data.to_label_space`); digits and capitals must be present.
    seed : int
        The same seed gives the same fields.

    Returns
    -------
    list of CombSample

    Raises
    ------
    ValueError
        A digit or capital letter has no image.
    """
    labels = np.asarray(labels, np.int64)
    pools = _by_class(labels, DIGITS + FIELD_LETTERS)
    missing = [c for c, idx in pools.items() if len(idx) == 0]
    if missing:
        raise ValueError(f"no glyph image for {''.join(missing)}")
    rng = np.random.default_rng(seed)
    return [_one(images, pools, rng) for _ in range(n)]
