"""The 47-class EMNIST Balanced label map and its case rules.

EMNIST Balanced / ByMerge (Cohen et al. 2017, arXiv:1702.05373) keeps 47 classes: the digits
``0-9``, the upper-case letters ``A-Z`` and the eleven lower-case letters whose shape differs from
their capital (``a b d e f g h n q r t``). The lower-case letters ``c i j k l m o p s u v w x y z``
are merged into their upper-case class, so handocr prints those in upper case.
"""

from __future__ import annotations

__all__ = ["DIGITS", "LABELS", "MERGED_LOWER", "NUM_CLASSES", "UPPER", "index_of"]

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
KEPT_LOWER = "abdefghnqrt"
MERGED_LOWER = "cijklmopsuvwxyz"

LABELS: tuple[str, ...] = tuple(DIGITS + UPPER + KEPT_LOWER)
"""Class index -> character, in the order of ``emnist-balanced-mapping.txt``."""

NUM_CLASSES = len(LABELS)  # 47

_INDEX = {ch: i for i, ch in enumerate(LABELS)}


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
