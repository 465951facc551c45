"""Fusion of line members (CTC) with the character members in the segmentation search.

The character members read each candidate glyph of a line's lattice (28x28 EMNIST crops, 47
classes); a line member reads the whole line crop at once and gives per-frame posteriors
(:mod:`handocr.models.line`). They fail differently: the characters see each glyph alone, the
line member sees context but no boxes. The fusion scores whole readings of a line with both.

**Hypotheses.** A line's candidate readings are the character members' reading (the decoded
search path), each line member's own reading (best-path decoding) and its n best by CTC prefix
beam search, and the recombinations of consecutive own readings (aligned by edit distance, each
stretch where they differ taken from one or the other, as ROVER does: Fiscus 1997, "A
post-processing system to yield reduced word error rates", IEEE ASRU).

**Scores.** A reading ``s`` (folded: digits, capitals, ``- / . , ' :``) scores

``score(s) = A(s) + sum_m w_m log P_m(s | line crop) + w_len |s|``

where ``log P_m`` is line member ``m``'s CTC probability of ``s`` (forward algorithm,
:func:`handocr.ctc.sequence_log_probs`), and ``A(s)`` is the best forced alignment of ``s`` to
the lattice: a path of candidates, one per character, scoring ``w_seg`` times each candidate's
segmentation score (the verifier's log-odds) plus ``w_char`` times the character members' log
probability of the aligned character; a character that no candidate carries (a hyphen the
layout dropped as a stray mark) costs ``w_ins``, a layout glyph left out (a speck) ``w_del``;
characters the 47 classes cannot say (punctuation) get the log-probability ``w_punct``. The
weights are fitted on the train splits (``handocr fit-fusion``) and kept in the manifest.

**Output.** The best reading's characters keep the segmentation's boxes (a character without a
candidate gets the columns its frames cover); a letter's case comes from the line members.
Confidence is agreement, not the winner's probability alone: the readings' posterior is
``softmax(score / T)``, and a character's confidence is the posterior mass of the readings that
agree with it at its place (so where the members disagree, confidence drops). Every character
keeps each character member's vote (on its candidate) and each line member's vote (the member's
most probable class over the frames aligned to it).
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.ctc import (
    best_path,
    forced_alignment,
    prefix_beam_search,
    restrict_classes,
    sequence_log_probs,
)
from handocr.labels import LABELS, Charset
from handocr.lexicon import (
    Lexicon,
    LexiconWeights,
    folded_text,
    free_words,
    lexicon_parts,
    lexicon_readings,
    reading_words,
)
from handocr.models.line import FOLDED, LineReading, allowed_symbols
from handocr.readings import (
    PUNCT_COLS,
    FusedNotes,
    agreement,
    align_readings,
    backtrace,
    lexicon_scores,
    platt_scale,
    posterior,
    recombine,
    word_support,
)
from handocr.result import Box, Char, Page, page_blocks
from handocr.segment.search import LineSearch

__all__ = [
    "FusionWeights",
    "LineFeatures",
    "fuse_line",
    "line_features",
]

_F = len(FOLDED)
_FOLD = np.zeros((len(LABELS), _F), np.float64)  # 47 classes -> folded symbols
for _k, _ch in enumerate(LABELS):
    _FOLD[_k, FOLDED.index(_ch.upper())] = 1.0


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """The fitted weights of the fusion (see the module's formula).

    Attributes
    ----------
    segment, char : float
        Weights of the candidates' segmentation scores and of the character members' log
        probabilities in ``A(s)``.
    line : mapping of str to float
        Weight of each line member's CTC log-probability, by ``"arch.tag"`` (1.0 when absent).
    insert, delete : float
        Log-scores of a character without a candidate and of a layout glyph left out (<= 0).
    punct : float
        Log-probability the character members give a punctuation mark.
    length : float
        Added per character of a reading.
    own_distance : float
        Times the edit distance of a reading to the character members' reading (a vote for
        what they read, ROVER's agreement).
    line_distance : mapping of str to float
        Times the edit distance to each line member's best reading, by ``"arch.tag"``.
    temperature : float
        The readings' posterior is ``softmax(score / temperature)`` (> 0).
    exact_slope, exact_bias : float
        Platt scaling (Platt 1999) of a posterior ``p`` into P(exact): ``sigmoid(slope *
        logit(p) + bias)``; fitted by ``benchmarks/fit_exact.py``, ``1, 0`` where none was kept.
    """

    segment: float = 1.0
    char: float = 1.0
    line: Mapping[str, float] = field(default_factory=dict)
    insert: float = -6.0
    delete: float = -6.0
    punct: float = -3.0
    length: float = 0.0
    own_distance: float = 0.0
    line_distance: Mapping[str, float] = field(default_factory=dict)
    temperature: float = 1.0
    exact_slope: float = 1.0
    exact_bias: float = 0.0

    def exact(self, p: float) -> float:
        """Return the Platt-scaled probability of an exact reading for a posterior ``p``."""
        return platt_scale(p, self.exact_slope, self.exact_bias)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FusionWeights:
        """Read the manifest's ``fusion`` entry (unknown keys, e.g. fit reports, are ignored)."""
        maps = ("line", "line_distance")
        names = {f.name for f in dataclasses.fields(cls)} - set(maps)
        kw: dict[str, Any] = {k: float(v) for k, v in d.items() if k in names}
        kw |= {k: {str(n): float(v) for n, v in (d.get(k) or {}).items()} for k in maps}
        return cls(**kw)

    @classmethod
    def pick(cls, entry: Mapping[str, Any], charset: str | None) -> FusionWeights:
        """Return the weights of the manifest's ``fusion`` entry for a charset.

        Fields of a known type are fitted apart (``by_charset``, e.g. ``digits`` on cheque
        amounts); any other reading takes the entry's own weights (fitted on free text). An
        empty entry gives the defaults.
        """
        by = entry.get("by_charset") or {}
        return cls.from_dict(by.get(charset, entry))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form read by :meth:`from_dict`."""
        out = dataclasses.asdict(self)
        out["line"], out["line_distance"] = dict(self.line), dict(self.line_distance)
        return out

    def score(self, f: LineFeatures, keys: Sequence[str]) -> NDArray[np.float64]:
        """Each reading's score from its features (the module's formula)."""
        s = self.segment * f.segment + self.char * (f.char + self.punct * f.puncts)
        s = s + self.insert * f.inserts + self.delete * f.deletes + self.length * f.lengths
        s = s + self.own_distance * f.distance[:, 0]
        for m, key in enumerate(keys):
            s = s + self.line.get(key, 1.0) * f.ctc[:, m]
            s = s + self.line_distance.get(key, 0.0) * f.distance[:, 1 + m]
        return np.asarray(s, np.float64)


@dataclass(frozen=True, slots=True)
class LineFeatures:
    """A line's candidate readings and the parts of their scores.

    Attributes
    ----------
    readings : list of tuple of int
        Folded symbol indices (``FOLDED``), ``H`` readings; reading 0 is the character
        members' own.
    segment, char : ndarray of float64, shape (H,)
        Sums over the best lattice alignment of the candidates' segmentation scores and of
        the character members' log-probabilities (punctuation excluded).
    inserts, deletes, puncts : ndarray of float64, shape (H,)
        Characters without a candidate, layout glyphs left out, punctuation marks aligned to a
        candidate, in that alignment.
    lengths : ndarray of float64, shape (H,)
    ctc : ndarray of float64, shape (H, M)
        Each line member's CTC log-probability of each reading.
    distance : ndarray of float64, shape (H, 1 + M)
        Edit distance of each reading to the character members' reading and to each line
        member's best.
    words : list of tuple of int
        Per reading, each symbol's lattice word in its alignment (:func:`reading_words`).
    hits, gains : ndarray of float64, shape (H,), or None
        With a lexicon: the reading's share of symbols in lexicon words and its tokens' n-gram
        gains (:func:`handocr.lexicon.lexicon_parts`); None without one.
    lexical : ndarray of bool, shape (H,), or None
        With a lexicon: the readings made by putting lexicon words in (not the free ones).
    """

    readings: list[tuple[int, ...]]
    segment: NDArray[np.float64]
    char: NDArray[np.float64]
    inserts: NDArray[np.float64]
    deletes: NDArray[np.float64]
    puncts: NDArray[np.float64]
    lengths: NDArray[np.float64]
    ctc: NDArray[np.float64]
    distance: NDArray[np.float64]
    words: list[tuple[int, ...]] = field(default_factory=list)
    hits: NDArray[np.float64] | None = None
    gains: NDArray[np.float64] | None = None
    lexical: NDArray[np.bool_] | None = None


def _folded_char_log_probs(
    probs: NDArray[np.float32], charset: Charset | None
) -> NDArray[np.float64]:
    """Character members' log-probabilities of the folded symbols, ``(C, 47)`` -> ``(C, F)``."""
    p = charset.restrict(probs) if charset is not None else probs
    out = np.log(np.asarray(p, np.float64) @ _FOLD + 1e-6)
    out[:, PUNCT_COLS] = 0.0  # punctuation is scored by its own weight
    return out


def line_features(
    search: LineSearch,
    own: tuple[int, ...],
    readings: Sequence[LineReading],
    keys: Sequence[str],
    *,
    weights: FusionWeights,
    charset: Charset | None = None,
    beam: int = 8,
    nbest: int = 4,
    lexicon: Lexicon | None = None,
    lexicon_weights: LexiconWeights | None = None,
) -> LineFeatures:
    """Gather a line's candidate readings and score their parts (see the module).

    Parameters
    ----------
    search : LineSearch
        The line's lattice, its candidates' probabilities and segmentation scores.
    own : tuple of int
        The character members' reading of the line (folded symbol indices).
    readings : sequence of LineReading
        Each line member's posteriors for the line's crop.
    keys : sequence of str
        The line members' ``"arch.tag"`` names, in the order of ``readings``.
    weights : FusionWeights
        The alignment's insertion, deletion and punctuation costs are applied inside it.
    charset : Charset, optional
        Readings hold only its symbols (:func:`allowed_symbols`).
    beam, nbest : int
        The line members' prefix beam search (:func:`handocr.ctc.prefix_beam_search`).
    lexicon : Lexicon, optional
        The words of the best readings (by ``weights``) are looked up in it: lexicon words
        near them make further readings (:func:`handocr.lexicon.lexicon_readings`), and every
        reading gets its lexicon parts (:attr:`LineFeatures.hits`, :attr:`LineFeatures.gains`).
    lexicon_weights : LexiconWeights, optional
        How many readings and neighbours are looked up (default :class:`LexiconWeights`).

    Returns
    -------
    LineFeatures
    """
    ok = allowed_symbols(charset)
    allowed = np.r_[True, ok]
    lps = [restrict_classes(r.log_probs, allowed) for r in readings]
    found: list[tuple[int, ...]] = [own]
    bests: list[tuple[int, ...]] = [own]
    for lp in lps:
        greedy = tuple(s - 1 for s in best_path(lp))  # the member's own reading
        found.append(greedy)
        bests.append(greedy)
        found.extend(
            tuple(s - 1 for s in seq) for seq, _ in prefix_beam_search(lp, beam=beam, nbest=nbest)
        )
    for a, b in pairwise(dict.fromkeys(bests)):
        found.extend(sorted(recombine(a, b)))
    if len(bests) > 2:
        found.extend(sorted(recombine(bests[0], bests[-1])))
    uniq = [r for r in dict.fromkeys(found) if all(ok[s] for s in r)] or [own]
    char_lp = _folded_char_log_probs(search.probs[:, 0], charset)
    f = _scored_parts(search, char_lp, uniq, lps, bests, weights)
    if lexicon is None:
        return f
    lw = lexicon_weights or LexiconWeights()
    texts = [folded_text(r) for r in f.readings]
    made = lexicon_readings(texts, f.words, weights.score(f, keys), lexicon, lw)
    made = [t for t in made if all(ok[FOLDED.index(ch)] for ch in t)]
    if made:
        more = [tuple(FOLDED.index(ch) for ch in t) for t in made]
        f = _join(f, _scored_parts(search, char_lp, more, lps, bests, weights))
    return _with_lexicon(f, texts + made, lexicon)


def _join(f: LineFeatures, g: LineFeatures) -> LineFeatures:
    """Join the readings of ``f`` and then those of ``g`` (lexicon parts not yet added)."""
    out: dict[str, Any] = {}
    for fld in dataclasses.fields(LineFeatures):
        a, b = getattr(f, fld.name), getattr(g, fld.name)
        out[fld.name] = a + b if isinstance(a, list) else None if a is None else np.r_[a, b]
    out["lexical"] = np.r_[np.zeros(len(f.readings), bool), np.ones(len(g.readings), bool)]
    return LineFeatures(**out)


def _scored_parts(
    search: LineSearch,
    char_lp: NDArray[np.float64],
    uniq: list[tuple[int, ...]],
    lps: Sequence[NDArray[np.float32]],
    bests: Sequence[tuple[int, ...]],
    weights: FusionWeights,
) -> LineFeatures:
    """Score the parts of each reading of ``uniq``: lattice alignment, CTC, edit distances."""
    lat = search.lattice
    total, choice, source = align_readings(search, char_lp, uniq, weights)
    parts = np.zeros((len(uniq), 5))
    words: list[tuple[int, ...]] = []
    for hh, r in enumerate(uniq):
        steps = backtrace(choice, source, hh, len(r))
        n = 0
        word_of: list[int] = []
        for kind, c in steps:
            if kind == 0:
                if r[n] in PUNCT_COLS:
                    parts[hh, 4] += 1
                else:
                    parts[hh, 1] += char_lp[c, r[n]]
                parts[hh, 0] += search.score[c]
                word_of.append(lat.word_of[lat.spans[c][0]])
                n += 1
            elif kind == 1:
                parts[hh, 2] += 1
                word_of.append(word_of[-1] if word_of else -1)
                n += 1
            else:
                parts[hh, 3] += 1
        words.append(tuple(word_of))
    del total
    ctc = np.zeros((len(uniq), len(lps)))
    for m, lp in enumerate(lps):
        ctc[:, m] = sequence_log_probs(lp, [tuple(s + 1 for s in r) for r in uniq])
    from rapidfuzz.distance import Levenshtein

    distance = np.array([[Levenshtein.distance(r, b) for b in bests] for r in uniq], np.float64)
    return LineFeatures(
        uniq,
        parts[:, 0],
        parts[:, 1],
        parts[:, 2],
        parts[:, 3],
        parts[:, 4],
        np.array([float(len(r)) for r in uniq]),
        ctc,
        distance.reshape(len(uniq), len(bests)),
        words,
    )


def _with_lexicon(f: LineFeatures, texts: list[str], lexicon: Lexicon) -> LineFeatures:
    """Add each reading's lexicon parts (``texts``: the readings' folded texts)."""
    hits, gains = lexicon_parts(texts, f.words, lexicon)
    lexical = f.lexical if f.lexical is not None else np.zeros(len(f.readings), bool)
    return dataclasses.replace(f, hits=hits, gains=gains, lexical=lexical)


def fuse_line(
    search: LineSearch,
    decoded: Sequence[Char],
    readings: Sequence[LineReading],
    keys: Sequence[str],
    *,
    weights: FusionWeights,
    members: Sequence[str],
    crop_x0: Sequence[int],
    charset: Charset | None = None,
    to_page: Callable[[Box], Box] | None = None,
    probe: Callable[[LineFeatures], None] | None = None,
    lexicon: Lexicon | None = None,
    lexicon_weights: LexiconWeights | None = None,
    notes: list[FusedNotes] | None = None,
) -> tuple[list[Char], list[bool]]:
    """Read one line by fusing the character members' reading with the line members'.

    Parameters
    ----------
    search : LineSearch
        The line's lattice; its path holds the candidates ``decoded`` was read from.
    decoded : sequence of Char
        The character members' decoded reading of the path (one per path candidate), in the
        segmentation's pixels (before ``to_page``).
    readings : sequence of LineReading
        Each line member's posteriors for the line crop.
    keys : sequence of str
        The line members' names, in the order of ``readings``.
    weights : FusionWeights
    members : sequence of str
        The character members' names (their votes are on the candidates' probabilities).
    crop_x0 : sequence of int
        Per reading, the page column of its crop's first column (frames -> columns).
    charset : Charset, optional
    to_page : callable, optional
        Maps a box to the input page's pixels.
    probe : callable, optional
        Called with the line's :class:`LineFeatures` (fitting, :mod:`handocr.train.fusion`).
    lexicon : Lexicon, optional
        Readings are also scored by their words (:func:`line_features`): ``hit`` times the
        share of their symbols in lexicon words plus ``gain`` times their n-gram gains.
    lexicon_weights : LexiconWeights, optional
        Default: :class:`LexiconWeights`.
    notes : list, optional
        The line's :class:`~handocr.readings.FusedNotes` is appended to it: the posterior of
        the reading chosen and of each of its words, and with a lexicon the free reading's
        words and which words were found in the lexicon.

    Returns
    -------
    (list of Char, list of bool)
        The line's characters, left to right, and their word-start flags.
    """
    own = tuple(FOLDED.index(c.text.upper()) for c in decoded)
    lw = lexicon_weights or LexiconWeights()
    f = line_features(search, own, readings, keys, weights=weights, charset=charset,
                      lexicon=lexicon, lexicon_weights=lw)  # fmt: skip
    if probe is not None:
        probe(f)
    best, post = _choose(f, keys, weights, lexicon, lw, notes)
    reading = f.readings[best]
    char_lp = _folded_char_log_probs(search.probs[:, 0], charset)
    _, choice, source = align_readings(search, char_lp, [reading], weights)
    steps = [s for s in backtrace(choice, source, 0, len(reading)) if s[0] != 2]
    support, alternatives = agreement(f.readings, post, reading)
    ok = np.r_[True, allowed_symbols(charset)]
    lps = [restrict_classes(r.log_probs, ok) for r in readings]
    spans = [forced_alignment(lp, [s + 1 for s in reading]) for lp in lps]
    lat = search.lattice
    path_char = dict(zip(search.path, decoded, strict=True))
    line_box = Box.enclosing([lat.pieces[c].box for c in search.path])
    chars: list[Char] = []
    starts: list[bool] = []
    word = -1
    for n, ((kind, c), sym) in enumerate(zip(steps, reading, strict=True)):
        text = _cased(FOLDED[sym], n, spans, readings, path_char.get(c))
        if kind == 0:
            box = lat.pieces[c].box
            new_word = lat.word_of[lat.spans[c][0]] != word
            word = lat.word_of[lat.spans[c][0]]
            votes = _char_votes(search.probs[c, 1:], members)
        else:
            box = _frames_box(n, spans, readings, crop_x0, line_box)
            new_word = not chars
            votes = ()
        votes = votes + _line_votes(n, spans, lps, keys)
        if to_page is not None:
            box = to_page(box)
        alts = tuple((a if text.isupper() or not a.isalpha() else a.lower(), p)
                     for a, p in alternatives[n] if a != text.upper())  # fmt: skip
        chars.append(Char(text, box, float(support[n]), alts[:2], votes))
        starts.append(new_word or not starts)
    return chars, starts


def _choose(
    f: LineFeatures,
    keys: Sequence[str],
    weights: FusionWeights,
    lexicon: Lexicon | None,
    lw: LexiconWeights,
    notes: list[FusedNotes] | None,
) -> tuple[int, NDArray[np.float64]]:
    """Return the best reading (lexicon parts added) and the posterior; append the notes."""
    base = weights.score(f, keys)
    score = lexicon_scores(base, f, lw)
    best = int(np.argmax(score))
    said: tuple[Any, Any] = (None, None)
    if lexicon is not None and f.lexical is not None:
        own = int(np.argmax(lexicon_scores(base, f, None)))
        said = free_words(folded_text(f.readings[own]), f.words[own], folded_text(f.readings[best]),
                          f.words[best], lexicon)  # fmt: skip
    post = posterior(score, weights.temperature)
    if notes is not None:
        r = f.readings[best]
        per_word = word_support(f.readings, post, r, reading_words(r, f.words[best]))
        scale = lw if lexicon is not None and lw.exact_slope is not None else weights
        notes.append(
            FusedNotes(scale.exact(float(post[best])), [scale.exact(v) for v in per_word], *said)
        )
    return best, post


def _cased(
    sym: str,
    n: int,
    spans: Sequence[list[tuple[int, int]] | None],
    readings: Sequence[LineReading],
    own: Char | None,
) -> str:
    """Return character ``n`` in the case the line members give it over its frames."""
    if sym not in string.ascii_uppercase:
        return sym
    k = string.ascii_uppercase.index(sym)
    shares = [
        float(r.upper[sp[n][0] : sp[n][1], k].mean())
        for r, sp in zip(readings, spans, strict=True)
        if sp is not None and sp[n][1] > sp[n][0] and not np.all(r.upper[:, k] == 0.5)
    ]
    if shares:
        return sym if np.mean(shares) >= 0.5 else sym.lower()
    if own is not None and own.text.upper() == sym:
        return own.text
    return sym


def _frames_box(
    n: int,
    spans: Sequence[list[tuple[int, int]] | None],
    readings: Sequence[LineReading],
    crop_x0: Sequence[int],
    line_box: Box,
) -> Box:
    """Return a box for a character without a candidate: its frames' columns, the line's rows."""
    for r, sp, x0 in zip(readings, spans, crop_x0, strict=True):
        if sp is not None and sp[n][1] > sp[n][0]:
            a = x0 + int(sp[n][0] * r.width)
            b = x0 + int(np.ceil(sp[n][1] * r.width))
            a = min(max(a, line_box.x0 - line_box.height), line_box.x1 + line_box.height)
            return Box(a, line_box.y0, max(a + 1, b), line_box.y1)
    return line_box


def _char_votes(
    per_member: NDArray[np.float32], members: Sequence[str]
) -> tuple[tuple[str, str, float], ...]:
    """Each character member's top class and probability on a candidate (NaN: did not run)."""
    out = []
    for k, name in enumerate(members):
        row = per_member[k]
        if np.isnan(row[0]):
            continue
        top = int(np.argmax(row))
        out.append((name, LABELS[top], float(row[top])))
    return tuple(out)


def _line_votes(
    n: int,
    spans: Sequence[list[tuple[int, int]] | None],
    lps: Sequence[NDArray[np.float32]],
    keys: Sequence[str],
) -> tuple[tuple[str, str, float], ...]:
    """Each line member's most probable symbol over the frames aligned to character ``n``."""
    out = []
    for key, lp, sp in zip(keys, lps, spans, strict=True):
        if sp is None or sp[n][1] <= sp[n][0]:
            continue
        seg = np.exp(lp[sp[n][0] : sp[n][1], 1:]).max(0)
        top = int(np.argmax(seg))
        out.append((key, FOLDED[top], float(min(1.0, seg[top]))))
    return tuple(out)


def fused_page(page: Page, lines: Sequence[tuple[list[Char], list[bool]]]) -> Page:
    """Rebuild a page from fused lines (characters with word starts), in order.

    ``lines`` holds one entry per line of ``page.lines``: each fused line keeps its line's
    baseline and block; a line left without characters is dropped from its block (and a block
    left without lines from the page).

    Raises
    ------
    ValueError
        Not one fused line per line of the page.
    """
    from handocr.decode import assemble_page

    if len(lines) != len(page.lines):
        raise ValueError(f"{len(lines)} fused lines for a page of {len(page.lines)}")
    block_of = [k for k, b in enumerate(page_blocks(page)) for _ in range(b.count)]
    fused = assemble_page(
        [c for chars, _ in lines for c in chars],
        [len(chars) for chars, _ in lines],
        [s for _, starts in lines for s in starts],
        index=page.index,
        width=page.width,
        height=page.height,
        source=page.source,
        blocks=block_of if page.blocks else None,
        baselines=[line.baseline for line in page.lines],
    )
    return dataclasses.replace(fused, number=page.number)
