"""Lexicons, the character n-gram model and the lexicon in the line fusion."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from handocr.decode_context import DecodeConfig
from handocr.errors import OptionError
from handocr.fusion import FusionWeights, fuse_line
from handocr.lexicon import (
    CharNgram,
    Lexicon,
    LexiconWeights,
    fold_word,
    free_words,
    group_words,
    lexicon_parts,
    lexicon_readings,
    load_lexicon,
    read_word_list,
    reading_words,
)
from handocr.models.line import FOLDED
from handocr.result import Box, Char, Word
from tests.unit.test_fusion import KEY, MEMBERS, _decoded, _reading, _search

NAMES = ["MARIE", "MARTIN", "MARC", "PIERRE", "JEAN", "JEAN-PIERRE", "MICHEL", "JEAN-MICHEL"]


def test_words_fold_to_the_reading_alphabet() -> None:
    assert fold_word("Hélène") == "HELENE"
    assert fold_word("Straße") == "STRASSE"
    assert fold_word(" jean-roch ") == "JEAN-ROCH"
    assert fold_word("O'Neil") == "O'NEIL"
    assert fold_word("Le Roux") is None  # a space: two words
    assert fold_word("x_y") is None and fold_word("") is None
    assert fold_word("Łódź") is None  # Ł does not decompose to a letter of the alphabet


def test_word_lists_read_frequencies_comments_and_gzip(tmp_path: Path) -> None:
    text = "# names\nMarie\t10\nJean 3\n\nLe Roux\t2\nx_y\nhélène\n"
    plain = tmp_path / "names.txt"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "names.txt.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    for path in (plain, packed):
        words = read_word_list(path)
        assert words == {"MARIE": 10.0, "JEAN": 3.0, "LE": 2.0, "ROUX": 2.0, "HELENE": 1.0}


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "no usable word"), (b"x_y\n", "no usable word"), (b"\xff\xfe\x00", "cannot read"),
     (b"MARIE\t-1\n", "frequency must be")],
)  # fmt: skip
def test_bad_word_lists_are_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(content)
    with pytest.raises(OptionError, match=message):
        read_word_list(path)


def test_too_long_a_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("\n".join(f"W{k}A" for k in range(20)), encoding="utf-8")
    with pytest.raises(OptionError, match="more than 10 entries"):
        read_word_list(path, limit=10)


def test_unknown_lexicons_name_the_shipped_ones(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="names, words-en, words-de"):
        load_lexicon("no-such-lexicon")
    with pytest.raises(OptionError, match="lexicon must be one of"):
        DecodeConfig(lexicon="no-such-lexicon")
    path = tmp_path / "mine.txt"
    path.write_text("MARIE\n", encoding="utf-8")
    assert DecodeConfig(lexicon=str(path)).lexicon == str(path)
    lex = load_lexicon(str(path))
    assert "MARIE" in lex and len(lex) == 1


def test_the_ngram_model_is_a_distribution_over_next_symbols() -> None:
    model = CharNgram(NAMES)
    for prefix in ("", "M", "MAR", "JEAN-", "QX"):
        assert model.next_probs(prefix).sum() == pytest.approx(1.0, abs=1e-12)
    chain = sum(math.log(model.next_probs("MARI"[:k])[FOLDED.index(ch)])
                for k, ch in enumerate("MARI"))  # fmt: skip
    end = math.log(model.next_probs("MARI")[-1])
    assert model.log_prob("MARI") == pytest.approx(chain + end)
    assert model.next_probs("MAR")[FOLDED.index("I")] > model.next_probs("MAR")[FOLDED.index("Q")]


def test_names_gain_and_strangers_lose() -> None:
    model = CharNgram(NAMES)
    assert model.gain("MARIE") > model.gain("HARIE") > 0 > model.gain("XQZV")


def test_neighbours_are_nearest_first_then_most_frequent() -> None:
    lex = Lexicon("t", {"MARIE": 5.0, "MARC": 1.0, "MARTIN": 2.0, "KARINE": 3.0})
    assert lex.neighbours("HARIE", 2, 8)[0] == "MARIE"
    assert lex.neighbours("MARI", 1, 8) == ["MARIE", "MARC"]  # equally near: the more frequent
    assert lex.neighbours("ZZZZZZ", 2, 8) == []


def test_the_symbol_count_bound_never_drops_a_neighbour() -> None:
    from rapidfuzz.distance import Levenshtein

    rng = np.random.default_rng(3)
    alphabet = list("ABCDEHILMNORST-'")
    words = {
        "".join(rng.choice(alphabet, rng.integers(1, 9))): float(rng.integers(1, 50))
        for _ in range(3000)
    }
    lex = Lexicon("t", words)
    for query in ["".join(rng.choice(alphabet, rng.integers(1, 9))) for _ in range(200)]:
        for distance in (1, 2):
            every = sorted(
                (Levenshtein.distance(query, w), -f, w)
                for w, f in words.items()
                if Levenshtein.distance(query, w) <= distance
            )
            assert lex.neighbours(query, distance, 8) == [w for *_, w in every[:8]]


def test_letter_spaced_words_are_grouped_into_one_token() -> None:
    lex = Lexicon("t", NAMES)
    text = "JEAN-MICHEL"
    spans = [(0, 1), (1, 2), (2, 5), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10), (10, 11)]
    assert group_words(text, spans, lex) == [(0, 11, True)]
    # two names side by side stay two tokens; a word not found stays joined with its run
    assert group_words("MARIEPIERRE", [(0, 5), (5, 11)], lex) == [(0, 5, True), (5, 11, True)]
    assert group_words("QXZW", [(0, 1), (1, 2), (2, 4)], lex) == [(0, 4, False)]
    words_of = [0, 1, 2, 2, 2, 3, 4, 5, 6, 7, 8]
    assert reading_words(text, words_of) == spans


def test_lexicon_readings_and_parts() -> None:
    lex = Lexicon("t", NAMES)
    readings = ["JENN-MICHEL", "JEYN-MICHEL"]
    words = [list(range(11))] * 2
    made = lexicon_readings(readings, words, np.array([1.0, 0.0]), lex, LexiconWeights())
    assert "JEAN-MICHEL" in made and not set(made) & set(readings)
    hits, gains = lexicon_parts(["JEAN-MICHEL", "JENN-MICHEL"], words, lex)
    assert hits[0] == 1.0 and 0 < hits[1] < 1  # MICHEL found, JENN- not
    assert gains[0] > gains[1]
    free, found = free_words("JENN", [0, 0, 0, 0], "JEAN", [0, 0, 0, 0], lex)
    assert free == ["JENN"] and found == [True]


def _read_marif(
    lexicon: Lexicon | None, lw: LexiconWeights, weights: FusionWeights | None = None
) -> tuple[str, list]:
    """Fuse a line whose glyphs say MARIF (F weakly), the line member agreeing."""
    texts = list("MARIF")
    frames = ["", "", "M", "", "", "", "A", "", "", "", "R", "", "", "", "I", "", "", "", "F"]
    frames += ["", ""]
    search = _search(texts, p=0.6)
    said: list = []
    chars, _ = fuse_line(
        search, _decoded(search, texts), [_reading(frames, peak=0.6)], [KEY],
        weights=weights or FusionWeights(), members=MEMBERS, crop_x0=[0], lexicon=lexicon,
        lexicon_weights=lw, notes=said,
    )  # fmt: skip
    return "".join(c.text for c in chars), said


def test_the_fusion_takes_a_lexicon_word_where_the_glyph_evidence_is_close() -> None:
    # without a lexicon MARIF wins
    lw = LexiconWeights(hit=8.0, gain=0.2)
    text, (note,) = _read_marif(None, lw)
    assert text == "MARIF" and note.free is None and note.found is None
    assert 0 < note.exact <= 1 and len(note.words) == 1
    text, (note,) = _read_marif(Lexicon("t", NAMES), lw)
    assert text == "MARIE"
    assert note.free == ["MARIF"] and note.found == [True]


def test_words_keep_their_free_reading_in_json() -> None:
    c = Char("E", Box(0, 0, 5, 5), 0.9)
    w = Word((c,), Box(0, 0, 5, 5), free="F", in_lexicon=True)
    d = w.to_dict()
    assert d["free"] == "F" and d["in_lexicon"] is True and d["agrees"] is False
    assert Word.from_dict(d) == w
    plain = Word((c,), Box(0, 0, 5, 5)).to_dict()
    assert "free" not in plain and "in_lexicon" not in plain


def test_word_support_is_the_mass_of_readings_that_read_the_word_alike() -> None:
    from handocr.readings import word_support

    enc = lambda t: tuple(FOLDED.index(c) for c in t)  # noqa: E731
    best = enc("ABCDE")
    readings = [best, enc("ABXDE"), enc("ABCDEF"), enc("ABCQDE")]
    post = np.array([0.5, 0.2, 0.2, 0.1])
    spans = [(0, 2), (2, 4), (4, 5)]
    got = word_support(readings, post, best, spans)
    # AB: no reading disagrees; CD: X replaces C, Q is inserted inside; E: ABCDEF adds an F
    # after it (an inserted symbol belongs to the word before it)
    assert got == pytest.approx([1.0, 0.7, 0.8])
    assert word_support([best, enc("XABCDE")], np.array([0.5, 0.5]), best, spans)[0] == 0.5


def test_two_misread_words_side_by_side_each_get_lexicon_words() -> None:
    lex = Lexicon("t", ["JEAN", "DUPONT", "MARIE"])
    made = lexicon_readings(["JEAMDUPOMT"], [[0] * 4 + [1] * 6], np.array([0.0]), lex,
                            LexiconWeights())  # fmt: skip
    assert "JEANDUPOMT" in made and "JEAMDUPONT" in made


def test_damaged_and_oversized_lists_are_refused_clearly(tmp_path: Path, monkeypatch) -> None:
    import handocr.wordlist as wl

    bad = tmp_path / "bad.txt.gz"
    packed = bytearray(gzip.compress(bytes(range(256)) * 40))
    packed[len(packed) // 2 : len(packed) // 2 + 16] = b"\xff" * 16  # damaged in the middle
    bad.write_bytes(bytes(packed))
    with pytest.raises(OptionError, match="cannot read"):
        read_word_list(bad)
    monkeypatch.setattr(wl, "MAX_BYTES", 1000)
    big = tmp_path / "big.txt.gz"
    big.write_bytes(gzip.compress(b"MARIE\n" * 1000))  # small file, 6 kB of text
    with pytest.raises(OptionError, match="more than 0 MiB"):
        read_word_list(big)


def test_long_words_and_number_like_names_are_handled(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("Mary Nan\n" + "A" * 100 + "\nJean 1e3\n", encoding="utf-8")
    assert read_word_list(path) == {"MARY": 1.0, "NAN": 1.0, "JEAN": 1000.0}
    with pytest.raises(ValueError, match="folded"):
        CharNgram(["marie"])


def test_a_fitted_lexicon_scaling_replaces_the_fusions_when_reading_with_a_lexicon() -> None:
    lex = Lexicon("t", NAMES)
    exact = {}
    for slope, bias in ((None, None), (1.0, 3.0), (1.0, -3.0)):
        lw = LexiconWeights(hit=8.0, gain=0.2, exact_slope=slope, exact_bias=bias)
        _, (note,) = _read_marif(lex, lw, FusionWeights(exact_bias=0.5))
        exact[bias] = note.exact

    # without a fitted lexicon scaling, the fusion's (bias 0.5) is kept; a bias moves the logit
    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    assert logit(exact[3.0]) - logit(exact[None]) == pytest.approx(2.5, abs=1e-3)
    assert logit(exact[-3.0]) - logit(exact[None]) == pytest.approx(-3.5, abs=1e-3)


def test_lexicon_weights_keep_their_scaling_through_json() -> None:
    lw = LexiconWeights(hit=3.0, gain=0.3, exact_slope=0.76, exact_bias=1.15)
    assert LexiconWeights.from_dict(lw.to_dict()) == lw
    old = {"hit": 3.0, "gain": 0.3}  # a lexicon.json written before the scaling was fitted
    assert LexiconWeights.from_dict(old).exact_slope is None
    assert LexiconWeights().exact(0.8) == pytest.approx(0.8)
    # a slope of 0 is a slope, not a missing one: only the bias is left
    flat = LexiconWeights(exact_slope=0.0, exact_bias=2.0)
    assert flat.exact(0.9) == pytest.approx(1 / (1 + math.exp(-2.0)))
