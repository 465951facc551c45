"""Decoding with line and word context."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.decode import apply_line_context, decode_chars
from handocr.labels import LABELS, NUM_CLASSES, index_of
from handocr.result import Box


def _probs(spec: list[dict[str, float]]) -> np.ndarray:
    p = np.full((len(spec), NUM_CLASSES), 1e-4, np.float32)
    for row, d in zip(p, spec, strict=True):
        for ch, v in d.items():
            row[index_of(ch)] = v
    return p / p.sum(1, keepdims=True)


def _text(p: np.ndarray) -> str:
    return "".join(LABELS[int(k)] for k in p.argmax(1))


def test_spaced_letters_read_as_one_letter_string() -> None:
    # "S O L E" written with wide gaps: four one-letter words, S and O ambiguous with 5 and 0
    p = _probs(
        [{"5": 0.55, "S": 0.45}, {"0": 0.55, "O": 0.45}, {"L": 0.99}, {"E": 0.98, "6": 0.02}]
    )
    assert _text(p) == "50LE"
    assert _text(apply_line_context(p, [True, True, True, True])) == "SOLE"


def test_mixed_line_lets_each_word_choose() -> None:
    p = _probs(
        [{"C": 0.99}, {"A": 0.99}, {"T": 0.99}, {"4": 0.99}, {"O": 0.5, "0": 0.5}, {"2": 0.99}]
    )
    out = apply_line_context(p, [True, False, False, True, False, False])
    assert _text(out) == "CAT402"
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)


def test_digit_line_turns_look_alikes_into_digits() -> None:
    p = _probs([{"1": 0.9}, {"I": 0.6, "1": 0.4}, {"S": 0.55, "5": 0.45}])
    assert _text(apply_line_context(p, [True, False, True])) == "115"


def test_decode_chars_checks_lengths() -> None:
    p = _probs([{"A": 1.0}])
    with pytest.raises(ValueError, match="line sizes"):
        decode_chars(p, [Box(0, 0, 1, 1)], word_starts=[True], line_sizes=[2])
    with pytest.raises(ValueError, match="word flags"):
        decode_chars(p, [Box(0, 0, 1, 1)], word_starts=[True, False])
    (ch,) = decode_chars(p, [Box(0, 0, 1, 1)], word_starts=[True], line_sizes=[1])
    # one character is weak evidence of its line's case: the mixture keeps a little doubt
    assert ch.text == "A" and 0.98 < ch.confidence <= 1.0 and len(ch.alternatives) == 2


def test_narrow_bar_in_capitals_reads_as_i_not_l() -> None:
    p = _probs([{"L": 0.6, "I": 0.3, "1": 0.1}, {"A": 0.99}])
    bar, wide = Box(0, 0, 4, 40), Box(10, 0, 40, 40)
    chars = decode_chars(p, [bar, wide], word_starts=[True, False], line_sizes=[2])
    assert [c.text for c in chars] == ["I", "A"]
    # a capital L has a foot: a wide box keeps L
    chars = decode_chars(p, [Box(0, 0, 25, 40), wide], word_starts=[True, False], line_sizes=[2])
    assert chars[0].text == "L"


def test_bar_in_a_lower_case_line_stays_l() -> None:
    # and the merged class L prints in lower case, as the line is lower case
    p = _probs([{"h": 0.9}, {"e": 0.9}, {"L": 0.7, "I": 0.3}, {"L": 0.7, "I": 0.3}])
    boxes = [Box(0, 0, 20, 40), Box(22, 10, 40, 40), Box(42, 0, 46, 40), Box(50, 0, 54, 40)]
    chars = decode_chars(p, boxes, word_starts=[True, False, False, False], line_sizes=[4])
    assert "".join(c.text for c in chars) == "hell"


def test_line_of_capitals_reads_a_lower_case_shape_as_a_capital() -> None:
    # P I E R R E, the second R malformed: the classifier says q, then g, then R
    from handocr.decode import apply_case_context

    spec = [{"P": 0.9}, {"I": 0.9}, {"E": 0.95}, {"R": 0.9}, {"q": 0.44, "g": 0.2, "R": 0.2}]
    p = _probs([*spec, {"E": 0.95}])
    assert _text(p) == "PIERqE"
    out, lower = apply_case_context(p, [True] + [False] * 5)
    assert _text(out) == "PIERRE" and not lower.any()
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)
    chars = decode_chars(
        p, [Box(10 * i, 0, 10 * i + 8, 12) for i in range(6)], word_starts=[True] + [False] * 5
    )
    assert "".join(c.text for c in chars) == "PIERRE"


def test_mixed_case_words_keep_their_shapes() -> None:
    # "David Smith": D upper-only, a/d/h/t lower-only, v i S m merged: a title-case line
    from handocr.decode import apply_case_context

    p = _probs([*({ch: 0.9} for ch in "DaVId"), *({ch: 0.9} for ch in "SMIth")])
    starts = [True, False, False, False, False, True, False, False, False, False]
    out, lower = apply_case_context(p, starts)
    assert _text(out) == "DaVIdSMIth"
    assert lower.tolist() == [False, True, True, True, True, False, True, True, True, True]
    boxes = [Box(10 * i, 0, 10 * i + 8, 12) for i in range(10)]
    chars = decode_chars(p, boxes, word_starts=starts, line_sizes=[10])
    assert "".join(c.text for c in chars) == "DavidSmith"
    # a line of capitals prints merged classes in upper case
    caps = decode_chars(
        _probs([{"S": 0.9}, {"M": 0.9}, {"E": 0.9}]), boxes[:3], word_starts=[True, False, False]
    )
    assert "".join(c.text for c in caps) == "SME"


def test_case_context_checks_lengths() -> None:
    from handocr.decode import apply_case_context

    with pytest.raises(ValueError, match="word flags"):
        apply_case_context(_probs([{"A": 1.0}]), [True, False])


def test_apply_charset_without_normalising_keeps_only_the_mass_on_the_set() -> None:
    from handocr.decode import apply_charset

    p = _probs([{"W": 0.9, "0": 0.05, "O": 0.03}, {"0": 0.6, "O": 0.3}])
    kept = apply_charset(p, "digits", normalize=False)
    # the letter O folds onto nothing in "digits" (no case partner), so only 0's mass stays
    assert kept[0].sum() == pytest.approx(p[0, : len("0123456789")].sum(), abs=1e-6)
    assert kept[0].sum() < 0.1 and kept[1].sum() > 0.5
    assert apply_charset(p, "digits").sum(1) == pytest.approx([1.0, 1.0])


def test_split_decision_uses_the_charset() -> None:
    # two touching zeros: as a whole a confident W, cut in two a pair of fair zeros; without a
    # charset the W wins, with digits the cut does
    from handocr.api import Recognizer
    from handocr.segment.split import Piece

    mask = np.zeros((30, 64), np.uint8)
    mask[:, 2:28] = 255
    mask[:, 36:62] = 255
    mask[14:16, 28:36] = 255
    glyph = Piece(Box(0, 0, 64, 30), mask)
    whole = _probs([{"W": 0.9, "0": 0.02}])
    zero = _probs([{"0": 0.55, "O": 0.35}])[0]

    class Stub(Recognizer):
        def _classify(self, pieces):  # type: ignore[no-untyped-def]
            out = np.repeat(zero[None], len(pieces), axis=0)
            return np.stack([out, out], axis=1)

    rec = Stub(device="cpu")
    stack = np.stack([whole, whole], axis=1)
    items, _, probs = rec._split_touching([[glyph]], [[True]], stack)
    assert len(items[0]) == 1
    items, starts, probs = rec._split_touching([[glyph]], [[True]], stack, "digits")
    assert len(items[0]) == 2 and starts == [[True, False]] and probs.shape == (2, 2, NUM_CLASSES)


def test_letter_prior_prefers_the_common_letter_and_leaves_digits_alone() -> None:
    from handocr.decode import apply_letter_prior
    from handocr.labels import LETTER_FREQUENCY

    # a dotted i that the classifier calls J 0.6 / I 0.3 (I is 45x as common in text); a Z
    # barely ahead of a 2: the letters keep their total, spread by frequency, so the rare Z's
    # share falls below the 2
    p = _probs([{"J": 0.6, "I": 0.3, "1": 0.05}, {"Z": 0.5, "2": 0.45}])
    out = apply_letter_prior(p)
    assert _text(out) == "I2"
    digits = [index_of(d) for d in "0123456789"]
    np.testing.assert_allclose(out[:, digits], p[:, digits], rtol=1e-5)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)
    # within the letters, the odds move by the frequency ratio exactly
    ratio = out[0, index_of("I")] / out[0, index_of("J")]
    expected = 0.5 * LETTER_FREQUENCY["i"] / LETTER_FREQUENCY["j"]
    assert ratio == pytest.approx(expected, rel=1e-4)
    np.testing.assert_array_equal(apply_letter_prior(p, 0.0), p)
    with pytest.raises(ValueError, match=">= 0"):
        apply_letter_prior(p, -1.0)


def test_letter_prior_is_part_of_decoding_and_can_be_turned_off() -> None:
    p = _probs([{"C": 0.9}, {"A": 0.9}, {"J": 0.6, "I": 0.3}])
    boxes = [Box(10 * i, 0, 10 * i + 8, 12) for i in range(3)]
    flags = [True, False, False]
    assert "".join(c.text for c in decode_chars(p, boxes, word_starts=flags)) == "CAI"
    off = decode_chars(p, boxes, word_starts=flags, letter_prior=0.0)
    assert "".join(c.text for c in off) == "CAJ"


def test_recognizer_and_cli_share_the_letter_prior_default() -> None:
    import inspect

    from cli.app import eval_pages, read
    from handocr.api import Recognizer
    from handocr.decode import LETTER_PRIOR

    assert Recognizer(device="cpu").letter_prior == LETTER_PRIOR
    for command in (read, eval_pages):
        assert inspect.signature(command).parameters["letter_prior"].default == LETTER_PRIOR
    with pytest.raises(ValueError, match="letter_prior"):
        Recognizer(device="cpu", letter_prior=-0.5)
