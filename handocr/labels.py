"""The 47-class EMNIST Balanced label map and its case rules.

EMNIST Balanced / ByMerge (Cohen et al. 2017, arXiv:1702.05373) keeps 47 classes: the digits
``0-9``, the upper-case letters ``A-Z`` and the eleven lower-case letters whose shape differs from
their capital (``a b d e f g h n q r t``). The lower-case letters ``c i j k l m o p s u v w x y z``
are merged into their upper-case class, so handocr prints those in upper case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import OptionError

__all__ = [
    "CHARSETS",
    "Charset",
    "DIGITS",
    "LABELS",
    "LETTER_FREQUENCY",
    "MERGED_LOWER",
    "NUM_CLASSES",
    "UPPER",
    "charset_fold",
    "index_of",
]

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
KEPT_LOWER = "abdefghnqrt"
MERGED_LOWER = "cijklmopsuvwxyz"

LABELS: tuple[str, ...] = tuple(DIGITS + UPPER + KEPT_LOWER)
"""Class index -> character, in the order of ``emnist-balanced-mapping.txt``."""

NUM_CLASSES = len(LABELS)  # 47

_INDEX = {ch: i for i, ch in enumerate(LABELS)}

LETTER_FREQUENCY = {
    "a": 0.08167, "b": 0.01492, "c": 0.02782, "d": 0.04253, "e": 0.12702, "f": 0.02228,
    "g": 0.02015, "h": 0.06094, "i": 0.06966, "j": 0.00153, "k": 0.00772, "l": 0.04025,
    "m": 0.02406, "n": 0.06749, "o": 0.07507, "p": 0.01929, "q": 0.00095, "r": 0.05987,
    "s": 0.06327, "t": 0.09056, "u": 0.02758, "v": 0.00978, "w": 0.02360, "x": 0.00150,
    "y": 0.01974, "z": 0.00074,
}  # fmt: skip
"""Relative frequency of each letter in general English text, from R. E. Lewand,
*Cryptological Mathematics* (Mathematical Association of America, 2000), p. 36; sums to 1."""

CHARSETS = {
    "digits": DIGITS,
    "upper": UPPER,
    "letters": UPPER + KEPT_LOWER,
    "alnum": DIGITS + UPPER + KEPT_LOWER,
}
"""Named character sets for fields whose type is known."""


def index_of(char: str) -> int:
    """Return the class index of one character.

    Lower-case letters that EMNIST merges (``c i j k l m o p s u v w x y z``) map to their
    upper-case class.

    Parameters
    ----------
    char : str
        A single character.

    Returns
    -------
    int
        Class index in ``[0, 47)``.

    Raises
    ------
    KeyError
        ``char`` is not one of the 47 classes (after merging).

    Examples
    --------
    >>> index_of("7"), index_of("A"), index_of("a"), index_of("o")
    (7, 10, 36, 24)
    """
    if char in MERGED_LOWER:
        char = char.upper()
    return _INDEX[char]


def charset_fold(charset: str) -> tuple[int, ...]:
    """Map each of the 47 classes onto the class that a character set allows for it.

    A class in the set maps to itself; a class whose other case is in the set maps there (with
    ``upper``, the lower-case shapes ``a b d e f g h n q r t`` count as ``A B D ...``); any other
    class maps to -1 (ruled out).

    Parameters
    ----------
    charset : str
        A name from :data:`CHARSETS` (``digits``, ``upper``, ``letters``, ``alnum``) or explicit
        characters such as ``"0123456789ABCDEF"``. Lower-case letters that EMNIST merges count
        as their capitals.

    Returns
    -------
    tuple of int
        47 target class indices (or -1) in :data:`LABELS` order.

    Raises
    ------
    OptionError
        Explicit characters outside the 47 classes, or an empty set (a ``ValueError``).

    Examples
    --------
    >>> fold = charset_fold("upper")
    >>> LABELS[fold[index_of("a")]], fold[index_of("7")]
    ('A', -1)
    >>> sum(t >= 0 for t in charset_fold("digits")), sum(t >= 0 for t in charset_fold("alnum"))
    (10, 47)
    """
    chars = CHARSETS.get(charset, charset)
    allowed = set()
    for ch in chars:
        try:
            allowed.add(index_of(ch))
        except KeyError:
            raise OptionError(
                f"character {ch!r} of charset {charset!r} is not one of the 47 EMNIST classes; "
                f"use a name ({', '.join(CHARSETS)}) or characters from 0-9, A-Z, a-z"
            ) from None
    if not allowed:
        raise OptionError("the charset allows no character")
    fold = []
    for i, ch in enumerate(LABELS):
        partner = _INDEX.get(ch.swapcase(), -1) if ch.isalpha() else -1
        fold.append(i if i in allowed else partner if partner in allowed else -1)
    return tuple(fold)


@dataclass(frozen=True, slots=True)
class Charset:
    """A character set for fields of known type, resolved once to its class folding.

    Build it with :meth:`parse`; :class:`handocr.options.ReadOptions` does so for its
    ``charset`` option, so a set is checked and folded once, not at every page.

    Attributes
    ----------
    spec : str
        As given: a name from :data:`CHARSETS` or explicit characters.
    fold : tuple of int
        :func:`charset_fold` of ``spec``: 47 target class indices, -1 where ruled out.
    """

    spec: str
    fold: tuple[int, ...] = field(repr=False)

    @classmethod
    def parse(cls, spec: str | Charset) -> Charset:
        """Resolve a set name or explicit characters (a :class:`Charset` passes through).

        Raises
        ------
        OptionError
            As :func:`charset_fold`.
        """
        if isinstance(spec, Charset):
            return spec
        if not isinstance(spec, str):
            raise OptionError(f"charset must be a string, not {type(spec).__name__}")
        return cls(spec, charset_fold(spec))

    def __str__(self) -> str:
        """Return :attr:`spec`."""
        return self.spec

    def restrict(self, probs: NDArray[Any], *, normalize: bool = True) -> NDArray[np.float32]:
        """Restrict class probabilities to the set, folding other-case classes onto it.

        Parameters
        ----------
        probs : ndarray of float, shape (N, 47)
            Rows summing to 1, columns in :data:`LABELS` order.
        normalize : bool, default True
            Rescale each row to sum to 1. With False, each row keeps only the probability mass
            that falls on the set (after folding), so a crop that looks like no allowed
            character has a small row sum: what recognition-based segmentation compares.

        Returns
        -------
        ndarray of float32, shape (N, 47)
            Zero outside the set; rows summing to 1 when ``normalize`` (a row with no mass on
            the set becomes uniform over it), else to the mass on the set, in ``[0, 1]``.

        Examples
        --------
        >>> p = np.zeros((1, NUM_CLASSES), np.float32); p[0, index_of("a")] = 1.0
        >>> LABELS[int(Charset.parse("upper").restrict(p)[0].argmax())]
        'A'
        """
        fold = np.asarray(self.fold)
        out = np.zeros(np.shape(probs), np.float64)
        for i, target in enumerate(fold):
            if target >= 0:
                out[:, target] += probs[:, i]
        if not normalize:
            return out.astype(np.float32)
        total = out.sum(1, keepdims=True)
        uniform = (fold == np.arange(len(fold))).astype(np.float64)
        out = np.where(total > 0, out / np.maximum(total, 1e-30), uniform / uniform.sum())
        return out.astype(np.float32)
