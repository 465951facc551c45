"""Batched soft voting over the members' class probabilities."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from handocr.errors import ModelOutputError, WeightsError
from handocr.labels import NUM_CLASSES
from handocr.result import ModelInfo

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["Ensemble", "Member", "resolve_device"]

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is usable, else ``"cpu"``; others pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True, slots=True, eq=False)
class Member:
    """One classifier of the ensemble.

    Attributes
    ----------
    info : ModelInfo
        Name, tag and sha256 of its weights.
    net : torch.nn.Module
        Maps ``(N, 1, 28, 28)`` float32 to ``(N, 47)`` logits, in eval mode.
    mean, std : float
        Input normalisation ``(x - mean) / std``.
    temperature : float
        Logits are divided by it before the softmax (1.0 = none).
    """

    info: ModelInfo
    net: nn.Module
    mean: float = 0.0
    std: float = 1.0
    temperature: float = 1.0


class Ensemble:
    """Soft voting: the weighted mean of the members' softmax probabilities.

    Parameters
    ----------
    members : sequence of Member
        At least one; all share the 47-class label map (checked when their weights load).
    weights : sequence of float, optional
        Non-negative voting weights, one per member; default equal.
    device : str
        Torch device of the members.
    batch_size : int
        Crops per forward pass; peak memory grows linearly with it.

    Raises
    ------
    ValueError
        No members, or weights of the wrong length or sign.
    """

    def __init__(
        self,
        members: Sequence[Member],
        *,
        weights: Sequence[float] | None = None,
        device: str = "cpu",
        batch_size: int = 1024,
    ) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        w = np.ones(len(members)) if weights is None else np.asarray(weights, np.float64)
        if w.shape != (len(members),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"need {len(members)} non-negative voting weights, got {weights}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.members = tuple(members)
        self.weights = w / w.sum()
        self.device = device
        self.batch_size = batch_size

    @classmethod
    def from_names(
        cls, names: Sequence[str] | None = None, *, device: str = "auto", batch_size: int = 1024
    ) -> Ensemble:
        """Build an ensemble from shipped weights.

        Parameters
        ----------
        names : sequence of str, optional
            ``"arch"`` or ``"arch.tag"`` names; default the manifest's ``default_ensemble``.
        device : {"auto", "cpu", "cuda", "cuda:N"}
        batch_size : int

        Raises
        ------
        UnknownModelError
            A name is not registered.
        WeightsError
            Weights are missing, corrupt, or do not fit.
        """
        from handocr.models.registry import model_spec, split_name
        from handocr.models.weights import find_weights, load_weights, read_manifest

        dev = resolve_device(device)
        if names is None:
            names = list(read_manifest().get("default_ensemble", []))
            if not names:
                raise WeightsError("MANIFEST.json names no default_ensemble")
        members = []
        for name in names:
            arch, tag = split_name(name)
            net = model_spec(arch).build()
            path, sha = find_weights(arch, tag)
            info = load_weights(net, (path, sha))
            net = net.to(dev).eval()
            members.append(
                Member(
                    ModelInfo(arch, info.tag, sha or ""),
                    net,
                    info.mean,
                    info.std,
                    float(info.metrics.get("temperature", 1.0)),
                )
            )
        return cls(members, device=dev, batch_size=batch_size)

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        """Name, tag and sha256 of every member."""
        return tuple(m.info for m in self.members)

    def member_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Each member's class probabilities.

        Parameters
        ----------
        x : ndarray of float32, shape (N, 1, 28, 28)
            Crops from :func:`handocr.crops.to_model_input`, values in ``[0, 1]``.

        Returns
        -------
        ndarray of float32, shape (M, N, 47)
            Rows sum to 1; columns in :data:`handocr.labels.LABELS` order.

        Raises
        ------
        ValueError
            ``x`` has the wrong shape.
        ModelOutputError
            A member returned non-finite values or the wrong shape (named in the message).
        """
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"expected (N, 1, 28, 28) crops, got {x.shape}")
        out = np.zeros((len(self.members), len(x), NUM_CLASSES), np.float32)
        if len(x) == 0:
            return out
        import torch

        with torch.inference_mode():
            for i in range(0, len(x), self.batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[i : i + self.batch_size]))
                xb = xb.to(self.device)
                for k, m in enumerate(self.members):
                    out[k, i : i + len(xb)] = self._run(m, xb)
        return out

    @staticmethod
    def _run(m: Member, xb: torch.Tensor) -> NDArray[np.float32]:
        import torch

        inp = (xb - m.mean) / m.std if (m.mean, m.std) != (0.0, 1.0) else xb
        logits = m.net(inp)
        if tuple(logits.shape) != (len(xb), NUM_CLASSES):
            raise ModelOutputError(
                f"member {m.info.name} returned shape {tuple(logits.shape)}, "
                f"expected ({len(xb)}, {NUM_CLASSES})"
            )
        probs = torch.softmax(logits.float() / m.temperature, dim=1).cpu().numpy()
        if not np.isfinite(probs).all():
            raise ModelOutputError(f"member {m.info.name} returned non-finite probabilities")
        return probs

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Soft-vote class probabilities.

        Parameters
        ----------
        x : ndarray of float32, shape (N, 1, 28, 28)
            Values in ``[0, 1]``, ink 1.0.

        Returns
        -------
        ndarray of float32, shape (N, 47)
            Rows sum to 1; columns in :data:`handocr.labels.LABELS` order.

        Raises
        ------
        ValueError, ModelOutputError
            As :meth:`member_proba`.
        """
        per = self.member_proba(x)
        return np.tensordot(self.weights, per, axes=1).astype(np.float32)
