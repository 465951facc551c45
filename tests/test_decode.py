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
    assert ch.text == "A" and 0.99 < ch.confidence <= 1.0 and len(ch.alternatives) == 2


def test_narrow_bar_in_capitals_reads_as_i_not_l() -> None:
    p = _probs([{"L": 0.6, "I": 0.3, "1": 0.1}, {"A": 0.99}])
    bar, wide = Box(0, 0, 4, 40), Box(10, 0, 40, 40)
    chars = decode_chars(p, [bar, wide], word_starts=[True, False], line_sizes=[2])
    assert [c.text for c in chars] == ["I", "A"]
    # a capital L has a foot: a wide box keeps L
    chars = decode_chars(p, [Box(0, 0, 25, 40), wide], word_starts=[True, False], line_sizes=[2])
    assert chars[0].text == "L"


def test_bar_in_a_lower_case_line_stays_l() -> None:
    p = _probs([{"h": 0.9}, {"e": 0.9}, {"L": 0.7, "I": 0.3}, {"L": 0.7, "I": 0.3}])
    boxes = [Box(0, 0, 20, 40), Box(22, 10, 40, 40), Box(42, 0, 46, 40), Box(50, 0, 54, 40)]
    chars = decode_chars(p, boxes, word_starts=[True, False, False, False], line_sizes=[4])
    assert "".join(c.text for c in chars) == "heLL"
