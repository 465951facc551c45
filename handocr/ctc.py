"""Connectionist temporal classification (CTC) in numpy: scores, beam search, alignment.

Graves, Fernández, Gomez and Schmidhuber (2006), "Connectionist temporal classification:
labelling unsegmented sequence data with recurrent neural networks", ICML: a label sequence
``l`` of length ``L`` is read from per-frame posteriors ``y_t(k)`` (class 0 the blank) as the sum
over every frame path that collapses to ``l`` (repeats merged, then blanks removed); the forward
variables run over the ``2L + 1`` states of ``l`` with blanks between and around its labels.

Everything here works on log-probabilities of shape ``(T, V)`` with the blank at index 0 and
labels as integer class indices ``1 .. V - 1``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "NEG",
    "best_path",
    "forced_alignment",
    "prefix_beam_search",
    "restrict_classes",
    "sequence_log_probs",
]

NEG = -1e4
"""Log-probability floor: a sequence the frames cannot hold (too long) scores this."""


def best_path(log_probs: NDArray[np.float32]) -> list[int]:
    """Greedy (best-path) decoding: each frame's best class, repeats merged, blanks removed.

    Parameters
    ----------
    log_probs : ndarray of float32, shape (T, V)

    Returns
    -------
    list of int
        Class indices in ``1 .. V - 1``.
    """
    idx = log_probs.argmax(1)
    out: list[int] = []
    prev = -1
    for k in idx.tolist():
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return out


def sequence_log_probs(
    log_probs: NDArray[np.float32], labels: Sequence[Sequence[int]]
) -> NDArray[np.float64]:
    """``log P(l | x)`` of several label sequences by the CTC forward algorithm, vectorised.

    Parameters
    ----------
    log_probs : ndarray of float32, shape (T, V)
        Per-frame log-probabilities, blank at 0.
    labels : sequence of sequence of int
        ``H`` label sequences (class indices ``1 .. V - 1``; may be empty).

    Returns
    -------
    ndarray of float64, shape (H,)
        Natural-log probabilities, at least :data:`NEG`.
    """
    h = len(labels)
    if h == 0:
        return np.zeros(0)
    lengths = np.array([len(seq) for seq in labels])
    lmax = int(lengths.max())
    s = 2 * lmax + 1
    ext = np.zeros((h, s), np.int64)  # blanks at even states
    for i, seq in enumerate(labels):
        if len(seq):
            ext[i, 1 : 2 * len(seq) : 2] = seq
    # the skip from s - 2 to s is allowed into a label that differs from the one before it
    skip = np.zeros((h, s), bool)
    skip[:, 3::2] = (ext[:, 3::2] != ext[:, 1:-2:2]) & (ext[:, 3::2] != 0)
    lp = log_probs.astype(np.float64)
    t_len = len(lp)
    alpha = np.full((h, s), -np.inf)
    alpha[:, 0] = lp[0, 0]
    if s > 1:
        alpha[:, 1] = lp[0, ext[:, 1]]
    for t in range(1, t_len):
        prev1 = np.concatenate([np.full((h, 1), -np.inf), alpha[:, :-1]], axis=1)
        prev2 = np.concatenate([np.full((h, 2), -np.inf), alpha[:, :-2]], axis=1)
        prev2 = np.where(skip, prev2, -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + lp[t, ext]
    rows = np.arange(h)
    end = 2 * lengths
    last = alpha[rows, end]
    before = np.where(lengths > 0, alpha[rows, np.maximum(end - 1, 0)], -np.inf)
    out = np.logaddexp(last, before)
    return np.maximum(np.nan_to_num(out, nan=NEG, neginf=NEG), NEG)


def prefix_beam_search(
    log_probs: NDArray[np.float32],
    *,
    beam: int = 8,
    nbest: int = 4,
    allowed: NDArray[np.bool_] | None = None,
    prune: float = -7.0,
) -> list[tuple[tuple[int, ...], float]]:
    """Return the ``nbest`` most probable label sequences by CTC prefix beam search.

    Hannun et al. (2014), "First-pass large vocabulary continuous speech recognition using
    bi-directional recurrent DNNs", arXiv:1408.2873 (the prefix beam search without a language
    model): each prefix keeps the probability of ending in a blank and in its last label.

    Parameters
    ----------
    log_probs : ndarray of float32, shape (T, V)
    beam : int
        Prefixes kept after each frame (>= 1).
    nbest : int
        Sequences returned (<= ``beam``).
    allowed : ndarray of bool, shape (V,), optional
        Classes that may be emitted (the blank always may); others are never extended.
    prune : float
        A class is tried at a frame only when its log-probability reaches this.

    Returns
    -------
    list of (tuple of int, float)
        Sequences with their log-probability (summed over the beam's paths), best first.
    """
    lp = log_probs.astype(np.float64)
    if allowed is not None:
        lp = np.where(allowed[None, :] | (np.arange(lp.shape[1]) == 0)[None, :], lp, -np.inf)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -np.inf)}  # (blank, label)
    for t in range(len(lp)):
        row = lp[t]
        cands = np.flatnonzero(row >= prune)
        cands = cands[cands != 0]
        if len(cands) == 0:
            cands = np.array([int(np.argmax(row[1:])) + 1])
        nxt: dict[tuple[int, ...], list[float]] = {}
        add = functools.partial(_add, nxt)
        blank = row[0]
        for prefix, (pb, pnb) in beams.items():
            total = np.logaddexp(pb, pnb)
            add(prefix, total + blank, -np.inf)
            last = prefix[-1] if prefix else -1
            for k in cands.tolist():
                p = row[k]
                if k == last:
                    add(prefix, -np.inf, pnb + p)  # a repeat without a blank merges
                    add((*prefix, k), -np.inf, pb + p)
                else:
                    add((*prefix, k), -np.inf, total + p)
        ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(kv[1][0], kv[1][1]))
        beams = {k: (v[0], v[1]) for k, v in ranked[:beam]}
    ranked_out = sorted(
        ((k, float(np.logaddexp(*v))) for k, v in beams.items()), key=lambda kv: -kv[1]
    )
    return ranked_out[:nbest]


def _add(
    beams: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], pb: float, pnb: float
) -> None:
    """Add path probabilities (ending in a blank, in a label) to a prefix of the next beam."""
    cur = beams.get(prefix)
    if cur is None:
        beams[prefix] = [pb, pnb]
    else:
        cur[0] = np.logaddexp(cur[0], pb)
        cur[1] = np.logaddexp(cur[1], pnb)


def forced_alignment(
    log_probs: NDArray[np.float32], labels: Sequence[int]
) -> list[tuple[int, int]] | None:
    """Return each label's frames on the most probable frame path (Viterbi alignment).

    Parameters
    ----------
    log_probs : ndarray of float32, shape (T, V)
    labels : sequence of int
        Class indices ``1 .. V - 1``.

    Returns
    -------
    list of (int, int) or None
        Per label, its first frame and one past its last; None when the frames cannot hold
        the sequence.
    """
    n = len(labels)
    if n == 0:
        return []
    ext = np.zeros(2 * n + 1, np.int64)
    ext[1::2] = labels
    s = len(ext)
    skip = np.zeros(s, bool)
    skip[3::2] = (ext[3::2] != ext[1:-2:2]) & (ext[3::2] != 0)
    lp = log_probs.astype(np.float64)
    t_len = len(lp)
    delta = np.full(s, -np.inf)
    delta[0] = lp[0, 0]
    delta[1] = lp[0, ext[1]]
    back = np.zeros((t_len, s), np.int8)  # 0: stay, 1: from s - 1, 2: from s - 2
    for t in range(1, t_len):
        p1 = np.r_[-np.inf, delta[:-1]]
        p2 = np.where(skip, np.r_[-np.inf, -np.inf, delta[:-2]], -np.inf)
        stack = np.stack([delta, p1, p2])
        back[t] = stack.argmax(0)
        delta = stack.max(0) + lp[t, ext]
    end = s - 1 if delta[s - 1] >= delta[s - 2] else s - 2
    if not np.isfinite(delta[end]):
        return None
    state = end
    frames: list[list[int]] = [[] for _ in range(n)]
    for t in range(t_len - 1, -1, -1):
        if state % 2 == 1:
            frames[state // 2].append(t)
        state -= int(back[t, state]) if t > 0 else 0
    return [(min(f), max(f) + 1) if f else (0, 0) for f in frames]


def restrict_classes(
    log_probs: NDArray[np.float32], allowed: NDArray[np.bool_]
) -> NDArray[np.float32]:
    """Return log-posteriors renormalised over the allowed classes (``allowed[0]``: the blank)."""
    lp = np.where(allowed[None, :], log_probs, -np.inf)
    norm = np.logaddexp.reduce(lp, axis=1, keepdims=True)
    return np.asarray(np.maximum(lp - norm, -1e4), np.float32)
