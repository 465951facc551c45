"""A line's candidate readings against its segmentation lattice: alignment and recombination.

:func:`align_readings` aligns many readings of a line to its lattice of candidates at once (a
dynamic programme over the atom boundaries, :func:`backtrace` recovers each reading's steps);
:func:`recombine` makes ROVER-style recombinations of two readings (Fiscus 1997, "A
post-processing system to yield reduced word error rates", IEEE ASRU). The weights are the
fusion's (:class:`handocr.fusion.FusionWeights`); :mod:`handocr.fusion` scores and chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from handocr.models.line import FOLDED, PUNCT

if TYPE_CHECKING:
    from handocr.fusion import FusionWeights, LineFeatures
    from handocr.lexicon import LexiconWeights
    from handocr.segment.search import LineSearch

__all__ = [
    "MAX_REGIONS",
    "PUNCT_COLS",
    "FusedNotes",
    "agreement",
    "align_readings",
    "backtrace",
    "lexicon_scores",
    "platt_scale",
    "posterior",
    "recombine",
    "word_support",
]

MAX_REGIONS = 6
"""Two readings differing in more stretches than this are recombined only one stretch at a
time (2**6 = 64 recombinations at most)."""


def platt_scale(p: float, slope: float, bias: float) -> float:
    """Return ``sigmoid(slope * logit(p) + bias)``: Platt scaling of a probability.

    Platt 1999, "Probabilistic outputs for support vector machines and comparisons to
    regularized likelihood methods" (here on the logit of a posterior, as in Guo et al. 2017,
    "On calibration of modern neural networks"). ``p`` is clipped to ``[1e-6, 1 - 1e-6]``;
    the result is in ``(0, 1)``. ``slope = 1, bias = 0`` leaves ``p`` as it is (clipped).
    """
    q = min(max(float(p), 1e-6), 1 - 1e-6)
    z = slope * np.log(q / (1 - q)) + bias
    return float(1 / (1 + np.exp(-z)))


def lexicon_scores(
    score: NDArray[np.float64], f: LineFeatures, lw: LexiconWeights | None
) -> NDArray[np.float64]:
    """Return the scores the line fusion chooses a reading by, the lexicon's parts added.

    ``score`` is :meth:`handocr.fusion.FusionWeights.score` of the readings ``f``. Readings
    gathered without a lexicon keep it as it is; with one, ``lw``'s ``hit`` and ``gain`` times
    their lexicon parts are added, and without ``lw`` the readings the lexicon made are left
    out (``-inf``: what is read without the lexicon).
    """
    if f.hits is None or f.gains is None or f.lexical is None:
        return score
    if lw is None:
        return np.where(f.lexical, -np.inf, score)
    return score + lw.hit * f.hits + lw.gain * f.gains


def posterior(score: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    """Return ``softmax(score / temperature)`` (``-inf`` scores get 0; temperature > 0)."""
    z = np.exp((score - score.max()) / max(temperature, 1e-6))
    return np.asarray(z / z.sum(), np.float64)


PUNCT_COLS = np.array([FOLDED.index(c) for c in PUNCT])
"""Columns of the punctuation among the folded symbols (:data:`handocr.models.line.FOLDED`)."""

_NONE = -(10**9)  # an alignment state no step reaches


def _is_punct(readings: NDArray[np.int64]) -> NDArray[np.bool_]:
    return np.isin(readings, PUNCT_COLS)


def align_readings(
    search: LineSearch,
    char_lp: NDArray[np.float64],
    readings: Sequence[tuple[int, ...]],
    w: FusionWeights,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Best lattice alignment of each reading by dynamic programming over the atom boundaries.

    Returns
    -------
    (score, choice, source)
        ``score`` of shape (H,): the weighted alignment score; ``choice`` of shape
        (n_atoms + 1, H, L + 1): per state, the candidate whose character ended there (>= 0),
        -1 an insertion, ``-2 - g`` layout glyph ``g`` left out, :data:`_NONE` unreached;
        ``source`` the boundary the step came from.
    """
    lat = search.lattice
    n_atoms = len(lat.atoms)
    h = len(readings)
    lmax = max((len(r) for r in readings), default=0)
    lab = np.zeros((h, max(lmax, 1)), np.int64)
    for i, r in enumerate(readings):
        lab[i, : len(r)] = r
    punct = _is_punct(lab)
    best = np.full((n_atoms + 1, h, lmax + 1), -np.inf)
    choice = np.full(best.shape, _NONE, np.int64)
    source = np.zeros(best.shape, np.int64)
    best[0, :, 0] = 0.0
    ending: list[list[int]] = [[] for _ in range(n_atoms + 1)]
    for c, (_, j) in enumerate(lat.spans):
        ending[j].append(c)
    n_glyphs = len(lat.boxes)
    seg = w.segment * search.score
    chars = w.char * char_lp[:, lab] + np.where(punct, w.char * w.punct, 0.0)  # (C, H, L)
    steps = np.arange(lmax + 1) * w.insert
    for j in range(n_atoms + 1):
        for c in ending[j]:
            i = lat.spans[c][0]
            val = best[i, :, :-1] + seg[c] + chars[c][:, :lmax]
            better = val > best[j, :, 1:]
            best[j, :, 1:] = np.where(better, val, best[j, :, 1:])
            choice[j, :, 1:] = np.where(better, c, choice[j, :, 1:])
            source[j, :, 1:] = np.where(better, i, source[j, :, 1:])
            if c < n_glyphs:  # the layout glyph left out
                val = best[i] + w.delete
                better = val > best[j]
                best[j] = np.where(better, val, best[j])
                choice[j] = np.where(better, -2 - c, choice[j])
                source[j] = np.where(better, i, source[j])
        closed = np.maximum.accumulate(best[j] - steps, axis=1) + steps  # insertions
        inserted = closed > best[j] + 1e-12
        best[j] = closed
        choice[j] = np.where(inserted, -1, choice[j])
        source[j] = np.where(inserted, j, source[j])
    lengths = np.array([len(r) for r in readings])
    return best[n_atoms, np.arange(h), lengths], choice, source


def backtrace(
    choice: NDArray[np.int64], source: NDArray[np.int64], h: int, n: int
) -> list[tuple[int, int]]:
    """Return the steps of reading ``h``'s alignment: (kind, candidate), left to right.

    ``kind`` 0: the character on candidate ``c``; 1: an inserted character (``c`` = -1); 2: a
    layout glyph ``c`` left out.
    """
    j = choice.shape[0] - 1
    steps: list[tuple[int, int]] = []
    while j > 0 or n > 0:
        c = int(choice[j, h, n])
        i = int(source[j, h, n])
        if c >= 0:
            steps.append((0, c))
            n -= 1
        elif c == -1:
            steps.append((1, -1))
            n -= 1
        elif c <= -2 and c != _NONE:
            steps.append((2, -2 - c))
        else:  # unreachable state: stop rather than loop
            break
        j = i
    return steps[::-1]


def recombine(a: tuple[int, ...], b: tuple[int, ...]) -> set[tuple[int, ...]]:
    """ROVER-style recombinations of two readings: each differing stretch from one or other."""
    from rapidfuzz.distance import Levenshtein

    ops = Levenshtein.opcodes(a, b)
    parts = [(a[o.src_start : o.src_end], b[o.dest_start : o.dest_end]) for o in ops]
    diff = [k for k, o in enumerate(ops) if o.tag != "equal"]
    out: set[tuple[int, ...]] = set()
    if len(diff) > MAX_REGIONS:
        choices = [tuple(k == d for k in diff) for d in diff]  # one stretch from b at a time
        choices += [tuple(k != d for k in diff) for d in diff]
    else:
        choices = list(product((False, True), repeat=len(diff)))
    for pick in choices:
        take = dict(zip(diff, pick, strict=True))
        seq: list[int] = []
        for k, (pa, pb) in enumerate(parts):
            seq.extend(pb if take.get(k, False) else pa)
        out.add(tuple(seq))
    return out


def agreement(
    readings: Sequence[tuple[int, ...]], post: NDArray[np.float64], best: tuple[int, ...]
) -> tuple[NDArray[np.float64], list[list[tuple[str, float]]]]:
    """Posterior mass of the readings that agree with ``best`` at each of its characters.

    Returns the support per character and, per character, the other symbols readings put
    there with their mass, most first.
    """
    from rapidfuzz.distance import Levenshtein

    support = np.zeros(len(best))
    other: list[dict[str, float]] = [{} for _ in best]
    for r, p in zip(readings, post, strict=True):
        for op in Levenshtein.opcodes(best, r):
            for k in range(op.src_start, op.src_end):
                if op.tag == "equal":
                    support[k] += p
                elif op.tag == "replace":
                    d = op.dest_start + (k - op.src_start)
                    if d < op.dest_end:
                        sym = FOLDED[r[d]]
                        other[k][sym] = other[k].get(sym, 0.0) + p
    alts = [sorted(o.items(), key=lambda kv: -kv[1]) for o in other]
    return np.clip(support, 0.0, 1.0), [[(a, float(p)) for a, p in al] for al in alts]


def word_support(
    readings: Sequence[tuple[int, ...]],
    post: NDArray[np.float64],
    best: tuple[int, ...],
    spans: Sequence[tuple[int, int]],
) -> list[float]:
    """Posterior mass of the readings that read each word of ``best`` exactly as it does.

    A reading agrees with the word ``best[a:b]`` when its edit alignment to ``best`` keeps
    every symbol of the word and inserts nothing after any of them (an inserted symbol belongs
    to the word before it, as in :func:`handocr.lexicon.reading_words`): the word's
    probability of being exactly right under the readings' posterior.

    Parameters
    ----------
    readings : sequence of tuple of int
    post : ndarray of float64, shape (H,)
        Their posterior (sums to 1).
    best : tuple of int
    spans : sequence of (int, int)
        The words of ``best`` as symbol spans.

    Returns
    -------
    list of float
        One per span, in ``[0, 1]``.
    """
    from rapidfuzz.distance import Levenshtein

    out = np.zeros(len(spans))
    for r, p in zip(readings, post, strict=True):
        ops = Levenshtein.opcodes(best, r)
        for k, (a, b) in enumerate(spans):
            kept = sum(
                max(0, min(b, o.src_end) - max(a, o.src_start)) for o in ops if o.tag == "equal"
            )
            # an inserted symbol belongs to the word before it (reading_words' rule); at the
            # very start of the line, to the first word
            inside = any(
                o.tag == "insert" and (a < o.src_start <= b or o.src_start == a == 0) for o in ops
            )
            out[k] += p if kept == b - a and not inside else 0.0
    return [float(min(max(v, 0.0), 1.0)) for v in out]


class FusedNotes(NamedTuple):
    """What the line fusion knows of a line beyond its characters.

    Attributes
    ----------
    exact : float
        Posterior of the reading chosen (``softmax(score / T)``, the temperature fitted so that
        it is the probability that the line reads exactly right), Platt-scaled
        (:meth:`handocr.fusion.FusionWeights.exact`, or :meth:`handocr.lexicon.LexiconWeights.exact`
        when reading with a lexicon whose weights hold a scaling).
    words : list of float
        Per word of the reading chosen, its posterior of being exactly right
        (:func:`word_support`), Platt-scaled alike.
    free : list of str or None
        With a lexicon: the folded words of the free reading (the best without the lexicon).
    found : list of bool or None
        With a lexicon: per word chosen, whether its lexicon token is a lexicon word.
    """

    exact: float
    words: list[float]
    free: list[str] | None = None
    found: list[bool] | None = None
