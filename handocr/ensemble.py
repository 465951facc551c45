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
    from torch import nn

    from handocr.runtime import OnnxNet

__all__ = [
    "CASCADE_MODES",
    "VOTING",
    "Ensemble",
    "Member",
    "cascade_combine",
    "combine_votes",
    "staged_combine",
    "fit_voting_weights",
    "low_margin",
    "parse_cascade",
    "resolve_device",
]

VOTING = ("weighted", "soft", "hard")
"""Voting rules: ``weighted`` (fitted weights; equal when none are stored), ``soft`` (equal
weights), ``hard`` (majority of the members' top-1 classes)."""

CASCADE_MODES = ("off", "auto", "fitted")
"""Named cascade settings of :meth:`Ensemble.from_names` (besides a margin)."""

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
    net : torch.nn.Module or handocr.runtime.OnnxNet
        Maps ``(N, 1, 28, 28)`` float32 to ``(N, 47)`` logits: a torch module in eval mode, or
        an ONNX Runtime session (numpy in, numpy out; no torch needed).
    mean, std : float
        Input normalisation ``(x - mean) / std``.
    temperature : float
        Logits are divided by it before the softmax (1.0 = none).
    """

    info: ModelInfo
    net: nn.Module | OnnxNet
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
    # einsum's own loop, not BLAS: OpenBLAS threads woken here would spin on the cores that
    # ONNX Runtime needs next (measured: single-member reads 40 % slower with tensordot)
    soft = np.einsum("m,mnc->nc", np.asarray(w, np.float64), per_member)
    if voting != "hard":
        return soft.astype(np.float32)
    top = per_member.argmax(2)  # (M, N)
    share = np.zeros_like(soft)
    rows = np.arange(per_member.shape[1])
    for k in range(m):
        share[rows, top[k]] += 1.0 / m
    return ((1 - HARD_TIE_WEIGHT) * share + HARD_TIE_WEIGHT * soft).astype(np.float32)


def low_margin(probs: NDArray[np.float32], margin: float) -> NDArray[np.bool_]:
    """Rows whose top-1 minus top-2 probability is below ``margin`` (the cascade's escalation).

    Parameters
    ----------
    probs : ndarray of float32, shape (N, C)
        Rows summing to 1.
    margin : float
        In [0, 1]; 0 escalates nothing, 1 everything but exact certainties.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    if len(probs) == 0:
        return np.zeros(0, bool)
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return np.asarray((top2.max(1) - top2.min(1)) < margin)


def cascade_combine(
    per_member: NDArray[np.float32],
    weights: NDArray[np.float64],
    voting: str,
    margin: float,
    first: int,
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Compute a cascade's output from every member's probabilities (for evaluation).

    Parameters
    ----------
    per_member : ndarray of float32, shape (M, N, C)
    weights : ndarray of float64, shape (M,)
    voting : {"weighted", "soft", "hard"}
    margin : float
        See :func:`low_margin`.
    first : int
        The member the cascade runs on every crop.

    Returns
    -------
    combined : ndarray of float32, shape (N, C)
        Member ``first``'s probabilities, and the vote of all members where it is unsure.
    escalated : ndarray of bool, shape (N,)
        The crops the other members had to see.
    """
    rest = tuple(k for k in range(per_member.shape[0]) if k != first)
    combined, reached = staged_combine(per_member, weights, voting, ((first,), rest), (margin,))
    return combined, reached[0]


def _subset_vote(
    per_member: NDArray[np.float32], weights: NDArray[np.float64], voting: str, seen: list[int]
) -> NDArray[np.float32]:
    """Vote over the members in ``seen`` only (weights renormalised; one member: its own)."""
    if len(seen) == 1:
        return np.array(per_member[seen[0]], np.float32, copy=True)
    w = weights[seen]
    w = w / w.sum() if w.sum() > 0 else np.full(len(seen), 1.0 / len(seen))
    return combine_votes(per_member[seen], w, voting)


def staged_combine(
    per_member: NDArray[np.float32],
    weights: NDArray[np.float64],
    voting: str,
    stages: Sequence[Sequence[int]],
    margins: Sequence[float],
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Compute a multistage cascade's output from every member's probabilities.

    Stage 0's members read every crop; where the vote so far has a margin
    (:func:`low_margin`) below ``margins[s - 1]``, stage ``s``'s members join and the vote is
    recomputed over every member seen so far (weights renormalised).

    Parameters
    ----------
    per_member : ndarray of float32, shape (M, N, C)
    weights : ndarray of float64, shape (M,)
    voting : {"weighted", "soft", "hard"}
    stages : sequence of sequence of int
        Member indices per stage; together each member once.
    margins : sequence of float
        One per stage after the first, in [0, 1].

    Returns
    -------
    combined : ndarray of float32, shape (N, C)
    reached : ndarray of bool, shape (S - 1, N)
        ``reached[s - 1]``: the crops that stage ``s`` had to read.

    Raises
    ------
    ValueError
        ``margins`` does not have one value per later stage.
    """
    if len(margins) != len(stages) - 1:
        raise ValueError(f"{len(stages)} stages need {len(stages) - 1} margins")
    seen = list(stages[0])
    combined = _subset_vote(per_member, weights, voting, seen)
    n = per_member.shape[1]
    reached = np.zeros((len(margins), n), bool)
    active = np.arange(n)
    for s, margin in enumerate(margins):
        active = active[low_margin(combined[active], margin)]
        if len(active) == 0:
            break
        reached[s, active] = True
        seen += list(stages[s + 1])
        combined[active] = _subset_vote(per_member[:, active], weights, voting, seen)
    return combined, reached


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
        Torch device of the torch members (ONNX Runtime members run on the CPU).
    batch_size : int
        Crops per forward pass; peak memory grows linearly with it.
    cascade : float, optional
        Run member ``cascade_first`` on every crop and the other members only on crops where
        its probability margin (top-1 minus top-2, in [0, 1]) is below this value; the other
        crops keep that member's probabilities. ``None`` (default): every member sees every
        crop. ``0`` = that member alone, ``1`` = the full ensemble.
    cascade_first : int, default 0
        Index of the member the cascade runs first (the cheapest one).
    cascade_stages : sequence of sequence of int, optional
        A multistage cascade instead (:func:`staged_combine`): member indices per stage, with
        ``cascade_margins`` (one per later stage). Overrides ``cascade``/``cascade_first``,
        which then report its first stage.
    cascade_margins : sequence of float, optional

    Raises
    ------
    ValueError
        No members, weights of the wrong length or sign, or a cascade outside [0, 1] or with
        an index out of range.
    """

    def __init__(
        self,
        members: Sequence[Member],
        *,
        weights: Sequence[float] | None = None,
        voting: str = "weighted",
        device: str = "cpu",
        batch_size: int = 1024,
        cascade: float | None = None,
        cascade_first: int = 0,
        cascade_stages: Sequence[Sequence[int]] | None = None,
        cascade_margins: Sequence[float] = (),
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
        if cascade is not None and not 0.0 <= cascade <= 1.0:
            raise ValueError(f"cascade margin must be in [0, 1], got {cascade}")
        if not 0 <= cascade_first < len(members):
            raise ValueError(f"cascade_first {cascade_first} is not a member index")
        self.members = tuple(members)
        self.weights = w / w.sum()
        self.voting = voting
        self.device = device
        self.batch_size = batch_size
        if cascade_stages is not None:
            flat = sorted(k for stage in cascade_stages for k in stage)
            if flat != list(range(len(members))) or len(cascade_margins) != len(cascade_stages) - 1:
                raise ValueError("cascade stages must hold every member once, one margin per stage")
            if not all(0.0 <= m <= 1.0 for m in cascade_margins):
                raise ValueError(f"cascade margins must be in [0, 1], got {cascade_margins}")
            cascade, cascade_first = float(cascade_margins[0]), int(cascade_stages[0][0])
            stages = tuple(tuple(int(k) for k in st) for st in cascade_stages)
            margins = tuple(float(m) for m in cascade_margins)
        elif cascade is not None:
            rest = tuple(k for k in range(len(members)) if k != cascade_first)
            stages, margins = ((cascade_first,), rest), (float(cascade),)
        else:
            stages, margins = (tuple(range(len(members))),), ()
        self.cascade = cascade
        self.cascade_first = cascade_first
        self.cascade_stages: tuple[tuple[int, ...], ...] = stages
        self.cascade_margins: tuple[float, ...] = margins

    @classmethod
    def from_names(
        cls,
        names: Sequence[str] | None = None,
        *,
        voting: str = "weighted",
        device: str = "auto",
        batch_size: int = 1024,
        backend: str = "auto",
        cascade: str | float = "off",
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
            ``auto``: a GPU when torch sees one, else the CPU.
        batch_size : int
        backend : {"auto", "onnx", "torch"}
            ``onnx`` runs the members' exported graphs in ONNX Runtime on the CPU (no torch
            import); ``auto`` picks it when the device is the CPU (``auto`` counts as CPU on a
            machine without an NVIDIA driver), onnxruntime is installed and every member has a
            graph; else torch.
        cascade : {"off", "auto", "fitted"} or float
            ``off``: every member sees every crop. ``fitted``: the manifest's ``cascade``
            (its stages and margins, fitted by ``handocr fit-ensemble``), which must cover
            exactly these members; ``auto``: that cascade when there is one, else off. A
            number: that margin (see :class:`Ensemble`), starting with the fitted first
            member, or the first of ``names``.

        Raises
        ------
        UnknownModelError
            A name is not registered.
        WeightsError
            Weights or graphs are missing, corrupt, or do not fit; ``backend="onnx"`` without
            onnxruntime or without a graph for a member; ``cascade="fitted"`` without a fitted
            cascade for these members.
        ValueError
            Unknown ``backend`` or ``cascade``.
        """
        from handocr.models.registry import split_name
        from handocr.models.weights import read_manifest
        from handocr.runtime import BACKENDS

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        manifest = read_manifest()
        if names is None:
            names = list(manifest.get("default_ensemble", []))
            if not names:
                raise WeightsError("MANIFEST.json names no default_ensemble")
        pairs = [split_name(n) for n in names]
        use_onnx = backend == "onnx" or (backend == "auto" and _onnx_usable(pairs, device))
        dev = "cpu" if use_onnx else resolve_device(device)
        members = [
            _onnx_member(arch, tag) if use_onnx else _torch_member(arch, tag, dev)
            for arch, tag in pairs
        ]
        fitted = manifest.get("voting_weights", {})
        full = [m.info.key for m in members]
        weights = None
        if voting == "weighted" and set(fitted) == set(full) and len(full) == len(set(full)):
            weights = [float(fitted[n]) for n in full]
        elif voting == "weighted" and len(members) > 1:
            log.info("no fitted voting weights for %s; voting with equal weights", full)
        return cls(
            members,
            weights=weights,
            voting=voting,
            device=dev,
            batch_size=batch_size,
            **_cascade_of(manifest, full, cascade),
        )

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        """Name, tag and sha256 of every member."""
        return tuple(m.info for m in self.members)

    @property
    def backend(self) -> str:
        """``"onnx"`` when every member runs in ONNX Runtime, ``"torch"`` otherwise."""
        from handocr.runtime import OnnxNet

        return "onnx" if all(isinstance(m.net, OnnxNet) for m in self.members) else "torch"

    def member_proba(
        self, x: NDArray[np.float32], members: Sequence[int] | None = None
    ) -> NDArray[np.float32]:
        """Each member's class probabilities.

        Parameters
        ----------
        x : ndarray of float32, shape (N, 1, 28, 28)
            Crops from :func:`handocr.crops.to_model_input`, values in ``[0, 1]``.
        members : sequence of int, optional
            Indices of the members to run (default all); the others' rows are NaN.

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
        run = range(len(self.members)) if members is None else members
        fill = 0.0 if members is None else np.nan
        out = np.full((len(self.members), len(x), NUM_CLASSES), fill, np.float32)
        if len(x) == 0:
            return out
        x = np.ascontiguousarray(x, np.float32)
        for i in range(0, len(x), self.batch_size):
            xb = x[i : i + self.batch_size]
            for k in run:
                out[k, i : i + len(xb)] = self._run(self.members[k], xb)
        return out

    def _run(self, m: Member, xb: NDArray[np.float32]) -> NDArray[np.float32]:
        """One member's temperature-scaled probabilities of one batch."""
        from handocr.runtime import OnnxNet

        inp = (xb - m.mean) / m.std if (m.mean, m.std) != (0.0, 1.0) else xb
        if isinstance(m.net, OnnxNet):
            logits = m.net(inp.astype(np.float32, copy=False))
        else:
            import torch

            with torch.inference_mode():
                t = m.net(torch.from_numpy(np.ascontiguousarray(inp)).to(self.device))
                logits = t.float().cpu().numpy() if isinstance(t, torch.Tensor) else t
        if tuple(logits.shape) != (len(xb), NUM_CLASSES):
            raise ModelOutputError(
                f"member {m.info.name} returned shape {tuple(logits.shape)}, "
                f"expected ({len(xb)}, {NUM_CLASSES})"
            )
        z = logits.astype(np.float64) / m.temperature
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        probs = (e / e.sum(1, keepdims=True)).astype(np.float32)
        if not np.isfinite(probs).all():
            raise ModelOutputError(f"member {m.info.name} returned non-finite probabilities")
        return probs

    def vote(self, x: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Return the combined probabilities and every member's own, from one batched pass.

        With a cascade (:attr:`cascade_stages`), the members of each later stage run only on
        the crops whose vote so far has a margin below that stage's; their rows of
        ``per_member`` are NaN elsewhere.

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
        if self.cascade is None or len(self.members) == 1:
            per = self.member_proba(x)
            return combine_votes(per, self.weights, self.voting), per
        stages = self.cascade_stages
        seen = list(stages[0])
        per = self.member_proba(x, seen)
        combined = _subset_vote(per, self.weights, self.voting, seen)
        active = np.arange(len(x))
        for s, margin in enumerate(self.cascade_margins):
            active = active[low_margin(combined[active], margin)]
            if len(active) == 0:
                break
            sub = self.member_proba(x[active], list(stages[s + 1]))
            for k in stages[s + 1]:
                per[k, active] = sub[k]
            seen += list(stages[s + 1])
            combined[active] = _subset_vote(per[:, active], self.weights, self.voting, seen)
        return combined, per

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Voted class probabilities (:attr:`voting` rule, :attr:`cascade` if set).

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


def parse_cascade(cascade: str | float) -> str | float:
    """Validate a cascade setting: one of :data:`CASCADE_MODES`, or a margin (number or text).

    Returns
    -------
    str or float
        The mode, or the margin as a float in [0, 1].

    Raises
    ------
    ValueError
        Neither a mode nor a number in [0, 1].
    """
    if isinstance(cascade, str):
        if cascade in CASCADE_MODES:
            return cascade
        try:
            cascade = float(cascade)
        except ValueError:
            raise ValueError(
                f"cascade must be one of {', '.join(CASCADE_MODES)} or a margin in [0, 1], "
                f"not {cascade!r}"
            ) from None
    if not 0.0 <= cascade <= 1.0:
        raise ValueError(f"cascade margin must be in [0, 1], got {cascade}")
    return float(cascade)


def _cascade_of(
    manifest: dict[str, Any], members: list[str], cascade: str | float
) -> dict[str, Any]:
    """Resolve a cascade setting to :class:`Ensemble` keyword arguments."""
    fit = manifest.get("cascade") or {}
    fitted = set(fit.get("members", [])) == set(members) and fit.get("first") in members
    first = members.index(fit["first"]) if fitted else 0
    cascade = parse_cascade(cascade)
    if cascade == "off" or len(members) == 1:
        return {}
    if cascade in ("auto", "fitted"):
        if not fitted:
            if cascade == "fitted":
                raise WeightsError(f"MANIFEST.json has no fitted cascade for {members}")
            return {}
        if fit.get("stages"):
            stages = [[members.index(n) for n in stage] for stage in fit["stages"]]
            return {"cascade_stages": stages, "cascade_margins": list(fit["margins"])}
        return {"cascade": float(fit["margin"]), "cascade_first": first}
    return {"cascade": float(cascade), "cascade_first": first}


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver is loaded (Linux), checked without importing torch."""
    from pathlib import Path

    return Path("/proc/driver/nvidia/version").exists()


def _onnx_usable(pairs: Sequence[tuple[str, str | None]], device: str) -> bool:
    """Whether ``backend="auto"`` should run these members in ONNX Runtime."""
    from handocr.models.weights import find_graph
    from handocr.runtime import onnxruntime_available

    if device != "cpu" and not (device == "auto" and not _nvidia_driver()):
        return False
    try:
        return onnxruntime_available() and all(find_graph(a, t) is not None for a, t in pairs)
    except WeightsError:  # e.g. a name without shipped weights: torch reports it properly
        return False


def _torch_member(arch: str, tag: str | None, device: str) -> Member:
    """Load a member for the torch backend."""
    from handocr.models.registry import model_spec
    from handocr.models.weights import find_weights, load_weights

    net = model_spec(arch).build()
    path, sha = find_weights(arch, tag)
    info = load_weights(net, (path, sha))
    net = net.to(device).eval()
    temperature = float(info.metrics.get("temperature", 1.0))
    return Member(ModelInfo(arch, info.tag, sha or ""), net, info.mean, info.std, temperature)


def _onnx_member(arch: str, tag: str | None) -> Member:
    """Load a member for ONNX Runtime; its graph and weights are checked by sha256 first."""
    from handocr.models.weights import file_sha256, find_graph, find_weights, read_weights_info
    from handocr.runtime import OnnxNet

    path, sha = find_weights(arch, tag)
    info = read_weights_info(path, sha)
    graph = find_graph(arch, tag)
    if graph is None:
        raise WeightsError(
            f"{path.name} has no ONNX graph (run `handocr export-onnx {info.name} --write`, "
            "or use --backend torch)"
        )
    gpath, gsha = graph
    if not gpath.is_file() or file_sha256(gpath) != gsha:
        raise WeightsError(f"{gpath.name}: missing, or sha256 mismatch (corrupt or replaced)")
    temperature = float(info.metrics.get("temperature", 1.0))
    return Member(
        ModelInfo(arch, info.tag, sha or ""), OnnxNet(gpath), info.mean, info.std, temperature
    )
