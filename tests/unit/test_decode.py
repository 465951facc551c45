"""Decoding with line, word and case context, the letter prior, and whole pages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handocr.decode import (
    DecodeConfig,
    apply_case_context,
    apply_letter_prior,
    apply_line_context,
    attach_votes,
    decode_chars,
    decode_page,
)
from handocr.labels import DIGITS, LABELS, LETTER_FREQUENCY, NUM_CLASSES, index_of
from handocr.result import Box, Char
from tests.helpers import probs, text_of


def test_spaced_letters_read_as_one_letter_string() -> None:
    # "S O L E" written with wide gaps: four one-letter words, S and O ambiguous with 5 and 0
    p = probs([{"5": 0.55, "S": 0.45}, {"0": 0.55, "O": 0.45}, {"L": 0.99}, {"E": 0.98, "6": 0.02}])
    assert text_of(p) == "50LE"
    assert text_of(apply_line_context(p, [True, True, True, True])) == "SOLE"


def test_mixed_line_lets_each_word_choose() -> None:
    p = probs(
        [{"C": 0.99}, {"A": 0.99}, {"T": 0.99}, {"4": 0.99}, {"O": 0.5, "0": 0.5}, {"2": 0.99}]
    )
    out = apply_line_context(p, [True, False, False, True, False, False])
    assert text_of(out) == "CAT402"
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)


def test_digit_line_turns_look_alikes_into_digits() -> None:
    p = probs([{"1": 0.9}, {"I": 0.6, "1": 0.4}, {"S": 0.55, "5": 0.45}])
    assert text_of(apply_line_context(p, [True, False, True])) == "115"


def test_decode_chars_checks_lengths() -> None:
    p = probs([{"A": 1.0}])
    with pytest.raises(ValueError, match="line sizes"):
        decode_chars(p, [Box(0, 0, 1, 1)], word_starts=[True], line_sizes=[2])
    with pytest.raises(ValueError, match="word flags"):
        decode_chars(p, [Box(0, 0, 1, 1)], word_starts=[True, False])
    with pytest.raises(ValueError, match="rows for 2 boxes"):
        decode_chars(p, [Box(0, 0, 1, 1)] * 2)
    (ch,) = decode_chars(p, [Box(0, 0, 1, 1)], word_starts=[True], line_sizes=[1])
    # one character is weak evidence of its line's case: the mixture keeps a little doubt
    assert ch.text == "A" and 0.98 < ch.confidence <= 1.0 and len(ch.alternatives) == 2


def test_narrow_bar_in_capitals_reads_as_i_not_l() -> None:
    p = probs([{"L": 0.6, "I": 0.3, "1": 0.1}, {"A": 0.99}])
    bar, wide = Box(0, 0, 4, 40), Box(10, 0, 40, 40)
    chars = decode_chars(p, [bar, wide], word_starts=[True, False], line_sizes=[2])
    assert [c.text for c in chars] == ["I", "A"]
    # a capital L has a foot: a wide box keeps L
    chars = decode_chars(p, [Box(0, 0, 25, 40), wide], word_starts=[True, False], line_sizes=[2])
    assert chars[0].text == "L"
    # the rule switched off (ReadOptions(bars_as_i=False)): the bar stays the classifier's L
    off = decode_chars(p, [bar, wide], word_starts=[True, False], line_sizes=[2], bars_as_i=False)
    assert [c.text for c in off] == ["L", "A"]


def test_bar_in_a_lower_case_line_stays_l() -> None:
    # and the merged class L prints in lower case, as the line is lower case
    p = probs([{"h": 0.9}, {"e": 0.9}, {"L": 0.7, "I": 0.3}, {"L": 0.7, "I": 0.3}])
    boxes = [Box(0, 0, 20, 40), Box(22, 10, 40, 40), Box(42, 0, 46, 40), Box(50, 0, 54, 40)]
    chars = decode_chars(p, boxes, word_starts=[True, False, False, False], line_sizes=[4])
    assert "".join(c.text for c in chars) == "hell"


def test_line_of_capitals_reads_a_lower_case_shape_as_a_capital() -> None:
    # P I E R R E, the second R malformed: the classifier says q, then g, then R
    spec = [{"P": 0.9}, {"I": 0.9}, {"E": 0.95}, {"R": 0.9}, {"q": 0.44, "g": 0.2, "R": 0.2}]
    p = probs([*spec, {"E": 0.95}])
    assert text_of(p) == "PIERqE"
    out, lower = apply_case_context(p, [True] + [False] * 5)
    assert text_of(out) == "PIERRE" and not lower.any()
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)
    chars = decode_chars(
        p, [Box(10 * i, 0, 10 * i + 8, 12) for i in range(6)], word_starts=[True] + [False] * 5
    )
    assert "".join(c.text for c in chars) == "PIERRE"


def test_mixed_case_words_keep_their_shapes() -> None:
    # "David Smith": D upper-only, a/d/h/t lower-only, v i S m merged: a title-case line
    p = probs([*({ch: 0.9} for ch in "DaVId"), *({ch: 0.9} for ch in "SMIth")])
    starts = [True, False, False, False, False, True, False, False, False, False]
    out, lower = apply_case_context(p, starts)
    assert text_of(out) == "DaVIdSMIth"
    assert lower.tolist() == [False, True, True, True, True, False, True, True, True, True]
    boxes = [Box(10 * i, 0, 10 * i + 8, 12) for i in range(10)]
    chars = decode_chars(p, boxes, word_starts=starts, line_sizes=[10])
    assert "".join(c.text for c in chars) == "DavidSmith"
    # without the case context, the merged classes print as capitals
    flat = decode_chars(p, boxes, word_starts=starts, line_sizes=[10], case_context=False)
    assert "".join(c.text for c in flat) == "DaVIdSMIth"
    # a line of capitals prints merged classes in upper case
    caps = decode_chars(
        probs([{"S": 0.9}, {"M": 0.9}, {"E": 0.9}]), boxes[:3], word_starts=[True, False, False]
    )
    assert "".join(c.text for c in caps) == "SME"


def test_case_context_checks_lengths() -> None:
    with pytest.raises(ValueError, match="word flags"):
        apply_case_context(probs([{"A": 1.0}]), [True, False])


def test_letter_prior_prefers_the_common_letter_and_leaves_digits_alone() -> None:
    # a dotted i that the classifier calls J 0.6 / I 0.3 (I is 45x as common in text); a Z
    # barely ahead of a 2: the letters keep their total, spread by frequency, so the rare Z's
    # share falls below the 2
    p = probs([{"J": 0.6, "I": 0.3, "1": 0.05}, {"Z": 0.5, "2": 0.45}])
    out = apply_letter_prior(p)
    assert text_of(out) == "I2"
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
    p = probs([{"C": 0.9}, {"A": 0.9}, {"J": 0.6, "I": 0.3}])
    boxes = [Box(10 * i, 0, 10 * i + 8, 12) for i in range(3)]
    flags = [True, False, False]
    assert "".join(c.text for c in decode_chars(p, boxes, word_starts=flags)) == "CAI"
    off = decode_chars(p, boxes, word_starts=flags, letter_prior=0.0)
    assert "".join(c.text for c in off) == "CAJ"


def test_cascade_votes_list_only_the_members_that_read_a_crop() -> None:
    per = np.full((2, 2, NUM_CLASSES), np.nan, np.float32)
    per[:, 0] = np.eye(NUM_CLASSES, dtype=np.float32)[[3, 4]]
    per[1, 1] = np.eye(NUM_CLASSES, dtype=np.float32)[5]
    chars = [Char("3", Box(0, 0, 1, 1), 1.0), Char("4", Box(1, 0, 2, 1), 1.0)]
    out = attach_votes(chars, per, ["a.t", "b.t"])
    assert [len(c.votes) for c in out] == [1, 2]
    assert out[1].votes[1] == ("b.t", "5", 1.0)
    with pytest.raises(ValueError, match="votes of shape"):
        attach_votes(chars, per, ["a.t"])


def _stack(voted: np.ndarray, members: int = 2) -> np.ndarray:
    """``(N, 1 + M, 47)``: the vote, then each member agreeing with it."""
    return np.repeat(voted[:, None], 1 + members, axis=1)


def test_decode_page_groups_words_and_lines_and_applies_the_options() -> None:
    lines = [
        [Box(0, 0, 8, 12), Box(10, 0, 18, 12), Box(40, 0, 48, 12)],
        [Box(0, 20, 8, 32), Box(10, 20, 18, 32)],
    ]
    starts = [[True, False, True], [True, False]]
    p = probs([{"O": 0.6, "0": 0.4}, {"K": 0.9}, {"7": 0.9}, {"1": 0.9}, {"I": 0.6, "1": 0.4}])
    members = ["m.a", "m.b"]
    size = {"index": 2, "width": 60, "height": 40}
    page = decode_page(lines, starts, _stack(p), members, source="s.png", **size)
    assert (page.index, page.width, page.height, page.source) == (2, 60, 40, "s.png")
    assert [ln.text for ln in page.lines] == ["OK 7", "11"]  # the digit line reads I as 1
    chars = [c for ln in page.lines for c in ln.all_chars()]
    assert [c.box for c in chars] == [b for row in lines for b in row]
    assert all([v[0] for v in c.votes] == members for c in chars)
    # without word context each character stands alone
    alone = decode_page(
        lines, starts, _stack(p), members, cfg=DecodeConfig(word_context=False), **size
    )
    assert [ln.text for ln in alone.lines] == ["OK 7", "1I"]
    # a charset restricts the output before the context
    digits = decode_page(
        lines, starts, _stack(p), members, cfg=DecodeConfig(charset="digits"), **size
    )
    assert [ln.text for ln in digits.lines] == ["00 7", "11"]  # K has no digit: uniform, 0
    # boxes are mapped to the input page after decoding
    moved = decode_page(
        lines, starts, _stack(p), members, to_page=lambda b: Box(b.x0 + 1, b.y0, b.x1 + 1, b.y1),
        **size,
    )  # fmt: skip
    assert moved.lines[0].words[0].chars[0].box == Box(1, 0, 9, 12)
    assert moved.text == page.text


def test_decode_page_of_no_glyphs_and_of_mismatched_rows() -> None:
    empty = decode_page(
        [], [], np.zeros((0, 3, NUM_CLASSES), np.float32), [], index=0, width=5, height=5
    )
    assert empty.lines == () and empty.text == ""
    with pytest.raises(ValueError, match="rows for 2 glyphs"):
        decode_page(
            [[Box(0, 0, 1, 1), Box(2, 0, 3, 1)]],
            [[True, False]],
            _stack(probs([{"A": 1.0}])),
            ["a", "b"],
            index=0,
            width=5,
            height=5,
        )


def test_decode_page_groups_lines_into_blocks_with_their_baselines() -> None:
    lines = [
        [Box(0, 0, 8, 12), Box(10, 0, 18, 12)],
        [],  # a line the search left without glyphs: dropped with its block id and baseline
        [Box(0, 20, 8, 32)],
        [Box(60, 0, 68, 12)],
    ]
    starts = [[True, False], [], [True], [True]]
    bases = [((0, 12), (18, 12)), ((0, 16), (9, 16)), ((0, 32), (8, 31)), ((60, 12), (68, 12))]
    p = _stack(probs([{"A": 0.9}, {"B": 0.9}, {"C": 0.9}, {"Z": 0.9}]))
    size = {"index": 0, "width": 80, "height": 40}
    page = decode_page(
        lines, starts, p, ["m.a", "m.b"], blocks=[0, 0, 0, 1], baselines=bases, **size
    )
    assert [ln.text for ln in page.lines] == ["AB", "C", "Z"]
    assert [ln.baseline for ln in page.lines] == [bases[0], bases[2], bases[3]]
    assert [(b.first, b.count, b.box) for b in page.blocks] == [
        (0, 2, Box(0, 0, 18, 32)),
        (2, 1, Box(60, 0, 68, 12)),
    ]
    assert decode_page(lines, starts, p, ["m.a", "m.b"], **size).blocks == ()  # none given

    # baselines are mapped to the input page with the boxes
    def moved(b: Box) -> Box:
        return Box(b.x0 + 5, b.y0 + 7, b.x1 + 5, b.y1 + 7)

    shift = decode_page(
        lines, starts, p, ["m.a", "m.b"], to_page=moved, blocks=[0, 0, 0, 1], baselines=bases,
        **size,
    )  # fmt: skip
    assert shift.lines[0].baseline == ((5, 19), (23, 19))
    assert shift.blocks[1].box == Box(65, 7, 73, 19)
    with pytest.raises(ValueError, match="3 block ids for 4 lines"):
        decode_page(lines, starts, p, ["m.a", "m.b"], blocks=[0, 0, 1], **size)


def test_baselines_of_a_levelled_page_map_with_its_affine() -> None:
    from handocr.preprocess import map_box, rotate_page

    _, inverse = rotate_page(np.full((400, 600), 255, np.uint8), 4.0)
    lines = [[Box(100, 180, 130, 220), Box(400, 180, 430, 220)]]
    base = ((100, 220), (430, 220))  # level on the levelled page

    def to_page(b: Box) -> Box:
        return map_box(b, inverse, 600, 400)

    p = _stack(probs([{"A": 0.9}, {"B": 0.9}]), members=0)
    page = decode_page(
        lines, [[True, True]], p, [], index=0, width=600, height=400, to_page=to_page,
        blocks=[0], baselines=[base],
    )  # fmt: skip
    (xa, ya), (xb, yb) = page.lines[0].baseline
    want = [inverse @ np.array([x, y, 1.0]) for x, y in base]
    assert np.allclose([[xa, ya], [xb, yb]], want, atol=1.0)
    assert abs((yb - ya) / (xb - xa)) == pytest.approx(np.tan(np.radians(4.0)), abs=0.01)


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 8), st.just(47)), elements=st.floats(0.0, 1.0)),
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.floats(0.0, 2.0),
)
def test_context_keeps_rows_distributions(raw: np.ndarray, flags: list[bool], prior: float) -> None:
    # line, case and letter-prior context: any probabilities in, probability rows out, and the
    # letter prior never moves mass between letters and digits
    p = (raw + 1e-6) / (raw + 1e-6).sum(1, keepdims=True)
    p = p.astype(np.float32)
    starts = [True, *flags[: len(p) - 1]]
    weighted = apply_letter_prior(p, prior)
    digits = [LABELS.index(d) for d in DIGITS]
    np.testing.assert_allclose(weighted[:, digits], p[:, digits], rtol=1e-4, atol=1e-7)
    out, lower = apply_case_context(apply_line_context(weighted, starts), starts)
    assert out.shape == p.shape and lower.shape == (len(p),)
    assert np.all(out >= 0)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-4)
