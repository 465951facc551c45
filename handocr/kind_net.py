"""A small CNN's view of each word: printed or handwritten from the word's pixels.

The hand-made evidence of :mod:`handocr.kind` (box regularity, stroke width, the members'
agreement) cannot tell a handwritten name in spaced capitals from a printed caption, nor a
handwritten digit field from a printed prompt, both at once (measured in docs/results.md). A
convolutional network looking at the word's gray pixels can: the texture of a pen's stroke
against a printer's. :func:`word_crops` cuts and normalises each word; :class:`KindNet` runs
the network (ONNX Runtime, ``weights/kindnet.onnx``, trained by
:mod:`handocr.train.kindnet` on generated pages and the train splits only) and gives the
log-odds that each word is printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box, Page

__all__ = ["CROP_H", "CROP_W", "KindNet", "normalise_word", "word_crops"]

CROP_H = 32
"""Height of a word crop as the network sees it, pixels."""

CROP_W = 128
"""Width of a word crop as the network sees it (longer words are squeezed, shorter padded)."""

MARGIN = 0.15
"""Margin around a word's box, in its heights, kept in the crop."""

RULE_SHARE = 0.9
"""A row (column) of a word crop whose ink covers this share of its width (height) is a form
line passing by, not the word's, and is erased before the network looks: the Kaggle names
forms it learns from have their handwriting on and beside form lines, and the network would
otherwise take any nearby line for a sign of handwriting (the NIST form's printed prompts sit
on the top rules of their boxes)."""


def normalise_word(crop: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Return a gray word crop as the network's input: ink darkness, ``(CROP_H, CROP_W)``.

    Paper (the crop's 80th percentile of gray) maps to 0, ink (its 2nd percentile) to 1; rows
    and columns filled with ink (:data:`RULE_SHARE`: form lines) are erased; the crop is scaled
    to :data:`CROP_H` rows keeping its aspect, squeezed to :data:`CROP_W` when longer, and
    padded with paper on the right.

    Parameters
    ----------
    crop : ndarray of uint8, shape (h, w)
        Gray, 0 = black (dark ink on light paper); any ``h, w >= 1``.

    Returns
    -------
    ndarray of float32, shape (CROP_H, CROP_W), values in [0, 1]
    """
    import cv2

    out = np.zeros((CROP_H, CROP_W), np.float32)
    if crop.size == 0:
        return out
    g = crop.astype(np.float32)
    paper, ink = np.percentile(g, 80), np.percentile(g, 2)
    dark = np.clip((paper - g) / max(float(paper - ink), 16.0), 0.0, 1.0)
    on = dark > 0.5  # form lines through the crop (a field's rule under a caption) are not
    rows = on.mean(axis=1) >= RULE_SHARE  # the word: rows and columns they fill go to paper
    cols = on.mean(axis=0) >= RULE_SHARE
    dark[rows] = 0.0
    dark[:, cols] = 0.0
    h, w = dark.shape
    nw = max(1, min(CROP_W, round(w * CROP_H / h)))
    out[:, :nw] = cv2.resize(dark, (nw, CROP_H), interpolation=cv2.INTER_AREA)
    return out


def word_box_crop(gray: NDArray[np.uint8], box: Box) -> NDArray[np.uint8]:
    """Return the word's pixels with a margin of :data:`MARGIN` heights, clipped to the page."""
    m = round(MARGIN * box.height)
    height, width = gray.shape
    return gray[
        max(box.y0 - m, 0) : min(box.y1 + m, height), max(box.x0 - m, 0) : min(box.x1 + m, width)
    ]


def word_crops(page: Page, gray: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Return every word of ``page`` (reading order) as the network's input.

    Parameters
    ----------
    page : Page
        Boxes in ``gray``'s pixels.
    gray : ndarray of uint8, shape (H, W)
        The input page, 0 = black.

    Returns
    -------
    ndarray of float32, shape (N_words, 1, CROP_H, CROP_W)
    """
    crops = [normalise_word(word_box_crop(gray, w.box)) for line in page.lines for w in line.words]
    if not crops:
        return np.zeros((0, 1, CROP_H, CROP_W), np.float32)
    return np.stack(crops)[:, None]


class KindNet:
    """The word-kind network in ONNX Runtime: log-odds of printed per word crop.

    Parameters
    ----------
    graph : Path
        The ``.onnx`` file (input ``(N, 1, CROP_H, CROP_W)`` float32, output ``(N,)`` or
        ``(N, 1)`` log-odds).
    """

    def __init__(self, graph: Path) -> None:
        from handocr.models.runtime import onnx_session

        self.session: Any = onnx_session(graph)
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, crops: NDArray[np.float32], batch: int = 256) -> NDArray[np.float64]:
        """Return the log-odds of printed of each crop, shape ``(N,)``."""
        out = []
        for start in range(0, len(crops), batch):
            part = np.ascontiguousarray(crops[start : start + batch], np.float32)
            out.append(np.asarray(self.session.run(None, {self.input_name: part})[0]).reshape(-1))
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0, np.float64)
