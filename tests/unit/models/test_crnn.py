"""The CRNN line member: shapes, frames, text folding, input convention, greedy decoding."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.errors import UnknownModelError
from handocr.models.crnn import (
    ALPHABET,
    LINE_ARCHS,
    NUM_LINE_CLASSES,
    build_line_model,
    encode_text,
    frames,
    greedy_decode,
    line_input,
    normalise_text,
)
from handocr.models.factory import list_models

TINY = {"channels": (8, 16, 16, 16), "stem_width": 4, "hidden": 8}


def test_line_member_is_apart_from_the_crop_registry() -> None:
    assert "crnn" in LINE_ARCHS and "crnn" not in list_models()
    with pytest.raises(UnknownModelError, match="crnn"):
        build_line_model("crn")


@pytest.mark.parametrize("width", [1, 4, 5, 31, 130, 257])
def test_height_collapses_and_width_gives_ceil_w_over_4_frames(width: int) -> None:
    import torch

    torch.manual_seed(0)
    net = build_line_model("crnn", **TINY).eval()
    with torch.inference_mode():
        out = net(torch.rand(2, 1, 32, width))
    assert out.shape == (2, frames(width), NUM_LINE_CLASSES) == (2, -(-width // 4), 44)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.exp().sum(-1).numpy(), 1.0, atol=1e-5)  # log-softmax


def test_default_size_is_small() -> None:
    net = build_line_model("crnn")
    n = sum(p.numel() for p in net.parameters())
    assert 1_000_000 < n < 3_000_000


def test_text_is_folded_onto_the_alphabet() -> None:
    assert normalise_text(" Zoé  d'Arc-Lévy ") == "ZOE D'ARC-LEVY"
    assert normalise_text("12,50 €") == "" and normalise_text("") == ""
    assert normalise_text("o\u2019neil") == "O'NEIL"
    assert encode_text("A0 :") == [11, 1, 37, 43]
    assert [ALPHABET[i - 1] for i in encode_text("A0 :")] == list("A0 :")


def test_line_input_keeps_the_aspect_and_makes_ink_bright() -> None:
    gray = np.full((64, 200), 255, np.uint8)
    gray[20:40, 50:60] = 0
    x = line_input(gray)
    assert x.shape == (1, 32, 100) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == pytest.approx(1.0)
    assert line_input(np.full((8, 3), 255, np.uint8)).shape == (1, 32, 12)


def test_greedy_decoding_merges_repeats_and_drops_blanks() -> None:
    eye = np.log(np.eye(NUM_LINE_CLASSES, dtype=np.float32) + 1e-6)
    path = [0, 2, 2, 0, 2, 37, 37, 11, 0, 5]  # blank 1 1 blank 1 space space A blank 4
    assert greedy_decode(eye[path]) == "11 A4"
    assert greedy_decode(eye[path], frame_count=5) == "11"
    assert greedy_decode(eye[:0]) == ""
