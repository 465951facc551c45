"""Probabilities + segmentation -> result objects (characters, words, lines, a page).

Context: each line is a letter string, a digit string, or a mixed line in which each word is
letters, digits, or mixed (:func:`apply_line_context`). With class-balanced
posteriors ``p(c | x)`` (the training's logit adjustment gives those), the likelihood of a word's
crops under a type whose character set is ``S`` is ``prod_i mean_{c in S} p(c | x_i)``; with a
prior over the three types this gives ``P(type | word)``, and each character's reported
probabilities are ``sum_type P(type | word) p(c | x_i, type)``. An ambiguous ``O``/``0`` in a word
of letters so reads as ``O``, and in a number as ``0``, while a genuine mixed code such as ``A12``
stays mixed when its letters and digits are clear.

Output case: EMNIST-47 merges ``c i j k l m o p s u v w x y z`` into their capitals, so those
classes print in upper case; the eleven lower-case classes ``a b d e f g h n q r t`` print in
lower case, as the classifier saw them. One exception: the merged class ``L`` also holds
lower-case ``l``, a plain bar; in a line of capitals a bar-shaped glyph is read as ``I``
(:data:`BAR_ASPECT`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.labels import DIGITS, LABELS
from handocr.result import Box, Char, Line, Page, Word

__all__ = [
    "TOP_K",
    "LINE_TYPE_PRIOR",
    "TYPE_PRIOR",
    "apply_charset",
    "apply_line_context",
    "apply_word_context",
    "assemble_page",
    "decode_chars",
]

TOP_K = 3
"""Characters kept per position: the choice plus ``TOP_K - 1`` alternatives."""

TYPE_PRIOR = {"letters": 0.45, "digits": 0.45, "mixed": 0.10}
"""Prior probability of each word type."""

LINE_TYPE_PRIOR = {"letters": 0.4, "digits": 0.4, "mixed": 0.2}
"""Prior probability of each line type (a mixed line lets every word choose its own type)."""

_IS_DIGIT = np.array([ch in DIGITS for ch in LABELS])
_TYPE_MASKS = {
    "letters": ~_IS_DIGIT,
    "digits": _IS_DIGIT,
    "mixed": np.ones(len(LABELS), bool),
}


def apply_charset(
    probs: NDArray[np.float32], charset: str, *, normalize: bool = True
) -> NDArray[np.float32]:
    """Restrict probabilities to a character set, folding other-case classes into allowed ones.

    Parameters
    ----------
    probs : ndarray of float32, shape (N, 47)
        Rows summing to 1.
    charset : str
        See :func:`handocr.labels.charset_fold`.
    normalize : bool, default True
        Rescale each row to sum to 1. With False, each row keeps only the probability mass that
        falls on the set (after folding), so a crop that looks like no allowed character has a
        small row sum: what recognition-based segmentation and mark rejection compare.

    Returns
    -------
    ndarray of float32, shape (N, 47)
        Zero outside the set; rows summing to 1 when ``normalize`` (a row with no mass on the
        set becomes uniform over it), else to the mass on the set, in ``[0, 1]``.

    Raises
    ------
    ValueError
        As :func:`handocr.labels.charset_fold`.
    """
    from handocr.labels import charset_fold

    fold = np.array(charset_fold(charset))
    out = np.zeros_like(probs, dtype=np.float64)
    for i, target in enumerate(fold):
        if target >= 0:
            out[:, target] += probs[:, i]
    if not normalize:
        return out.astype(np.float32)
    total = out.sum(1, keepdims=True)
    uniform = (fold == np.arange(len(fold))).astype(np.float64)
    out = np.where(total > 0, out / np.maximum(total, 1e-30), uniform / uniform.sum())
    return out.astype(np.float32)


def _restricted(p: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    r = np.where(mask, p, 0.0)
    out: NDArray[np.float64] = r / np.maximum(r.sum(1, keepdims=True), 1e-30)
    return out


def _type_log_likelihoods(p: NDArray[np.float64]) -> dict[str, float]:
    """``log prod_i mean_{c in S_type} p(c | x_i)`` for the pure types."""
    return {
        name: float(np.log(p[:, mask].sum(1) / mask.sum() + 1e-30).sum())
        for name, mask in _TYPE_MASKS.items()
    }


def _posterior(log_joint: dict[str, float]) -> tuple[dict[str, float], float]:
    top = max(log_joint.values())
    w = {k: float(np.exp(v - top)) for k, v in log_joint.items()}
    total = sum(w.values())
    return {k: v / total for k, v in w.items()}, top + float(np.log(total))


def _word_context(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Word-level mixture: (re-weighted probabilities, log marginal likelihood of the word)."""
    ll = _type_log_likelihoods(p)
    post, log_marginal = _posterior({k: np.log(TYPE_PRIOR[k]) + v for k, v in ll.items()})
    out = sum(post[k] * _restricted(p, m) for k, m in _TYPE_MASKS.items())
    return np.asarray(out), log_marginal


def apply_word_context(probs: NDArray[np.float32]) -> NDArray[np.float32]:
    """Re-weight one word's character probabilities by the posterior of its type.

    Parameters
    ----------
    probs : ndarray of float32, shape (n, 47)
        Class-balanced posteriors of the word's ``n`` characters, rows summing to 1.

    Returns
    -------
    ndarray of float32, shape (n, 47)
        Rows summing to 1: ``sum_type P(type | word) p(c | x_i, type)``.

    Examples
    --------
    >>> from handocr.labels import index_of
    >>> p = np.full((3, 47), 1e-4, np.float32)
    >>> p[0, index_of("C")] = p[1, index_of("A")] = 1.0
    >>> p[2, index_of("O")] = 0.45; p[2, index_of("0")] = 0.55
    >>> p /= p.sum(1, keepdims=True)
    >>> LABELS[int(apply_word_context(p)[2].argmax())]
    'O'
    """
    if len(probs) == 0:
        return probs
    return _word_context(probs.astype(np.float64))[0].astype(np.float32)


def apply_line_context(
    probs: NDArray[np.float32], word_starts: Sequence[bool]
) -> NDArray[np.float32]:
    """Re-weight one line's probabilities: the whole line is letters, digits, or mixed words.

    A line of letters or of digits restricts every character to that set; a mixed line lets
    each word choose its own type (:func:`apply_word_context`). The line's type posterior uses
    :data:`LINE_TYPE_PRIOR` and, for the mixed case, the product of the words' marginal
    likelihoods. Names written with wide letter spacing so still read as one letter string.

    Parameters
    ----------
    probs : ndarray of float32, shape (n, 47)
        Class-balanced posteriors of the line's characters, rows summing to 1.
    word_starts : sequence of bool
        ``n`` flags, True where a word begins.

    Returns
    -------
    ndarray of float32, shape (n, 47)
        Rows summing to 1.

    Raises
    ------
    ValueError
        ``word_starts`` and ``probs`` differ in length.
    """
    if len(word_starts) != len(probs):
        raise ValueError(f"{len(word_starts)} word flags for {len(probs)} characters")
    if len(probs) == 0:
        return probs
    p = probs.astype(np.float64)
    starts = [k for k, s in enumerate(word_starts) if s or k == 0] + [len(p)]
    words = [_word_context(p[a:b]) for a, b in pairwise(starts)]
    mixed_out = np.concatenate([w[0] for w in words])
    ll = _type_log_likelihoods(p)
    log_joint = {
        "letters": np.log(LINE_TYPE_PRIOR["letters"]) + ll["letters"],
        "digits": np.log(LINE_TYPE_PRIOR["digits"]) + ll["digits"],
        "mixed": np.log(LINE_TYPE_PRIOR["mixed"]) + sum(w[1] for w in words),
    }
    post, _ = _posterior(log_joint)
    out = (
        post["letters"] * _restricted(p, _TYPE_MASKS["letters"])
        + post["digits"] * _restricted(p, _TYPE_MASKS["digits"])
        + post["mixed"] * mixed_out
    )
    return out.astype(np.float32)


BAR_ASPECT = 0.3
"""A glyph at most this wide for its height is a plain bar: ``I``, ``1`` or ``l``, never ``L``."""

_L, _I = LABELS.index("L"), LABELS.index("I")
_LOWER_ONLY = np.array([ch in "abdefghnqrt" for ch in LABELS])


def _bars_as_i(probs: NDArray[np.float32], boxes: Sequence[Box]) -> NDArray[np.float32]:
    """In a line of capitals, read a bar that EMNIST files under ``L`` (lower-case l) as ``I``.

    EMNIST-47 merges lower-case ``l`` into ``L``, so the classifier often calls a plain vertical
    bar ``L``. A capital L has a foot, so a glyph narrower than :data:`BAR_ASPECT` times its
    height cannot be one; unless the line is lower-case (a fifth or more of its characters are
    lower-case-only classes), its ``L`` probability moves to ``I``.
    """
    top = probs.argmax(1)
    if (_LOWER_ONLY[top]).mean() >= 0.2:
        return probs
    bars = np.array([b.width <= BAR_ASPECT * b.height for b in boxes])
    if not bars.any():
        return probs
    out = probs.copy()
    out[bars, _I] += out[bars, _L]
    out[bars, _L] = 0.0
    return out


def decode_chars(
    probs: NDArray[np.float32],
    boxes: Sequence[Box],
    *,
    word_starts: Sequence[bool] | None = None,
    line_sizes: Sequence[int] | None = None,
    top_k: int = TOP_K,
) -> list[Char]:
    """Pick the most probable class of each crop and keep the runners-up.

    Parameters
    ----------
    probs : ndarray of float32, shape (N, 47)
        Ensemble probabilities, rows summing to 1, columns in ``LABELS`` order.
    boxes : sequence of Box
        ``N`` boxes in page pixels.
    word_starts : sequence of bool, optional
        ``N`` flags, True where a word begins; when given, each line's probabilities pass
        through :func:`apply_line_context` first.
    line_sizes : sequence of int, optional
        Characters per line, in order (default: all in one line).
    top_k : int
        Candidates kept per character (>= 1).

    Returns
    -------
    list of Char
        ``confidence`` is the probability of the chosen class, in ``[0, 1]``.

    Raises
    ------
    ValueError
        ``probs``, ``boxes``, ``word_starts`` or ``line_sizes`` disagree in length.
    """
    if len(probs) != len(boxes):
        raise ValueError(f"{len(probs)} probability rows for {len(boxes)} boxes")
    if word_starts is not None:
        if len(word_starts) != len(boxes):
            raise ValueError(f"{len(word_starts)} word flags for {len(boxes)} boxes")
        sizes = list(line_sizes) if line_sizes is not None else [len(boxes)]
        if sum(sizes) != len(boxes):
            raise ValueError(f"line sizes {sizes} do not add up to {len(boxes)} boxes")
        bounds = np.cumsum([0, *sizes])
        parts = [
            apply_line_context(probs[a:b], word_starts[a:b]) for a, b in pairwise(bounds) if b > a
        ]
        if parts:
            probs = np.concatenate(parts)
        probs = np.concatenate(
            [_bars_as_i(probs[a:b], boxes[a:b]) for a, b in pairwise(bounds) if b > a] or [probs]
        )
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    out = []
    for row, idx, box in zip(probs, order, boxes, strict=True):
        cands = [(LABELS[int(k)], float(row[k])) for k in idx]
        out.append(Char(cands[0][0], box, cands[0][1], tuple(cands[1:])))
    return out


def attach_votes(
    chars: Sequence[Char], per_member: NDArray[np.float32], members: Sequence[str]
) -> list[Char]:
    """Record each member's own top class and probability on every character.

    Parameters
    ----------
    chars : sequence of Char
        ``N`` decoded characters.
    per_member : ndarray of float32, shape (N, M, 47)
        The members' probabilities for the same crops (before context decoding); NaN rows
        mark members that did not read a crop (a cascade's unescalated characters).
    members : sequence of str
        ``M`` member names (``"arch.tag"``).

    Returns
    -------
    list of Char
        Copies with :attr:`Char.votes` filled, one per member that read the crop.

    Raises
    ------
    ValueError
        The shapes disagree.
    """
    if per_member.shape[:2] != (len(chars), len(members)):
        raise ValueError(
            f"votes of shape {per_member.shape} for {len(chars)} characters and "
            f"{len(members)} members"
        )
    ran = ~np.isnan(per_member[:, :, 0])
    top = np.nan_to_num(per_member, nan=-1.0).argmax(2)
    return [
        dataclasses.replace(
            c,
            votes=tuple(
                (name, LABELS[int(top[i, k])], float(per_member[i, k, top[i, k]]))
                for k, name in enumerate(members)
                if ran[i, k]
            ),
        )
        for i, c in enumerate(chars)
    ]


def assemble_page(
    chars: Sequence[Char],
    line_sizes: Sequence[int],
    word_starts: Sequence[bool],
    *,
    index: int,
    width: int,
    height: int,
    source: str | None,
) -> Page:
    """Group decoded characters into words and lines.

    Parameters
    ----------
    chars : sequence of Char
        All characters of the page in reading order.
    line_sizes : sequence of int
        Number of characters of each line, in order; they sum to ``len(chars)``.
    word_starts : sequence of bool
        One per character: True where a new word begins (True for each line's first).
    index, width, height : int
        Page position and size in pixels.
    source : str or None

    Returns
    -------
    Page
    """
    lines = []
    pos = 0
    for n in line_sizes:
        words: list[list[Char]] = []
        for k in range(pos, pos + n):
            if word_starts[k] or not words:
                words.append([])
            words[-1].append(chars[k])
        pos += n
        wobjs = tuple(Word(tuple(w), Box.enclosing([c.box for c in w])) for w in words)
        if wobjs:
            lines.append(Line(wobjs, Box.enclosing([w.box for w in wobjs])))
    return Page(index, width, height, tuple(lines), source)
