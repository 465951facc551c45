"""Recognition-based segmentation: joining broken characters and cutting touching ones.

The classifier is passed in as a function ``classify(pieces) -> (N, K, 47)``; these tests pass
stubs whose answers are fixed, so each decision is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from handocr.labels import NUM_CLASSES, Charset, index_of
from handocr.result import Box
from handocr.segment import refine
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig
from handocr.segment.refine import merge_broken, refine_lines, split_touching
from tests.helpers import one_class, probs

MARGIN = SegmentConfig().split_margin


def _stack(rows: Sequence[np.ndarray]) -> np.ndarray:
    """``(N, 2, 47)``: each row as the vote and as the one member's own."""
    out = np.stack(rows).astype(np.float32)
    return np.stack([out, out], axis=1)


class Stub:
    """A classifier that reads every candidate as ``row``, and remembers what it was shown."""

    def __init__(self, row: np.ndarray) -> None:
        self.row = row
        self.seen: list[Box] = []

    def __call__(self, pieces: Sequence[Piece]) -> np.ndarray:
        self.seen.extend(p.box for p in pieces)
        return _stack([self.row] * len(pieces))


def _broken_pair() -> tuple[Piece, Piece]:
    """A Y drawn as two strokes side by side, 2 px apart."""
    left = Piece(Box(0, 0, 15, 40), np.full((40, 15), 255, np.uint8))
    right = Piece(Box(17, 0, 32, 40), np.full((40, 15), 255, np.uint8))
    return left, right


def _touching_zeros() -> Piece:
    mask = np.zeros((30, 64), np.uint8)
    mask[:, 2:28] = 255
    mask[:, 36:62] = 255
    mask[14:16, 28:36] = 255
    return Piece(Box(0, 0, 64, 30), mask)


def test_confident_glyphs_are_never_offered_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Box] = []

    def fake_candidates(piece: Piece, cfg: SegmentConfig | None = None) -> list:
        seen.append(piece.box)
        return []

    monkeypatch.setattr(refine, "split_candidates", fake_candidates)
    pieces = [
        Piece(Box(0, 0, 60, 20), np.full((20, 60), 255, np.uint8)),
        Piece(Box(70, 0, 130, 20), np.full((20, 60), 255, np.uint8)),
    ]
    stack = np.full((2, 2, NUM_CLASSES), 0.1 / (NUM_CLASSES - 1), np.float32)
    stack[0, :, 5] = 0.9  # confident: log(0.9) + split_margin > 0, no cut can win
    stack[1, :, 5] = 0.5  # unsure: cuts are worth classifying
    assert np.log(0.9) + MARGIN > 0 > np.log(0.5) + MARGIN
    classify = Stub(one_class("A", 0.9))
    lines, starts, out = split_touching([pieces], [[True, False]], stack, classify)
    assert seen == [pieces[1].box] and classify.seen == []
    assert lines == [pieces] and starts == [[True, False]] and out is stack


def test_a_character_broken_in_two_is_joined_when_recognition_says_so() -> None:
    # each stroke alone a poor L, together a confident Y
    left, right = _broken_pair()
    classify = Stub(one_class("Y", 0.95))
    unsure = _stack([one_class("L", 0.5)] * 2)
    lines, starts, stack = merge_broken([[left, right]], [[True, False]], unsure, classify)
    assert [p.box for p in lines[0]] == [Box(0, 0, 32, 40)] and starts == [[True]]
    assert classify.seen == [Box(0, 0, 32, 40)]
    assert stack.shape == (1, 2, NUM_CLASSES) and stack[0, 0].argmax() == index_of("Y")
    assert lines[0][0].mask.shape == (40, 32) and lines[0][0].mask[:, 15:17].max() == 0


def test_confident_or_distant_or_wide_pairs_are_never_tried_as_one() -> None:
    left, right = _broken_pair()
    classify = Stub(one_class("Y", 0.95))
    unsure = _stack([one_class("L", 0.5)] * 2)
    # confident parts: log(0.9) + merge_margin >= 0, not even classified (exact pruning)
    sure = _stack([one_class("L", 0.9)] * 2)
    lines, _, _ = merge_broken([[left, right]], [[True, False]], sure, classify)
    assert len(lines[0]) == 2
    # 0.2 heights apart is no broken character
    far = Piece(Box(23, 0, 38, 40), right.mask)
    lines, _, _ = merge_broken([[left, far]], [[True, False]], unsure, classify)
    assert len(lines[0]) == 2
    # nor is a pair wider together than high
    wide = Piece(Box(0, 10, 15, 40), left.mask[:30])
    pair = [wide, Piece(Box(17, 10, 32, 40), wide.mask)]
    lines, _, _ = merge_broken([pair], [[True, False]], unsure, classify)
    assert len(lines[0]) == 2
    assert classify.seen == []
    # the same distant pair is tried with a wider merge_gap
    loose = SegmentConfig(merge_gap=0.5)
    lines, _, _ = merge_broken([[left, far]], [[True, False]], unsure, classify, cfg=loose)
    assert len(lines[0]) == 1 and classify.seen == [Box(0, 0, 38, 40)]


def test_a_join_must_win_by_the_merge_margin() -> None:
    left, right = _broken_pair()
    unsure = _stack([one_class("L", 0.5)] * 2)
    # joined 0.8: log(0.8) - log(0.5) = 0.47 < merge_margin 0.5: kept apart
    lines, _, _ = merge_broken([[left, right]], [[True, False]], unsure, Stub(one_class("Y", 0.8)))
    assert len(lines[0]) == 2
    lower = SegmentConfig(merge_margin=0.4)
    lines, _, _ = merge_broken(
        [[left, right]], [[True, False]], unsure, Stub(one_class("Y", 0.8)), cfg=lower
    )
    assert len(lines[0]) == 1


def test_split_decision_uses_the_charset() -> None:
    # two touching zeros: as a whole a confident W, cut in two a pair of fair zeros; without a
    # charset the W wins, with digits the cut does
    glyph = _touching_zeros()
    whole = probs([{"W": 0.9, "0": 0.02}])
    zero = probs([{"0": 0.55, "O": 0.35}])[0]
    stack = _stack([whole[0]])
    classify = Stub(zero)
    lines, _, _ = split_touching([[glyph]], [[True]], stack, classify)
    assert len(lines[0]) == 1 and classify.seen == []  # a confident W is not even tried
    digits = Charset.parse("digits")
    lines, starts, out = split_touching([[glyph]], [[True]], stack, classify, charset=digits)
    assert len(lines[0]) == 2 and starts == [[True, False]] and out.shape == (2, 2, NUM_CLASSES)
    assert lines[0][0].box.x1 <= lines[0][1].box.x0
    assert (out[:, 0].argmax(1) == index_of("0")).all()


def test_cuts_keep_word_starts_and_the_other_glyphs() -> None:
    glyph = _touching_zeros()
    before = Piece(Box(-40, 0, -20, 30), np.full((30, 20), 255, np.uint8))
    unsure = one_class("W", 0.3)
    stack = _stack([one_class("A", 0.99), unsure])
    lines, starts, out = split_touching(
        [[before, glyph]], [[True, True]], stack, Stub(one_class("0", 0.9))
    )
    assert lines[0][0] is before and len(lines[0]) == 3 and starts == [[True, True, False]]
    np.testing.assert_array_equal(out[0], stack[0])


def test_refine_lines_runs_each_step_only_when_asked() -> None:
    left, right = _broken_pair()
    unsure_pair = [one_class("L", 0.5)] * 2
    glyph = _touching_zeros()
    shift = Piece(Box(100, 0, 164, 30), glyph.mask)
    lines = [[left, right], [shift]]
    starts = [[True, False], [True]]
    stack = _stack([*unsure_pair, one_class("W", 0.3)])

    def run(**flags: bool) -> tuple[bool, bool]:
        """Whether the pair was joined and the wide glyph cut."""
        classify = Stub(one_class("Y", 0.95))
        out, out_starts, p = refine_lines(lines, starts, stack, classify, **flags)
        assert len(p) == sum(len(row) for row in out) == sum(len(row) for row in out_starts)
        return len(out[0]) == 1, len(out[1]) > 1

    assert run() == (True, True)  # a Y at 0.95 beats the L at 0.5 and the W at 0.3
    assert run(join=False) == (False, True)
    assert run(split=False) == (True, False)
    assert run(join=False, split=False) == (False, False)


def test_recognizer_options_switch_the_steps(
    use_tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr.api import Recognizer
    from tests.helpers import draw_text_page

    calls: list[str] = []
    real_merge, real_split = refine.merge_broken, refine.split_touching

    def merge(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("join")
        return real_merge(*args, **kwargs)

    def split(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("split")
        return real_split(*args, **kwargs)

    monkeypatch.setattr(refine, "merge_broken", merge)
    monkeypatch.setattr(refine, "split_touching", split)
    page = draw_text_page(["AB"])
    rec = Recognizer(device="cpu")
    expected = {
        (True, True): ["join", "split"],
        (False, True): ["split"],
        (True, False): ["join"],
        (False, False): [],
    }
    for (join, cut), steps in expected.items():
        calls.clear()
        rec.with_options(join_broken=join, split_touching=cut).read(page)
        assert calls == steps, (join, cut)
