"""Batches of line images for the CTC line member, and reading and scoring them.

Every training batch is drawn afresh (:func:`draw_batch`): synthetic EMNIST lines
(:class:`handocr.train.lines.SynthLines`) and, for a share of it, real lines lightly augmented
(:func:`augment_real`); :func:`to_batch` stacks them into network input. Held-out lines are
read by greedy decoding (:func:`read_lines`) and scored by the page sets' CER rule
(:func:`score`). Training is :mod:`handocr.train.linefit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.models.crnn import LINE_HEIGHT, frames, greedy_decode
from handocr.train.lines import LineSet, SynthLines

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "CHUNK",
    "augment_real",
    "chunks",
    "draw_batch",
    "read_lines",
    "score",
    "selection_cer",
    "to_batch",
    "validate",
]

CHUNK = 8
"""Lines per forward pass inside a training batch: sorted by width, so little is padding."""


def augment_real(rng: np.random.Generator, img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Light jitter of a real line: width, side margins, contrast, blur, JPEG."""
    import cv2

    h, w = img.shape
    w2 = max(4, round(w * rng.uniform(0.8, 1.2)))
    out: Any = cv2.resize(img, (w2, h), interpolation=cv2.INTER_LINEAR)
    paper = int(np.median(np.concatenate([out[:, :2].ravel(), out[:, -2:].ravel()])))
    left, right = int(rng.integers(0, 7)), int(rng.integers(0, 7))
    if left or right:
        out = cv2.copyMakeBorder(out, 0, 0, left, right, cv2.BORDER_CONSTANT, value=paper)
    a, b = rng.uniform(0.8, 1.15), rng.uniform(-20, 20)
    f: Any = out.astype(np.float32) * a + b
    if rng.random() < 0.2:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.4, 1.0))
    out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 96))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return np.ascontiguousarray(out)


def to_batch(
    images: list[NDArray[np.uint8]], extra_px: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Stack ``(32, W_i)`` gray lines into ``(N, 1, 32, max W_i + extra_px)`` network input.

    Pixels are ``(255 - gray) / 255``, right-padded with 0. Also returns each line's frame
    count ``ceil(W_i / 4)``.
    """
    width = max(im.shape[1] for im in images) + extra_px
    x = np.zeros((len(images), 1, LINE_HEIGHT, width), np.float32)
    for i, im in enumerate(images):
        x[i, 0, :, : im.shape[1]] = (255.0 - im.astype(np.float32)) / 255.0
    return x, np.array([frames(im.shape[1]) for im in images], np.int64)


def draw_batch(
    rng: np.random.Generator,
    n: int,
    synth: SynthLines | None,
    real: LineSet,
    real_share: float,
) -> tuple[list[NDArray[np.uint8]], list[str]]:
    """Draw one training batch: real lines for a binomial share, synthetic lines for the rest.

    Parameters
    ----------
    rng : numpy.random.Generator
        Seeded per step, so a resumed run draws the same batches.
    n : int
        Lines in the batch.
    synth : SynthLines or None
        Synthetic lines; None: real lines only.
    real : LineSet
        Real training lines (augmented by :func:`augment_real`).
    real_share : float
        Expected share of real lines, in [0, 1].

    Returns
    -------
    (images, texts)
        ``n`` gray ``(32, W_i)`` uint8 lines and their texts.
    """
    n_real = int(rng.binomial(n, real_share)) if len(real) else 0
    if synth is None:
        n_real = n
    images, texts = [], []
    for k in rng.integers(0, max(1, len(real)), size=n_real):
        images.append(augment_real(rng, real.images[int(k)]))
        texts.append(real.texts[int(k)])
    while synth is not None and len(images) < n:
        img, text = synth.render(rng)
        images.append(img)
        texts.append(text)
    return images, texts


def chunks(widths: list[int], size: int) -> list[list[int]]:
    """Split line indices, sorted by width, into groups of ``size`` (little padding in each)."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    return [order[i : i + size] for i in range(0, len(order), size)]


def read_lines(net: nn.Module, images: list[NDArray[np.uint8]], *, chunk: int = 16) -> list[str]:
    """Greedy-decode ``(32, W)`` gray lines with a torch line member (in eval mode)."""
    import torch

    out: list[str] = [""] * len(images)
    net.eval()
    with torch.inference_mode():
        for idx in chunks([im.shape[1] for im in images], chunk):
            x, t = to_batch([images[i] for i in idx])
            lp = net(torch.from_numpy(x)).numpy()
            for j, i in enumerate(idx):
                out[i] = greedy_decode(lp[j], int(t[j]))
    return out


def score(truth: list[str], read: list[str], *, digits_only: bool = False) -> dict[str, float]:
    """CER and exact-match share by the page sets' rule (upper case, no whitespace).

    ``cer`` is the summed Levenshtein distance over the summed truth length (micro-average);
    with ``digits_only`` only digits are compared.
    """
    from rapidfuzz.distance import Levenshtein

    from handocr.evaluate import normalise_for_cer

    dist = length = exact = 0
    for ref_raw, hyp_raw in zip(truth, read, strict=True):
        ref = normalise_for_cer(ref_raw, digits_only=digits_only)
        hyp = normalise_for_cer(hyp_raw, digits_only=digits_only)
        dist += Levenshtein.distance(ref, hyp)
        length += len(ref)
        exact += ref == hyp
    n = max(1, len(truth))
    return {"cer": dist / max(1, length), "exact": exact / n, "lines": len(truth)}


def validate(net: nn.Module, sets: list[LineSet]) -> dict[str, dict[str, float]]:
    """Read and :func:`score` every non-empty held-out set, by name."""
    return {
        s.name: score(s.texts, read_lines(net, s.images), digits_only=s.digits_only)
        for s in sets
        if len(s)
    }


def selection_cer(val: dict[str, dict[str, float]]) -> float:
    """Return the CER that picks the best weights: the real held-out sets' mean, else synth."""
    real = [v["cer"] for k, v in val.items() if k != "synth"]
    if real:
        return float(np.mean(real))
    return float(val.get("synth", {"cer": 1.0})["cer"])
