"""Batched voting over the members' class probabilities: weighted (fitted), soft, hard.

The members' logits are temperature-scaled first (Guo et al. 2017, "On calibration of modern
neural networks"); the voting weights are fitted on the validation split by minimising the
log-loss of the combined probabilities (:func:`handocr.train.ensemble.fit_voting_weights`), the
classic stacking recipe for probability averaging. A cascade (Kaynak and Alpaydin 2000) lets
cheap members read every crop and the others only where the vote so far is unsure; one loop,
:func:`_cascade`, serves both inference (:meth:`Ensemble.vote`, members run lazily) and
evaluation (:func:`staged_combine`, on precomputed probabilities).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.crops import INPUT_SHAPE
from handocr.errors import ModelOutputError, WeightsError
from handocr.labels import NUM_CLASSES
from handocr.models.config import VOTING, ModelConfig, parse_cascade
from handocr.models.loader import Member
from handocr.models.manifest import FittedCascade
from handocr.result import ModelInfo

__all__ = [
    "Ensemble",
    "Member",
    "cascade_combine",
    "combine_votes",
    "low_margin",
    "staged_combine",
]

HARD_TIE_WEIGHT = 1e-3
"""Share of the soft vote mixed into a hard vote: breaks ties, keeps rows summing to 1."""

log = logging.getLogger(__name__)


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

    def fetch(members: list[int], rows: NDArray[np.intp] | None) -> NDArray[np.float32]:
        return per_member[members] if rows is None else per_member[members][:, rows]

    combined, _, reached = _cascade(
        per_member.shape[1], per_member.shape[2], weights, voting, stages, margins, fetch
    )
    return combined, reached


Fetch = Callable[[list[int], "NDArray[np.intp] | None"], NDArray[np.float32]]
"""``fetch(members, rows)``: those members' probabilities of those crops (None: every crop),
shape ``(len(members), len(rows), C)``."""


def _cascade(
    n: int,
    n_classes: int,
    weights: NDArray[np.float64],
    voting: str,
    stages: Sequence[Sequence[int]],
    margins: Sequence[float],
    fetch: Fetch,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_]]:
    """Run the cascade loop: stage 0 reads every crop, later stages the low-margin ones.

    Returns the combined ``(n, C)`` probabilities, every member's ``(M, n, C)`` (NaN where a
    member did not read a crop) and ``reached``, ``(S - 1, n)``.
    """
    per = np.full((len(weights), n, n_classes), np.nan, np.float32)
    seen = list(stages[0])
    per[seen] = fetch(seen, None)
    combined = _subset_vote(per, weights, voting, seen)
    reached = np.zeros((len(margins), n), bool)
    active = np.arange(n)
    for s, margin in enumerate(margins):
        active = active[low_margin(combined[active], margin)]
        if len(active) == 0:
            break
        reached[s, active] = True
        joining = list(stages[s + 1])
        sub = fetch(joining, active)
        for i, k in enumerate(joining):
            per[k, active] = sub[i]
        seen += joining
        combined[active] = _subset_vote(per[:, active], weights, voting, seen)
    return combined, per, reached


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
    def from_config(cls, cfg: ModelConfig) -> Ensemble:
        """Build an ensemble from shipped weights, as a :class:`ModelConfig` says.

        ``cfg.models`` (default the manifest's ``default_ensemble``) are loaded on
        ``cfg.backend`` / ``cfg.device``; ``voting="weighted"`` uses the manifest's
        ``voting_weights`` when they cover exactly these members, equal weights otherwise;
        ``cascade``: ``off``, every member sees every crop; ``fitted``, the manifest's
        ``cascade`` (its stages and margins, fitted by ``handocr fit-ensemble``), which must
        cover exactly these members; ``auto``, that cascade when there is one, else off; a
        number, that margin (see :class:`Ensemble`), starting with the fitted first member, or
        the first of ``models``. ``cfg.line_models`` is not the ensemble's
        (:func:`handocr.models.line.load_line_members`).

        Parameters
        ----------
        cfg : ModelConfig

        Raises
        ------
        UnknownModelError
            A name is not registered.
        WeightsError
            Weights or graphs are missing, corrupt, or do not fit; ``backend="onnx"`` without
            onnxruntime or without a graph for a member; ``cascade="fitted"`` without a fitted
            cascade for these members.
        """
        from handocr.models.loader import load_members
        from handocr.models.manifest import load_manifest

        names = cfg.models
        if names is None:
            names = tuple(load_manifest().default_ensemble)
            if not names:
                raise WeightsError("MANIFEST.json names no default_ensemble")
        members, dev, manifest = load_members(names, backend=cfg.backend, device=cfg.device)
        full = [m.info.key for m in members]
        weights = None
        fitted = manifest.voting_weights
        voting = cfg.voting
        if voting == "weighted" and set(fitted) == set(full) and len(full) == len(set(full)):
            weights = [float(fitted[n]) for n in full]
        elif voting == "weighted" and len(members) > 1:
            log.info("no fitted voting weights for %s; voting with equal weights", full)
        return cls(
            members,
            weights=weights,
            voting=voting,
            device=dev,
            batch_size=cfg.batch_size,
            **_cascade_of(manifest.cascade, full, cfg.cascade),
        )

    @classmethod
    def from_names(cls, names: Sequence[str] | None = None, **changes: Any) -> Ensemble:
        """Build an ensemble of ``names`` (default the shipped one) with option ``changes``.

        :meth:`from_config` of ``ModelConfig(models=names, **changes)``: no default repeated.

        Raises
        ------
        OptionError
            A bad option (:class:`ModelConfig`).
        UnknownModelError, WeightsError
            As :meth:`from_config`.
        """
        return cls.from_config(
            ModelConfig(models=None if names is None else tuple(names), **changes)
        )

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        """Name, tag and sha256 of every member."""
        return tuple(m.info for m in self.members)

    @property
    def backend(self) -> str:
        """``"onnx"`` when every member runs in ONNX Runtime, ``"torch"`` otherwise."""
        from handocr.models.runtime import OnnxNet

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
        if x.ndim != 4 or x.shape[1:] != INPUT_SHAPE:
            shape = ", ".join(map(str, INPUT_SHAPE))
            raise ValueError(f"expected (N, {shape}) crops, got {x.shape}")
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
        from handocr.models.runtime import OnnxNet

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

        def fetch(members: list[int], rows: NDArray[np.intp] | None) -> NDArray[np.float32]:
            return self.member_proba(x if rows is None else x[rows], members)[members]

        combined, per, _ = _cascade(
            len(x),
            NUM_CLASSES,
            self.weights,
            self.voting,
            self.cascade_stages,
            self.cascade_margins,
            fetch,
        )
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


def _cascade_of(
    fit: FittedCascade | None, members: list[str], cascade: str | float
) -> dict[str, Any]:
    """Resolve a cascade setting to :class:`Ensemble` keyword arguments."""
    fitted = fit is not None and set(fit.members) == set(members) and fit.stages[0][0] in members
    first = members.index(fit.stages[0][0]) if fitted and fit is not None else 0
    cascade = parse_cascade(cascade)
    if cascade == "off" or len(members) == 1:
        return {}
    if cascade in ("auto", "fitted"):
        if not fitted or fit is None:
            if cascade == "fitted":
                raise WeightsError(f"MANIFEST.json has no fitted cascade for {members}")
            return {}
        if fit.fit.get("stages"):
            stages = [[members.index(n) for n in stage] for stage in fit.stages]
            return {"cascade_stages": stages, "cascade_margins": list(fit.margins)}
        return {"cascade": float(fit.margins[0]), "cascade_first": first}
    return {"cascade": float(cascade), "cascade_first": first}
