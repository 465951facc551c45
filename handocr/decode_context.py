"""Decoding context: the letter prior, the letter/digit context and the case context.

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

Bars: the merged class ``L`` also holds lower-case ``l``, a plain bar; in a line of capitals a
bar-shaped glyph is read as ``I`` (:func:`read_bars_as_i`, :data:`BAR_ASPECT`).

:mod:`handocr.decode` applies these to a page's classified glyphs and builds the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.errors import OptionError
from handocr.labels import DIGITS, LABELS, LETTER_FREQUENCY, MERGED_LOWER, Charset
from handocr.result import KINDS, Box

__all__ = [
    "BAR_ASPECT",
    "CASE_PRIOR",
    "DecodeConfig",
    "KIND_CHOICES",
    "LETTER_PRIOR",
    "LINE_TYPE_PRIOR",
    "TYPE_PRIOR",
    "apply_case_context",
    "apply_letter_prior",
    "apply_line_context",
    "apply_word_context",
    "read_bars_as_i",
]

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


KIND_CHOICES = ("all", *KINDS)
"""Values of :attr:`DecodeConfig.kind`: every word, or only the words of one kind."""

LETTER_PRIOR = 1.0
"""Default weight of the letter-frequency prior (:func:`apply_letter_prior`); 0 turns it off."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodeConfig:
    """How classified glyphs become text: the decoding stage's options.

    Attributes
    ----------
    charset : Charset or None, default None
        Restrict output to a character set for fields of known type: ``digits``, ``upper``,
        ``letters``, ``alnum`` or explicit characters; a string is resolved
        (:meth:`handocr.labels.Charset.parse`).
    word_context : bool, default True
        Resolve digit/letter look-alikes from the line and word they stand in, with the letter
        prior (:func:`apply_line_context`).
    case_context : bool, default True
        Decide each line's (or word's) case and print EMNIST's merged classes in it
        (:func:`apply_case_context`); needs ``word_context``.
    bars_as_i : bool, default True
        In a line that is not lower case, a bar-shaped glyph filed under ``L`` (EMNIST merges
        lower-case l into L) reads ``I`` (:data:`BAR_ASPECT`).
    letter_prior : float, default 1.0
        Weight of the English letter-frequency prior (:func:`apply_letter_prior`; 1 is Bayes'
        rule for English text, 0 turns it off for codes and serial numbers); >= 0.
    kind : {"all", "handwritten", "printed"}, default "all"
        Which words a read page keeps (:data:`KIND_CHOICES`): every word, or only those of one
        kind (:func:`handocr.kind.keep_kind`, applied once a page is read and fused).
    reject_below : float or None, default None
        Words whose ``confidence`` is below this, in ``[0, 1]``, are marked ``rejected``
        (:attr:`handocr.result.Word.rejected`): JSON keeps them marked, the text format shows
        :data:`handocr.result.REJECTED` in their place, for a person to check.
    lexicon : str or None, default None
        A shipped lexicon (``names``, ``words-en``, ``words-de``) or the path of a word list
        (:func:`handocr.lexicon.load_lexicon`): the line fusion also scores each reading by its
        words (found in the lexicon, and their letters under its character n-gram model), and
        each word keeps its free reading (:attr:`handocr.result.Word.free`). Needs line
        members (the default models have one); without them it is ignored.

    Raises
    ------
    OptionError
        A value outside the documented range or set.
    """

    charset: Charset | None = None
    word_context: bool = True
    case_context: bool = True
    bars_as_i: bool = True
    letter_prior: float = LETTER_PRIOR
    kind: str = "all"
    reject_below: float | None = None
    lexicon: str | None = None

    def __post_init__(self) -> None:
        """Check every value and resolve the typed ones."""
        set_ = object.__setattr__  # frozen: resolved values are set once, here
        if self.charset is not None:
            set_(self, "charset", Charset.parse(self.charset))
        try:
            prior = float(self.letter_prior)
        except (TypeError, ValueError):
            raise OptionError(f"letter_prior must be a number, not {self.letter_prior!r}") from None
        if not prior >= 0:
            raise OptionError(f"letter_prior must be >= 0, not {self.letter_prior!r}")
        set_(self, "letter_prior", prior)
        for name in ("word_context", "case_context", "bars_as_i"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if self.kind not in KIND_CHOICES:
            raise OptionError(f"kind must be one of {', '.join(KIND_CHOICES)}, not {self.kind!r}")
        if self.reject_below is not None:
            try:
                level = float(self.reject_below)
            except (TypeError, ValueError):
                level = float("nan")
            if isinstance(self.reject_below, bool) or not 0.0 <= level <= 1.0:
                raise OptionError(f"reject_below must be in [0, 1], not {self.reject_below!r}")
            set_(self, "reject_below", level)
        if self.lexicon is not None:
            from handocr.lexicon import check_lexicon_spec

            check_lexicon_spec(self.lexicon)


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


def read_bars_as_i(probs: NDArray[np.float32], boxes: Sequence[Box]) -> NDArray[np.float32]:
    """In a line of capitals, read a bar that EMNIST files under ``L`` (lower-case l) as ``I``.

    EMNIST-47 merges lower-case ``l`` into ``L``, so the classifier often calls a plain vertical
    bar ``L``. A capital L has a foot, so a glyph narrower than :data:`BAR_ASPECT` times its
    height cannot be one; unless the line is lower-case (a fifth or more of its characters are
    lower-case-only classes), its ``L`` probability moves to ``I``.

    Parameters
    ----------
    probs : ndarray of float32, shape (n, 47)
        One line's probabilities (after the line and case context).
    boxes : sequence of Box
        The ``n`` glyphs' boxes.

    Returns
    -------
    ndarray of float32, shape (n, 47)
        ``probs`` itself when nothing moves, else a copy.
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
