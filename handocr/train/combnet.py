"""Train the comb-cell network (:mod:`handocr.comb_net`) on generated comb fields.

Fields come from :func:`handocr.train.combs.generate_combs` with EMNIST **train** glyphs (the
benchmark's fields use the test glyphs). Each is found and levelled as reading does
(:func:`handocr.preprocess.level_page`, :func:`handocr.segment.comb.find_combs` on the ink
before ruled-line removal, with the gray levels); a field whose comb is not found with its
cell count is skipped, and every filled cell gives a window (:func:`handocr.comb_net.cell_window`)
labelled with its character. The network is handocr's custom CNN fine-tuned from the shipped
member's weights (``cnn.emnist47-v4``): the windows are new, the glyphs are not. The exported
graph takes the window in ``[0, 1]`` and returns probabilities (the member's input
normalisation inside).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.labels import LABELS
from handocr.train.loop import export_small, mean_of, train_small

if TYPE_CHECKING:
    from handocr.train.combs import CombSample

__all__ = ["WEIGHTS", "choose_weight", "comb_windows", "train_comb_net"]

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""The soft-voting weights :func:`choose_weight` tries."""


def comb_windows(
    samples: Sequence[CombSample],
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int64], int]:
    """Windows of the filled cells of generated comb fields, found as reading finds them.

    Returns
    -------
    (windows, labels, field, skipped)
        ``windows`` float32 ``(N, 28, 28)`` (:func:`handocr.comb_net.cell_window`), ``labels``
        int64 ``(N,)`` in :data:`handocr.labels.LABELS` order, ``field`` int64 ``(N,)`` the
        index of each window's sample, and the number of samples skipped (comb not found, or
        found with another cell count).
    """
    from handocr.comb_net import cell_window
    from handocr.preprocess import ink_map, level_page
    from handocr.segment.comb import find_combs

    wins: list[NDArray[np.float32]] = []
    labels: list[int] = []
    field: list[int] = []
    skipped = 0
    for n, s in enumerate(samples):
        lev = level_page(s.image)
        gray = lev.gray if lev.gray is not None else 255 - lev.ink
        combs = find_combs(ink_map(gray, remove_lines=False), gray=gray)
        if len(combs) != 1 or len(combs[0].cells) != s.cells:
            skipped += 1
            continue
        for j, ch in enumerate(s.cell_text):
            if ch != " ":
                wins.append(cell_window(combs[0], j))
                labels.append(LABELS.index(ch))
                field.append(n)
    x = np.stack(wins) if wins else np.zeros((0, 28, 28), np.float32)
    return x, np.asarray(labels, np.int64), np.asarray(field, np.int64), skipped


def choose_weight(
    ensemble: NDArray[np.float32],
    net: NDArray[np.float32],
    labels: NDArray[np.int64],
    restrict: Callable[[NDArray[np.float32]], NDArray[np.float32]] | None = None,
    grid: Sequence[float] = WEIGHTS,
) -> tuple[float, dict[str, float]]:
    """Pick the soft-voting weight of the network that reads the most cells right.

    Parameters
    ----------
    ensemble, net : ndarray of float32, shape (N, 47)
        The character ensemble's vote on each cell's piece and the network's on its window.
    labels : ndarray of int64, shape (N,)
    restrict : callable, optional
        Applied to the mixed ``(N, 47)`` probabilities before the argmax: each cell's field's
        charset, as a user who knows the form passes it
        (:meth:`handocr.labels.Charset.restrict`).
    grid : sequence of float
        Weights tried, in ``[0, 1]``.

    Returns
    -------
    (weight, accuracy by weight)
        The smallest weight of the best accuracy, and each weight's accuracy.
    """
    scores = {}
    for w in grid:
        p = np.asarray((1 - w) * ensemble + w * net, np.float32)
        p = restrict(p) if restrict is not None else p
        scores[f"{w:.1f}"] = float((p.argmax(1) == labels).mean())
    best = max(scores.values())
    return min(float(k) for k, v in scores.items() if v == best), scores


def _normaliser(mean: float, std: float) -> Callable[[Any], Any]:
    """Return the member's input normalisation, ``(x - mean) / std``."""
    return lambda xb: (xb - mean) / std


def _exported(net: Any, mean: float, std: float) -> Any:
    """Wrap the member: input in ``[0, 1]``, output probabilities."""
    from torch import nn

    class Probs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            return self.net((x - mean) / std).softmax(1)

    return Probs()


def train_comb_net(
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    out: Path,
    init: tuple[Path, str | None],
    *,
    epochs: int = 4,
    batch: int = 128,
    lr: float = 1e-3,
    seeds: Sequence[int] = (0,),
    progress: Callable[[int, float], None] | None = None,
) -> Path:
    """Fine-tune the custom CNN on cell windows and write it as ONNX to ``out``.

    Parameters
    ----------
    x : ndarray of float32, shape (N, 28, 28)
        Windows from :func:`comb_windows`, in ``[0, 1]``.
    y : ndarray of int64, shape (N,)
        Labels in :data:`handocr.labels.LABELS` order.
    out : Path
        The ``.onnx`` file written (weights inside; input ``(N, 1, 28, 28)``, output
        ``(N, 47)`` probabilities).
    init : (Path, str or None)
        The ``cnn`` member's safetensors file and its sha256 (checked when given).
    epochs, batch : int
    lr : float
        Peak learning rate of the one-cycle schedule (AdamW).
    seeds : sequence of int
        One network per seed (its batch order, gains and dropout); the graph written averages
        their probabilities.
    progress : callable, optional
        ``progress(epoch, mean_loss)`` after each epoch of each network.

    Returns
    -------
    Path
        ``out``.
    """
    import torch
    from torch import nn

    from handocr.models.cnn import CharCNN
    from handocr.models.weights import load_weights

    nets = []
    for seed in seeds:
        torch.manual_seed(seed)
        net = CharCNN()
        info = load_weights(net, init)
        mean, std = float(info.mean), float(info.std)
        train_small(
            net,
            x[:, None],
            np.asarray(y, np.int64),
            nn.CrossEntropyLoss(label_smoothing=0.05),
            epochs=epochs,
            batch=batch,
            lr=lr,
            max_lr=lr,
            seed=seed,
            gain=(0.7, 0.5),
            pct_start=0.15,
            prep=_normaliser(mean, std),
            progress=progress,
        )
        nets.append(_exported(net.eval(), mean, std))
    model = nets[0] if len(nets) == 1 else mean_of(nets)
    return export_small(model, (1, 28, 28), out, "probs")
