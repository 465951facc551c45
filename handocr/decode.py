"""Probabilities + segmentation -> result objects (characters, words, lines, a page).

Context: each line is a letter string, a digit string, or a mixed line in which each word is
letters, digits, or mixed (:func:`apply_line_context`). With class-balanced
posteriors ``p(c | x)`` (the training's logit adjustment gives those), the likelihood of a word's
crops under a type whose character set is ``S`` is ``prod_i mean_{c in S} p(c | x_i)``; with a
prior over the three types this gives ``P(type | word)``, and each character's reported
probabilities are ``sum_type P(type | word) p(c | x_i, type)``. An ambiguous ``O``/``0`` in a word
of letters so reads as ``O``, and in a number as ``0``, while a genuine mixed code such as ``A12``
stays mixed when its letters and digits are clear.

Case: the same mixture decides, after the letter/digit context, whether a line is written in
capitals, in lower case, in title case (each word's first letter free, the rest lower case),
or in mixed case, where each word picks one of the four (:func:`apply_case_context`).
Capitals allow the 26 upper-case shapes, lower case the 15 merged classes and the eleven
lower-case-only ones (``a b d e f g h n q r t``); digits are allowed in both. A malformed
``R`` in ``PIERRE`` that the classifier calls ``q`` is so read among the capitals, while
``David Smith`` reads as title case.

Letters: before both mixtures, the letter classes are weighed by their frequency in English
text (:func:`apply_letter_prior`, a unigram language model with Lewand's 2000 frequencies):
the class-balanced posteriors treat a ``J`` as likely as an ``I`` a priori, text does not.

Output case: EMNIST-47 merges ``c i j k l m o p s u v w x y z`` into their capitals, so the
classifier cannot tell their case. They print in lower case in a word decided lower case, and
after the first letter of a title-case or mixed-case word (``Smith``, ``McDonald``);
otherwise in upper case. The eleven lower-case-only classes print in lower case, as the
classifier saw them. One exception: the merged class ``L`` also holds lower-case ``l``, a
plain bar; in a line of capitals a bar-shaped glyph is read as ``I`` (:data:`BAR_ASPECT`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.labels import DIGITS, LABELS, LETTER_FREQUENCY, MERGED_LOWER, Charset
from handocr.result import Box, Char, Line, Page, Word

__all__ = [
    "CASE_PRIOR",
    "TOP_K",
    "LINE_TYPE_PRIOR",
    "TYPE_PRIOR",
    "LETTER_PRIOR",
    "apply_case_context",
    "apply_letter_prior",
    "apply_line_context",
    "apply_word_context",
    "assemble_page",
    "attach_votes",
    "decode_chars",
    "decode_page",
]

TOP_K = 3
"""Characters kept per position: the choice plus ``TOP_K - 1`` alternatives."""

TYPE_PRIOR = {"letters": 0.45, "digits": 0.45, "mixed": 0.10}
"""Prior probability of each word type."""

LINE_TYPE_PRIOR = {"letters": 0.4, "digits": 0.4, "mixed": 0.2}
"""Prior probability of each line type (a mixed line lets every word choose its own type)."""

CASE_PRIOR = {"upper": 0.35, "lower": 0.35, "title": 0.2, "mixed": 0.10}
"""Prior probability of each case of a line, and of a word in a mixed-case line: capitals,
lower case, title case (a word's first letter free, the rest lower case), mixed."""

_IS_DIGIT = np.array([ch in DIGITS for ch in LABELS])
_ALL = np.ones(len(LABELS), bool)
_UPPER_ONLY = np.array([ch.isupper() and ch.lower() not in MERGED_LOWER for ch in LABELS])
_LOWER_ONLY = np.array([ch.islower() for ch in LABELS])
_MERGED = np.array([ch.lower() in MERGED_LOWER for ch in LABELS])

Masks = dict[str, NDArray[np.bool_]]


def _type_masks(first: NDArray[np.bool_]) -> Masks:
    """Class sets of the letter/digit types, shape (47,) each (``first`` is not used)."""
    return {"letters": ~_IS_DIGIT, "digits": _IS_DIGIT, "mixed": _ALL}


def _case_masks(first: NDArray[np.bool_]) -> Masks:
    """Class sets of the cases, shape (n, 47); ``first`` flags each word's first character."""
    n = len(first)
    lower = np.broadcast_to(~_UPPER_ONLY, (n, len(LABELS)))
    return {
        "upper": ~_LOWER_ONLY,
        "lower": ~_UPPER_ONLY,
        "title": np.where(first[:, None], _ALL, lower),
        "mixed": _ALL,
    }


LETTER_PRIOR = 1.0
"""Default weight of the letter-frequency prior (:func:`apply_letter_prior`); 0 turns it off."""

_LETTER_WEIGHT = np.array(
    [LETTER_FREQUENCY.get(ch.lower(), 1.0) if ch.isalpha() else 1.0 for ch in LABELS]
)


def apply_letter_prior(
    probs: NDArray[np.float32], weight: float = LETTER_PRIOR
) -> NDArray[np.float32]:
    """Weigh the letter classes by how often each letter occurs in text (a unigram model).

    The classifier's posteriors are class-balanced (every class equally likely a priori);
    text is not: ``I`` is 45 times as common as ``J`` in English. Each letter class's
    probability is multiplied by ``LETTER_FREQUENCY[letter] ** weight`` (both cases of a letter
    alike), then the letters are rescaled to their original total, so the letter/digit
    decision keeps its evidence and digits are untouched.

    Parameters
    ----------
    probs : ndarray of float32, shape (N, 47)
        Rows summing to 1.
    weight : float, default :data:`LETTER_PRIOR`
        Exponent of the prior, >= 0: 0 returns ``probs`` unchanged, 1 is Bayes' rule for
        general English text (:data:`handocr.labels.LETTER_FREQUENCY`, Lewand 2000).

    Returns
    -------
    ndarray of float32, shape (N, 47)
        Rows summing to 1.

    Raises
    ------
    ValueError
        ``weight`` is negative.
    """
    if weight < 0:
        raise ValueError(f"letter prior weight must be >= 0, got {weight}")
    if weight == 0 or len(probs) == 0:
        return probs
    p = probs.astype(np.float64)
    letters = p[:, ~_IS_DIGIT]
    weighted = letters * _LETTER_WEIGHT[~_IS_DIGIT] ** weight
    scale = letters.sum(1, keepdims=True) / np.maximum(weighted.sum(1, keepdims=True), 1e-300)
    out = p.copy()
    out[:, ~_IS_DIGIT] = weighted * scale
    return out.astype(np.float32)


def _restricted(p: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    r = np.where(mask, p, 0.0)
    out: NDArray[np.float64] = r / np.maximum(r.sum(1, keepdims=True), 1e-30)
    return out


def _type_log_likelihoods(p: NDArray[np.float64], masks: Masks) -> dict[str, float]:
    """``log prod_i mean_{c in S_type,i} p(c | x_i)`` for each type's class sets."""
    out = {}
    for name, mask in masks.items():
        m = np.broadcast_to(mask, p.shape)
        out[name] = float(np.log((p * m).sum(1) / m.sum(1) + 1e-30).sum())
    return out


def _posterior(log_joint: dict[str, float]) -> tuple[dict[str, float], float]:
    top = max(log_joint.values())
    w = {k: float(np.exp(v - top)) for k, v in log_joint.items()}
    total = sum(w.values())
    return {k: v / total for k, v in w.items()}, top + float(np.log(total))


MasksOf = Callable[[NDArray[np.bool_]], Masks]


def _word_context(
    p: NDArray[np.float64],
    masks_of: MasksOf = _type_masks,
    prior: dict[str, float] = TYPE_PRIOR,
) -> tuple[NDArray[np.float64], float, dict[str, float]]:
    """Word-level mixture: (re-weighted probabilities, log marginal likelihood, posterior)."""
    first = np.zeros(len(p), bool)
    first[0] = True
    masks = masks_of(first)
    ll = _type_log_likelihoods(p, masks)
    post, log_marginal = _posterior({k: np.log(prior[k]) + v for k, v in ll.items()})
    out = sum(post[k] * _restricted(p, m) for k, m in masks.items())
    return np.asarray(out), log_marginal, post


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


def _line_mixture(
    p: NDArray[np.float64],
    word_starts: Sequence[bool],
    masks_of: MasksOf,
    line_prior: dict[str, float],
    word_prior: dict[str, float],
) -> tuple[NDArray[np.float64], dict[str, float], list[tuple[int, int, dict[str, float]]]]:
    """Mix a line's pure types of ``masks_of`` and ``mixed`` (each word picks its own type).

    Returns the re-weighted probabilities, the line's posterior, and each word's
    ``(start, end, posterior)``.
    """
    starts = [k for k, s in enumerate(word_starts) if s or k == 0] + [len(p)]
    spans = list(pairwise(starts))
    words = [_word_context(p[a:b], masks_of, word_prior) for a, b in spans]
    mixed_out = np.concatenate([w[0] for w in words])
    first = np.zeros(len(p), bool)
    first[starts[:-1]] = True
    masks = masks_of(first)
    ll = _type_log_likelihoods(p, masks)
    log_joint = {k: np.log(line_prior[k]) + ll[k] for k in masks if k != "mixed"}
    log_joint["mixed"] = np.log(line_prior["mixed"]) + sum(w[1] for w in words)
    post, _ = _posterior(log_joint)
    out = post["mixed"] * mixed_out
    for k, m in masks.items():
        if k != "mixed":
            out = out + post[k] * _restricted(p, m)
    return out, post, [(a, b, w[2]) for (a, b), w in zip(spans, words, strict=True)]


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
    out, _, _ = _line_mixture(
        probs.astype(np.float64), word_starts, _type_masks, LINE_TYPE_PRIOR, TYPE_PRIOR
    )
    return out.astype(np.float32)


def apply_case_context(
    probs: NDArray[np.float32], word_starts: Sequence[bool]
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Re-weight one line's probabilities by its case: capitals, lower case, or mixed words.

    The same mixture as :func:`apply_line_context` with the class sets of the cases (digits
    and the 15 merged classes belong to upper and lower case; title case frees each word's
    first letter; :data:`CASE_PRIOR` for lines and for the words of a mixed-case line). It
    also decides how the merged classes print.

    Parameters
    ----------
    probs : ndarray of float32, shape (n, 47)
        One line's probabilities, rows summing to 1 (after :func:`apply_line_context`).
    word_starts : sequence of bool
        ``n`` flags, True where a word begins.

    Returns
    -------
    probs : ndarray of float32, shape (n, 47)
        Rows summing to 1.
    lower : ndarray of bool, shape (n,)
        True where a merged class (``c i j k l m o p s u v w x y z``) prints in lower case:
        in words decided lower case, and after the first letter of title-case and mixed-case
        words.

    Raises
    ------
    ValueError
        ``word_starts`` and ``probs`` differ in length.

    Examples
    --------
    >>> from handocr.labels import index_of
    >>> p = np.full((3, 47), 1e-4, np.float32)
    >>> p[0, index_of("E")] = p[2, index_of("E")] = 1.0
    >>> p[1, index_of("q")] = 0.5; p[1, index_of("R")] = 0.3
    >>> p /= p.sum(1, keepdims=True)
    >>> out, lower = apply_case_context(p, [True, False, False])
    >>> LABELS[int(out[1].argmax())], bool(lower.any())
    ('R', False)
    """
    if len(word_starts) != len(probs):
        raise ValueError(f"{len(word_starts)} word flags for {len(probs)} characters")
    lower = np.zeros(len(probs), bool)
    if len(probs) == 0:
        return probs, lower
    out, post, words = _line_mixture(
        probs.astype(np.float64), word_starts, _case_masks, CASE_PRIOR, CASE_PRIOR
    )
    line_case = max(post, key=post.__getitem__)
    for a, b, word_post in words:
        case = line_case if line_case != "mixed" else max(word_post, key=word_post.__getitem__)
        if case == "lower":
            lower[a:b] = True
        elif case in ("title", "mixed"):
            lower[a + 1 : b] = True
    return out.astype(np.float32), lower


BAR_ASPECT = 0.3
"""A glyph at most this wide for its height is a plain bar: ``I``, ``1`` or ``l``, never ``L``."""

_L, _I = LABELS.index("L"), LABELS.index("I")


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
    letter_prior: float = LETTER_PRIOR,
    case_context: bool = True,
    bars_as_i: bool = True,
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
        through :func:`apply_line_context` and :func:`apply_case_context` first, and the
        merged classes print in the case that decides.
    line_sizes : sequence of int, optional
        Characters per line, in order (default: all in one line).
    top_k : int
        Candidates kept per character (>= 1).
    letter_prior : float, default :data:`LETTER_PRIOR`
        Weight of the letter-frequency prior applied with the context
        (:func:`apply_letter_prior`); 0 turns it off.
    case_context : bool, default True
        Apply :func:`apply_case_context` with the line context; without it, merged classes
        print in upper case.
    bars_as_i : bool, default True
        In a line that is not lower case, read a bar-shaped glyph (:data:`BAR_ASPECT`) that
        the classifier files under ``L`` as ``I``.

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
    lower = np.zeros(len(probs), bool)
    if word_starts is not None:
        if len(word_starts) != len(boxes):
            raise ValueError(f"{len(word_starts)} word flags for {len(boxes)} boxes")
        sizes = list(line_sizes) if line_sizes is not None else [len(boxes)]
        if sum(sizes) != len(boxes):
            raise ValueError(f"line sizes {sizes} do not add up to {len(boxes)} boxes")
        bounds = np.cumsum([0, *sizes])
        probs = apply_letter_prior(probs, letter_prior)
        parts, flags = [], []
        for a, b in pairwise(bounds):
            if b > a:
                line = apply_line_context(probs[a:b], word_starts[a:b])
                line_lower = np.zeros(b - a, bool)
                if case_context:
                    line, line_lower = apply_case_context(line, word_starts[a:b])
                parts.append(_bars_as_i(line, boxes[a:b]) if bars_as_i else line)
                flags.append(line_lower)
        if parts:
            probs, lower = np.concatenate(parts), np.concatenate(flags)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    out = []
    for row, idx, box, low in zip(probs, order, boxes, lower, strict=True):
        cands = [(_printed(int(k), bool(low)), float(row[k])) for k in idx]
        out.append(Char(cands[0][0], box, cands[0][1], tuple(cands[1:])))
    return out


def _printed(k: int, lower: bool) -> str:
    """Class ``k``'s character, a merged class in lower case when ``lower``."""
    return LABELS[k].lower() if lower and _MERGED[k] else LABELS[k]


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


def decode_page(
    lines: Sequence[Sequence[Box]],
    starts: Sequence[Sequence[bool]],
    probs: NDArray[np.float32],
    members: Sequence[str],
    *,
    index: int,
    width: int,
    height: int,
    source: str | None = None,
    charset: Charset | None = None,
    word_context: bool = True,
    case_context: bool = True,
    letter_prior: float = LETTER_PRIOR,
    bars_as_i: bool = True,
    to_page: Callable[[Box], Box] | None = None,
) -> Page:
    """Decode one page's classified glyphs into a :class:`~handocr.result.Page`.

    The charset restriction comes first (:meth:`handocr.labels.Charset.restrict`), then the
    context (:func:`decode_chars`: letter prior, line and case context), then each member's
    vote is attached (:func:`attach_votes`) and the boxes are mapped to the input page.

    Parameters
    ----------
    lines : sequence of sequence of Box
        Each line's glyph boxes, left to right, in the pixels the page was segmented in.
    starts : sequence of sequence of bool
        Per line, one flag per glyph: True where a word begins.
    probs : ndarray of float32, shape (N, 1 + M, 47)
        One row per glyph in reading order: the voted probabilities, then each of the ``M``
        members' own (NaN where a cascade did not run that member).
    members : sequence of str
        The ``M`` members' names (``"arch.tag"``).
    index, width, height : int
        Page position in its document and size in pixels.
    source : str, optional
    charset : Charset, optional
        Restrict the output to this set.
    word_context, case_context : bool, default True
        Letter/digit context per line and word; case context (:func:`decode_chars`).
    letter_prior : float, default :data:`LETTER_PRIOR`
    bars_as_i : bool, default True
        See :func:`decode_chars`.
    to_page : callable, optional
        Maps a box to the input page's pixels (e.g.
        :meth:`handocr.preprocess.LevelledPage.to_input` after deskewing); applied after
        decoding, so the context sees the boxes it was segmented with.

    Returns
    -------
    Page

    Raises
    ------
    ValueError
        ``probs`` has not one row per glyph.
    """
    sizes = [len(row) for row in lines]
    if len(probs) != sum(sizes):
        raise ValueError(f"{len(probs)} probability rows for {sum(sizes)} glyphs")
    if not sum(sizes):
        return Page(index, width, height, (), source)
    voted, per_member = probs[:, 0], probs[:, 1:]
    if charset is not None:
        voted = charset.restrict(voted)
    boxes = [b for row in lines for b in row]
    flat_starts = [s for row in starts for s in row]
    chars = decode_chars(
        voted,
        boxes,
        word_starts=flat_starts if word_context else None,
        line_sizes=sizes if word_context else None,
        letter_prior=letter_prior,
        case_context=case_context,
        bars_as_i=bars_as_i,
    )
    chars = attach_votes(chars, per_member, members)
    if to_page is not None:
        chars = [dataclasses.replace(c, box=to_page(c.box)) for c in chars]
    return assemble_page(
        chars, sizes, flat_starts, index=index, width=width, height=height, source=source
    )
