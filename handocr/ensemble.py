"""Batched voting over the members' class probabilities: weighted (fitted), soft, hard.

The members' logits are temperature-scaled first (Guo et al. 2017, "On calibration of modern
neural networks"); the voting weights are fitted on the validation split by minimising the
log-loss of the combined probabilities (:func:`fit_voting_weights`), the classic stacking
recipe for probability averaging.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import ModelOutputError, WeightsError
from handocr.labels import NUM_CLASSES
from handocr.result import ModelInfo

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["VOTING", "Ensemble", "Member", "combine_votes", "fit_voting_weights", "resolve_device"]

VOTING = ("weighted", "soft", "hard")
"""Voting rules: ``weighted`` (fitted weights; equal when none are stored), ``soft`` (equal
weights), ``hard`` (majority of the members' top-1 classes)."""

HARD_TIE_WEIGHT = 1e-3
"""Share of the soft vote mixed into a hard vote: breaks ties, keeps rows summing to 1."""

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


def combine_votes(
    per_member: NDArray[np.float32], weights: NDArray[np.float64], voting: str = "weighted"
) -> NDArray[np.float32]:
    """Combine the members' probabilities into one distribution per crop.

    Parameters
    ----------
    per_member : ndarray of float32, shape (M, N, C)
        Each member's (temperature-scaled) probabilities; rows sum to 1.
    weights : ndarray of float64, shape (M,)
        Non-negative, summing to 1; used by ``weighted`` (and to break ``hard`` ties).
    voting : {"weighted", "soft", "hard"}
        ``weighted``: ``sum_m w_m p_m``; ``soft``: the plain mean; ``hard``: each member votes
        for its top class, the result is the vote share mixed with
        :data:`HARD_TIE_WEIGHT` of the weighted vote, so ties go to the more probable class
        and the confidence is (almost) the share of members that agree.

    Returns
    -------
    ndarray of float32, shape (N, C)
        Rows sum to 1.

    Raises
    ------
    ValueError
        Unknown ``voting``.
    """
    if voting not in VOTING:
        raise ValueError(f"voting must be one of {', '.join(VOTING)}, not {voting!r}")
    m = per_member.shape[0]
    w = np.full(m, 1.0 / m) if voting == "soft" else weights
    soft = np.tensordot(w, per_member, axes=1)
    if voting != "hard":
        return soft.astype(np.float32)
    top = per_member.argmax(2)  # (M, N)
    share = np.zeros_like(soft)
    rows = np.arange(per_member.shape[1])
    for k in range(m):
        share[rows, top[k]] += 1.0 / m
    return ((1 - HARD_TIE_WEIGHT) * share + HARD_TIE_WEIGHT * soft).astype(np.float32)


def fit_voting_weights(
    per_member: NDArray[np.floating[Any]],
    labels: NDArray[np.int64],
    *,
    sample_weight: NDArray[np.floating[Any]] | None = None,
) -> NDArray[np.float64]:
    """Voting weights that minimise the log-loss of the weighted mean of probabilities.

    Parameters
    ----------
    per_member : ndarray, shape (M, N, C)
        Temperature-scaled member probabilities on held-out (validation) crops.
    labels : ndarray of int64, shape (N,)
    sample_weight : ndarray, shape (N,), optional
        Per-crop weights of the loss (e.g. inverse class frequency); default equal.

    Returns
    -------
    ndarray of float64, shape (M,)
        Non-negative, summing to 1 (a softmax parametrisation, optimised with L-BFGS).

    Raises
    ------
    ValueError
        Shapes disagree or there are no crops.
    """
    from scipy.optimize import minimize

    p = np.asarray(per_member, np.float64)
    if p.ndim != 3 or p.shape[1] != len(labels) or len(labels) == 0:
        raise ValueError(f"need (M, N, C) probabilities for N = {len(labels)} labels")
    p_true = p[:, np.arange(len(labels)), labels].T  # (N, M)
    sw = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    sw = sw / sw.sum()

    def loss(a: NDArray[np.float64]) -> float:
        w = np.exp(a - a.max())
        w /= w.sum()
        return float(-(sw * np.log(np.maximum(p_true @ w, 1e-12))).sum())

    res = minimize(loss, np.zeros(p.shape[0]), method="L-BFGS-B")
    w = np.exp(res.x - res.x.max())
    return np.asarray(w / w.sum(), np.float64)


class Ensemble:
    """Weighted, soft or hard voting over the members' temperature-scaled probabilities.

    Parameters
    ----------
    members : sequence of Member
        At least one; all share the 47-class label map (checked when their weights load).
    weights : sequence of float, optional
        Non-negative voting weights, one per member; default equal.
    voting : {"weighted", "soft", "hard"}, default "weighted"
        See :func:`combine_votes`.
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
        voting: str = "weighted",
        device: str = "cpu",
        batch_size: int = 1024,
    ) -> None:
        if voting not in VOTING:
            raise ValueError(f"voting must be one of {', '.join(VOTING)}, not {voting!r}")
        if not members:
            raise ValueError("an ensemble needs at least one member")
        w = np.ones(len(members)) if weights is None else np.asarray(weights, np.float64)
        if w.shape != (len(members),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"need {len(members)} non-negative voting weights, got {weights}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.members = tuple(members)
        self.weights = w / w.sum()
        self.voting = voting
        self.device = device
        self.batch_size = batch_size

    @classmethod
    def from_names(
        cls,
        names: Sequence[str] | None = None,
        *,
        voting: str = "weighted",
        device: str = "auto",
        batch_size: int = 1024,
    ) -> Ensemble:
        """Build an ensemble from shipped weights.

        Parameters
        ----------
        names : sequence of str, optional
            ``"arch"`` or ``"arch.tag"`` names; default the manifest's ``default_ensemble``.
        voting : {"weighted", "soft", "hard"}
            ``weighted`` uses the manifest's ``voting_weights`` when they cover exactly these
            members, equal weights otherwise.
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
        manifest = read_manifest()
        if names is None:
            names = list(manifest.get("default_ensemble", []))
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
        fitted = manifest.get("voting_weights", {})
        full = [m.info.key for m in members]
        weights = None
        if voting == "weighted" and set(fitted) == set(full) and len(full) == len(set(full)):
            weights = [float(fitted[n]) for n in full]
        elif voting == "weighted" and len(members) > 1:
            log.info("no fitted voting weights for %s; voting with equal weights", full)
        return cls(members, weights=weights, voting=voting, device=dev, batch_size=batch_size)

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

    def vote(self, x: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Return the combined probabilities and every member's own, from one batched pass.

        Parameters
        ----------
        x : ndarray of float32, shape (N, 1, 28, 28)

        Returns
        -------
        combined : ndarray of float32, shape (N, 47)
        per_member : ndarray of float32, shape (M, N, 47)

        Raises
        ------
        ValueError, ModelOutputError
            As :meth:`member_proba`.
        """
        per = self.member_proba(x)
        return combine_votes(per, self.weights, self.voting), per

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Voted class probabilities (:attr:`voting` rule).

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
        return self.vote(x)[0]
