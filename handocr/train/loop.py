"""The training loop and ONNX export of handocr's small networks (word kinds, comb cells).

Both train on arrays held in memory with AdamW and a one-cycle schedule, each batch's ink
scaled by a random gain (faint and strong ink alike), and ship as one ONNX graph (opset 17,
the batch axis dynamic) that ONNX Runtime runs without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["export_small", "mean_of", "train_small"]


def train_small(
    model: Any,
    x: NDArray[np.float32],
    y: NDArray[Any],
    loss_fn: Callable[[Any, Any], Any],
    *,
    epochs: int,
    batch: int,
    lr: float,
    max_lr: float,
    seed: int,
    gain: tuple[float, float] = (0.7, 0.6),
    pct_start: float = 0.3,
    prep: Callable[[Any], Any] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Any:
    """Train ``model`` in place on ``(x, y)``; return it.

    Parameters
    ----------
    model : torch.nn.Module
    x : ndarray of float32, shape (N, 1, H, W)
        Inputs in ``[0, 1]`` (ink 1).
    y : ndarray, shape (N,)
        Targets as ``loss_fn`` takes them (float32 for a logistic loss, int64 for classes).
    loss_fn : callable
        ``loss_fn(model output, targets)``, a scalar tensor.
    epochs, batch : int
    lr, max_lr : float
        AdamW's learning rate (weight decay 1e-4) and the one-cycle schedule's peak.
    seed : int
        Seeds the batch order and the gains (the caller seeds the initialisation).
    gain : (float, float)
        Each sample's ink is multiplied by ``gain[0] + gain[1] * U(0, 1)``, capped at 1.
    pct_start : float
        Share of the steps spent raising the learning rate.
    prep : callable, optional
        Applied to each batch after the gain (e.g. a member's input normalisation).
    progress : callable, optional
        ``progress(epoch, mean_loss)`` after each epoch.
    """
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps=steps, pct_start=pct_start)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y))
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(xt), batch):
            idx = order[start : start + batch]
            scale = gain[0] + gain[1] * torch.rand(len(idx), 1, 1, 1, generator=gen)
            xb = (xt[idx] * scale).clamp(max=1.0)  # faint and strong ink alike
            loss = loss_fn(model(prep(xb) if prep is not None else xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if progress is not None:
            progress(epoch, total / len(xt))
    return model


def export_small(model: Any, shape: tuple[int, int, int], out: Path, output: str) -> Path:
    """Write ``model`` (in eval mode) as ONNX: input ``x`` ``(N, *shape)``, output ``output``."""
    import torch

    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, *shape),),
        str(out),
        input_names=["x"],
        output_names=[output],
        dynamic_axes={"x": {0: "n"}, output: {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    return out


def mean_of(models: Any) -> Any:
    """Return one module averaging several networks' outputs (one exported graph)."""
    from torch import nn

    class Mean(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = nn.ModuleList(models)

        def forward(self, x: Any) -> Any:
            return sum(m(x) for m in self.members) / len(self.members)

    return Mean()
