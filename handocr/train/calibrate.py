"""Temperature scaling of a member's logits on validation data (Guo et al. 2017).

One scalar ``T > 0`` divides the logits before the softmax; it is chosen to minimise the
class-balanced negative log-likelihood of the validation labels, so that a confidence of 0.9
means right about 9 times in 10. Balanced weights match the logit-adjusted training, whose
posteriors assume equally likely classes (pool47's test set is balanced).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from handocr.labels import NUM_CLASSES

__all__ = ["calibrate_temperature", "calibrate_weights", "evaluate_logits", "fit_temperature"]

log = logging.getLogger(__name__)


def _softmax(z: NDArray[np.float64]) -> NDArray[np.float64]:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    out: NDArray[np.float64] = e / e.sum(1, keepdims=True)
    return out


def fit_temperature(logits: NDArray[np.floating[Any]], labels: NDArray[np.int64]) -> float:
    """Return the temperature minimising the class-balanced NLL of ``labels``.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
    labels : ndarray of int64, shape (N,)

    Returns
    -------
    float
        ``T`` in ``[0.05, 20]``; 1.0 for empty input.
    """
    from scipy.optimize import minimize_scalar

    if len(labels) == 0:
        return 1.0
    z = logits.astype(np.float64)
    counts = np.bincount(labels, minlength=z.shape[1]).astype(np.float64)
    w = 1.0 / np.maximum(counts[labels], 1.0)
    w /= w.sum()
    rows = np.arange(len(labels))

    def nll(t: float) -> float:
        p = _softmax(z / t)[rows, labels]
        return float(-(w * np.log(np.maximum(p, 1e-12))).sum())

    res = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded")
    return float(res.x)


def calibrate_temperature(
    logits: NDArray[np.floating[Any]], labels: NDArray[np.int64]
) -> dict[str, float]:
    """Fit a temperature and report the validation ECE before and after.

    Returns
    -------
    dict
        ``temperature``, ``val_ece_raw`` and ``val_ece``: the 15-bin expected calibration error
        of the top-1 confidence on the given (validation) crops before and after scaling.
    """
    from handocr.train.metrics import expected_calibration_error

    t = fit_temperature(logits, labels)
    z = logits.astype(np.float64)
    raw = expected_calibration_error(_softmax(z), labels)
    cal = expected_calibration_error(_softmax(z / t), labels)
    log.info("temperature %.3f: validation ECE %.4f -> %.4f", t, raw, cal)
    return {"temperature": round(t, 5), "val_ece_raw": round(raw, 5), "val_ece": round(cal, 5)}


def calibrate_weights(
    path: Path, *, data: str | None = None, out: Path | None = None, device: str = "cpu"
) -> dict[str, float]:
    """Fit the temperature of an exported member on its own validation split and save it.

    The validation split is rebuilt from the training config stored in the file (split, seed,
    ``val_fraction``, ``max_train``), so it is exactly the one training held out.

    Parameters
    ----------
    path : Path
        A ``.safetensors`` file written by :func:`handocr.train.fit.fit`.
    data : str, optional
        EMNIST folder; default the one in the stored config, then ``HANDOCR_DATA``.
    out : Path, optional
        Where to write the calibrated file; default: replace ``path``.
    device : str

    Returns
    -------
    dict
        ``temperature``, ``val_ece_raw``, ``val_ece``.

    Raises
    ------
    WeightsError
        The file is unreadable or carries no training config.
    DataError
        The EMNIST data cannot be read.
    """
    import dataclasses

    import torch

    from handocr.errors import WeightsError
    from handocr.models.factory import model_spec
    from handocr.models.weights import load_weights, save_weights
    from handocr.train.config import TrainConfig
    from handocr.train.data import load_emnist, split_train_val, to_label_space

    probe = model_spec(path.name.split(".")[0]).build()
    info = load_weights(probe, path)
    try:
        cfg = TrainConfig(**info.train["config"])
    except (KeyError, TypeError) as err:
        raise WeightsError(f"{path.name}: no usable training config in its metadata") from err
    train = load_emnist(data or cfg.data, cfg.split, "train")
    images, labels, _, va = split_train_val((train.images, to_label_space(train)), cfg)
    logits = evaluate_logits(probe.to(device), images[va], device=torch.device(device))
    result = calibrate_temperature(logits, labels[va])
    new = dataclasses.replace(info, metrics={**info.metrics, **result})
    save_weights(probe.to("cpu"), out or path, new)
    return result


def to_float(images: NDArray[np.uint8], dev: torch.device) -> torch.Tensor:
    """Images ``(N, 28, 28)`` uint8 -> a ``(N, 1, 28, 28)`` float32 tensor in [0, 1] on ``dev``."""
    return torch.from_numpy(images).to(dev).unsqueeze(1).float().div_(255.0)


@torch.inference_mode()
def evaluate_logits(
    net: nn.Module, images: NDArray[np.uint8], *, device: torch.device, batch_size: int = 1024
) -> NDArray[np.float32]:
    """Run ``net`` in eval mode over upright uint8 images.

    Parameters
    ----------
    net : nn.Module
    images : ndarray of uint8, shape (N, 28, 28)
        White ink on black, upright.
    device : torch.device
    batch_size : int

    Returns
    -------
    ndarray of float32, shape (N, num_classes)
        Logits.
    """
    was_training = net.training
    net.eval()
    out = [
        net(to_float(images[i : i + batch_size], device)).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    net.train(was_training)
    if not out:
        return np.zeros((0, NUM_CLASSES), np.float32)
    return torch.cat(out).numpy()
