"""Word lists read and folded for the lexicons (:mod:`handocr.lexicon`).

Words are folded to the line members' alphabet (:data:`handocr.models.line.FOLDED`: digits,
capitals, ``- / . , ' :``): accents stripped, ``ß`` -> ``SS``, no case. A list file holds one
entry per line with an optional frequency; its size, entry count and word length are bounded.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path

from handocr.errors import OptionError
from handocr.models.line import FOLDED

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "MAX_WORD", "fold_word", "folded_text", "read_word_list"]

MAX_ENTRIES = 2_000_000
"""A word list longer than this is refused (memory stays bounded)."""

MAX_BYTES = 256 * 2**20
"""A word list file larger than this is refused."""

MAX_WORD = 64
"""Longer words (symbols) are left out of a list: no name or word is that long, and the
n-gram model's memory grows with the symbols it counts."""

_SPECIAL = {"ß": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE", "Ø": "O", "ø": "O"}
_FOLDED = frozenset(FOLDED)
_PLAIN = re.compile("[" + re.escape(FOLDED) + "]+")
_NUMBER = re.compile(r"\d+(\.\d*)?([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?")


def folded_text(reading: Sequence[int]) -> str:
    """Return the text of folded symbol indices (:data:`handocr.models.line.FOLDED`)."""
    return "".join(map(FOLDED.__getitem__, reading))


def fold_word(text: str) -> str | None:
    """Fold a word to the reading alphabet: accents stripped, capitals, no case.

    Returns
    -------
    str or None
        The folded word (:data:`handocr.models.line.FOLDED` symbols only), or None when it is
        empty or holds another character (a digit-letter mix is kept; a space is not).
    """
    text = text.strip()
    if text.isascii():  # the common case, without Unicode decomposition
        up = text.upper()
        return up if _PLAIN.fullmatch(up) else None
    text = "".join(_SPECIAL.get(ch, ch) for ch in text)
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    ).upper()
    if not plain or any(ch not in _FOLDED for ch in plain):
        return None
    return plain


def read_word_list(path: Path, *, limit: int = MAX_ENTRIES) -> dict[str, float]:
    """Read a word list: one entry per line, an optional frequency after a tab or space.

    A ``.gz`` file is read compressed. Blank lines and lines starting with ``#`` are skipped;
    an entry of several words (``Le Roux``) adds each of them; entries that do not fold
    (:func:`fold_word`) or are longer than :data:`MAX_WORD` symbols are left out. A
    frequency, where given, must be a number >= 0 (the largest of an entry's lines is kept);
    otherwise 1.

    Raises
    ------
    OptionError
        The file is missing, unreadable (a damaged ``.gz`` too), larger than :data:`MAX_BYTES`
        (compressed or not), not UTF-8, holds more than ``limit`` entries, or no usable entry.
    """
    if not path.is_file():
        raise OptionError(f"lexicon file not found: {path}")
    if path.stat().st_size > MAX_BYTES:
        raise OptionError(f"lexicon file {path} is larger than {MAX_BYTES // 2**20} MiB")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
        else:
            raw = path.read_bytes()
        if len(raw) > MAX_BYTES:
            raise OptionError(f"lexicon {path} holds more than {MAX_BYTES // 2**20} MiB of text")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, zlib.error) as exc:
        raise OptionError(f"cannot read lexicon {path}: {exc}") from exc
    words: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry, freq = _entry(line, path, n)
        for part in entry.split():
            w = fold_word(part) if len(part) <= MAX_WORD else None
            if w is not None and len(w) <= MAX_WORD:
                words[w] = max(words.get(w, 0.0), freq)
        if len(words) > limit:
            raise OptionError(f"lexicon {path} holds more than {limit} entries")
    if not words:
        raise OptionError(f"lexicon {path} holds no usable word (one word per line, UTF-8)")
    return words


def _entry(line: str, path: Path, n: int) -> tuple[str, float]:
    """Split a list line into its entry and frequency (1 when none is given)."""
    head, sep, tail = line.rpartition("\t") if "\t" in line else line.rpartition(" ")
    if not sep or not _NUMBER.fullmatch(tail):  # "Mary Nan" is two names, not a frequency
        if sep and tail.startswith("-") and _NUMBER.fullmatch(tail[1:]):
            raise OptionError(f"{path}:{n}: frequency must be a number >= 0, not {tail!r}")
        return line, 1.0
    return head, float(tail)
