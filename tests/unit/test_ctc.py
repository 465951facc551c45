"""CTC scores, beam search and alignment against brute-force enumeration of frame paths."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest

from handocr.ctc import (
    NEG,
    best_path,
    forced_alignment,
    prefix_beam_search,
    sequence_log_probs,
)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(1, keepdims=True)
    return (x - np.log(np.exp(x).sum(1, keepdims=True))).astype(np.float32)


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out: list[int] = []
    prev = -1
    for k in path:
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return tuple(out)


def _brute(lp: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(l) of every label sequence, summing every frame path (small T and V only)."""
    t_len, v = lp.shape
    total: dict[tuple[int, ...], float] = defaultdict(lambda: -np.inf)
    for path in itertools.product(range(v), repeat=t_len):
        score = float(sum(lp[t, k] for t, k in enumerate(path)))
        key = _collapse(path)
        total[key] = float(np.logaddexp(total[key], score))
    return total


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    rng = np.random.default_rng(3)
    return _log_softmax(rng.normal(size=(6, 4)) * 2)


def test_forward_matches_enumeration(frames: np.ndarray) -> None:
    truth = _brute(frames)
    seqs = [(), (1,), (1, 1), (2, 3), (3, 3, 1), (1, 2, 3, 1)]
    got = sequence_log_probs(frames, seqs)
    for seq, value in zip(seqs, got, strict=True):
        assert value == pytest.approx(truth.get(seq, NEG), abs=1e-6)


def test_forward_floors_impossible_sequences(frames: np.ndarray) -> None:
    # six frames cannot hold four repeats of one label (each needs a blank between)
    assert sequence_log_probs(frames, [(2, 2, 2, 2)])[0] == NEG


def test_beam_search_finds_the_most_probable_sequences(frames: np.ndarray) -> None:
    truth = sorted(_brute(frames).items(), key=lambda kv: -kv[1])[:3]
    got = prefix_beam_search(frames, beam=64, nbest=3, prune=-50.0)
    assert [s for s, _ in got] == [s for s, _ in truth]
    # prefixes merge as the beam goes: probabilities agree closely, not exactly
    assert [p for _, p in got] == pytest.approx([p for _, p in truth], abs=1e-3)


def test_beam_search_respects_allowed_classes(frames: np.ndarray) -> None:
    allowed = np.array([True, True, False, False])
    for seq, _ in prefix_beam_search(frames, beam=8, nbest=4, allowed=allowed, prune=-50.0):
        assert set(seq) <= {1}


def test_best_path_and_alignment_on_a_clear_sequence() -> None:
    # frames: blank, A, A, blank, B, blank, A
    ids = [0, 1, 1, 0, 2, 0, 1]
    lp = np.full((len(ids), 3), np.log(0.01), np.float32)
    lp[np.arange(len(ids)), ids] = np.log(0.98)
    assert best_path(lp) == [1, 2, 1]
    assert forced_alignment(lp, [1, 2, 1]) == [(1, 3), (4, 5), (6, 7)]
    assert forced_alignment(lp, [1, 1, 1, 1, 1]) is None  # needs 9 frames at least
