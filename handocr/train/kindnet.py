"""Train the word-kind network (:mod:`handocr.kind_net`) on generated pages and train splits.

Data: the words of generated pages read by handocr (:func:`handocr.train.kind.read_kind_pages`:
DejaVu/Liberation printed text degraded like scans beside EMNIST-train and ORAND-train
handprint), labelled by the block they fall in (:func:`kind_page_crops`), and the words of the
Kaggle names **train** split (printed captions beside handwritten names), labelled weakly
(:func:`handocr.train.kindforms.read_caption_forms`). Both are cut as reading cuts them
(:func:`handocr.kind_net.word_crops`). Nothing comes from ``../shared/data/pages``.

The network: four 3x3 convolutions (16, 32, 64, 64 channels; batch norm, ReLU, 2x2 max pooling
after the first three), global max pooling and one linear unit, the log-odds of printed
(about 60 k weights); binary cross-entropy with the classes balanced, AdamW with a one-cycle
learning rate, random ink gain as augmentation. Several such networks trained from different
seeds are averaged (:func:`train_kind_net`); the average is exported to ONNX (opset 17) for
ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.kind_net import CROP_H, CROP_W, word_crops
from handocr.result import Page
from handocr.train.loop import export_small, mean_of, train_small

__all__ = ["choose_net_weight", "kind_page_crops", "train_kind_net"]


def kind_page_crops(read: Sequence[tuple[Any, Page]]) -> NDArray[np.float32]:
    """Return the network crops of the labelled words of generated pages as read.

    Shape ``(N, 1, CROP_H, CROP_W)``, one row per row of
    :func:`handocr.train.kind.kind_features` (same words, same order: its labels, pages and
    lines go with them).

    Parameters
    ----------
    read : sequence of (KindPage, Page)
        :func:`handocr.train.kind.read_kind_pages`.
    """
    from handocr.train.kind import labelled_words

    xs = [word_crops(page, kp.image)[keep] for _, kp, page, keep, _ in labelled_words(read)]
    if not xs:
        return np.zeros((0, 1, CROP_H, CROP_W), np.float32)
    return np.concatenate(xs).astype(np.float32)


def choose_net_weight(
    z_features: NDArray[np.float64],
    z_net: NDArray[np.float64],
    y: NDArray[np.int64],
    sets: NDArray[np.int64],
    grid: Sequence[float] = tuple(np.round(np.linspace(0.0, 1.0, 11), 2)),
) -> tuple[float, dict[float, float]]:
    """Choose the network's share of a word's log-odds on held-out words.

    The score of a share ``a`` is the balanced accuracy (mean of the two kinds' recalls) of
    ``(1 - a) * z_features + a * z_net > 0``, averaged over the held-out ``sets`` (e.g.
    generated pages and real forms, each counting once); the best share wins (the smaller on
    a tie).

    Returns
    -------
    (float, dict)
        The share, and every share's score.
    """
    scores: dict[float, float] = {}
    for a in grid:
        z = (1.0 - a) * z_features + a * z_net
        per_set = []
        for s in np.unique(sets):
            m = sets == s
            recalls = [
                float(((z[m] > 0) == bool(k))[y[m] == k].mean())
                for k in (0, 1)
                if (y[m] == k).any()
            ]
            per_set.append(float(np.mean(recalls)))
        scores[float(a)] = float(np.mean(per_set))
    best = max(scores, key=lambda a: (round(scores[a], 6), -a))
    return best, scores


def _network() -> Any:
    from torch import nn

    def block(cin: int, cout: int) -> list[Any]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, 16),
        nn.MaxPool2d(2),
        *block(16, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 1),
    )


def train_kind_net(
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    out: Path,
    *,
    epochs: int = 6,
    batch: int = 128,
    seeds: Sequence[int] = (0,),
    progress: Callable[[int, float], None] | None = None,
) -> Path:
    """Train the network on crops ``x`` with labels ``y`` and write it as ONNX to ``out``.

    With several ``seeds``, one network is trained per seed (its own initialisation and batch
    order) and the graph written averages their log-odds: an ensemble, whose answer varies
    less from one training run to the next than a single network's.

    Parameters
    ----------
    x : ndarray of float32, shape (N, 1, CROP_H, CROP_W)
    y : ndarray of int64, shape (N,)
        1 printed, 0 handwritten; both present.
    out : Path
        The ``.onnx`` file written (one file, weights inside).
    epochs, batch : int
    seeds : sequence of int
        One network per seed, at least one.
    progress : callable, optional
        ``progress(epoch, mean_loss)`` after each epoch of each network.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValueError
        ``y`` holds one class only, or no seed is given.
    """
    if len(set(y.tolist())) < 2:
        raise ValueError("the training words are all of one kind")
    if not seeds:
        raise ValueError("at least one seed")
    models = [
        _train_one(x, y, epochs=epochs, batch=batch, seed=s, progress=progress) for s in seeds
    ]
    model = models[0] if len(models) == 1 else mean_of(models)
    return export_small(model, (1, CROP_H, CROP_W), out, "logit")


def _train_one(
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    epochs: int,
    batch: int,
    seed: int,
    progress: Callable[[int, float], None] | None,
) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = _network()
    pos = float(y.mean())
    bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([(1 - pos) / pos]))
    return train_small(
        model,
        x,
        y.astype(np.float32),
        lambda out, target: bce(out.squeeze(1), target),
        epochs=epochs,
        batch=batch,
        lr=2e-3,
        max_lr=3e-3,
        seed=seed,
        progress=progress,
    )
