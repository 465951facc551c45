"""Printed words re-read by a line member (handocr.printed.read_printed)."""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np
import pytest

from handocr.models.line import PRINTED, LineReading
from handocr.printed import read_printed
from handocr.result import Block, Box, Char, Line, Page, Word

FRAME = 4  # fake member: columns per frame


class FakeMember:
    """Reads one character per dark blob of a crop, from a list of texts (one per crop).

    A space of a text falls on the frame halfway between the blobs on either side of it.
    """

    key = "fake.v1"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.calls: list[int] = []

    def read(self, crops, *, printed=False):  # type: ignore[no-untyped-def]
        assert printed, "printed words are read in the printed alphabet"
        self.calls.append(len(crops))
        out = []
        for crop, text in zip(crops, self.texts, strict=True):
            dark = np.r_[0, (crop < 128).any(0).astype(int), 0]
            edges = np.flatnonzero(np.diff(dark))
            centres = [(a + b) // 2 for a, b in zip(edges[::2], edges[1::2], strict=True)]
            assert len(centres) == len(text.replace(" ", ""))
            t = -(-crop.shape[1] // FRAME)
            probs = np.full((t, 1 + len(PRINTED)), 1e-4)
            probs[:, 0] = 1.0
            k = 0
            for ch in text:
                if ch == " ":
                    f = (centres[k - 1] + centres[k]) // 2 // FRAME
                else:
                    f = centres[k] // FRAME
                    k += 1
                probs[f, 0] = 0.1
                probs[f, 1 + PRINTED.index(ch)] = 0.9
            probs /= probs.sum(1, keepdims=True)
            upper = np.full((t, 26), 0.5, np.float32)
            out.append(LineReading(np.log(probs).astype(np.float32), upper, float(FRAME)))
        return out


def _word(text: str, x0: int, y0: int = 20, kind: str = "handwritten") -> Word:
    chars = tuple(Char(t, Box(x0 + 20 * k, y0, x0 + 20 * k + 10, y0 + 20), 0.4)
                  for k, t in enumerate(text))  # fmt: skip
    return Word(chars, Box.enclosing([c.box for c in chars]), kind)


@pytest.fixture
def blob_page() -> tuple[np.ndarray, Page]:
    """Two lines: printed "XY" "ZZ" then handwritten "7"; a handwritten line below."""
    words = [_word("XY", 20), _word("ZZ", 80), _word("7", 150)]
    below = [_word("Q", 20, y0=70)]
    gray = np.full((120, 300), 255, np.uint8)
    for w in (*words, *below):
        for c in w.chars:
            gray[c.box.y0 : c.box.y1, c.box.x0 : c.box.x1] = 0
    lines = (Line(tuple(words), Box.enclosing([w.box for w in words]), ((20, 40), (160, 40))),
             Line(tuple(below), below[0].box, ((20, 90), (30, 90))))  # fmt: skip
    blocks = (Block(lines[0].box, 0, 1), Block(lines[1].box, 1, 1))
    return gray, Page(0, 300, 120, lines, blocks=blocks)


def test_a_run_of_printed_words_is_read_once_and_cut_at_its_spaces(blob_page) -> None:
    gray, page = blob_page
    member = FakeMember(["Ab -c"])
    out = read_printed(page, gray, member, [True, True, False, False])  # type: ignore[arg-type]
    assert member.calls == [1]  # one run, one batched call
    first = out.lines[0].words
    assert [w.text for w in first] == ["Ab", "-c", "7"]
    assert [w.kind for w in first] == ["printed", "printed", "handwritten"]
    assert first[2] == page.lines[0].words[2] and out.lines[1] == page.lines[1]
    assert out.blocks == page.blocks
    assert [ln.baseline for ln in out.lines] == [ln.baseline for ln in page.lines]
    for old, new in zip(page.lines[0].words[:2], first[:2], strict=True):
        assert new.box == old.box
        for c in new.chars:
            assert old.box.x0 <= c.box.x0 < c.box.x1 <= old.box.x1
            assert 0.5 < c.confidence <= 1.0 and c.votes[0][0] == "fake.v1"
    assert first[0].chars[0].box.x1 <= first[0].chars[1].box.x0


@pytest.mark.parametrize(
    ("text", "words"),
    [("AbCd", ["AbCd"]), ("A b Cd", ["A", "b", "Cd"]), ("A;(d", ["A;(d"])],
)
def test_words_come_from_the_readers_spaces_not_the_segmentation(
    blob_page, text: str, words: list[str]
) -> None:
    gray, page = blob_page
    out = read_printed(page, gray, FakeMember([text]), [True, True, False, False])  # type: ignore[arg-type]
    new = out.lines[0].words[:-1]
    assert [w.text for w in new] == words
    old = page.lines[0].words
    assert Box.enclosing([w.box for w in new]) == Box.enclosing([old[0].box, old[1].box])
    for left, right in pairwise(new):
        assert left.box.x1 <= right.box.x0  # cut between the characters
    assert all(w.kind == "printed" for w in new)


def test_no_printed_word_leaves_the_page_alone(blob_page) -> None:
    gray, page = blob_page
    member = FakeMember([])
    assert read_printed(page, gray, member, [False] * 4) is page  # type: ignore[arg-type]
    assert member.calls == []


def test_a_printed_word_read_as_nothing_is_dropped(blob_page) -> None:
    gray, page = blob_page
    gray = gray.copy()
    gray[20:40, 80:120] = 255  # the second printed word's ink gone
    out = read_printed(page, gray, FakeMember(["XY"]), [True, True, False, False])  # type: ignore[arg-type]
    assert [w.text for w in out.lines[0].words] == ["XY", "7"]
    assert len(out.lines) == 2


def test_wrong_number_of_flags_is_refused(blob_page) -> None:
    gray, page = blob_page
    with pytest.raises(ValueError, match="flags"):
        read_printed(page, gray, FakeMember([]), [True])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="uint8"):
        read_printed(page, gray.astype(float), FakeMember([]), [False] * 4)  # type: ignore[arg-type]


@pytest.mark.weights
def test_shipped_member_reads_printed_text() -> None:
    from handocr.models.line import load_line_members

    (member,) = load_line_members(["ppocrv5-rec.mobile"])
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 1.2, 2
    texts = ["Invoice", "TOTAL:", "1250.00", "Paid"]
    gray = np.full((160, 760), 255, np.uint8)
    words, x = [], 30
    for t in texts:
        (w, h), base = cv2.getTextSize(t, font, scale, thick)
        cv2.putText(gray, t, (x, 60), font, scale, 0, thick)
        words.append(Word((Char("?", Box(x, 60 - h, x + w, 60 + base), 0.1),),
                          Box(x, 60 - h, x + w, 60 + base)))  # fmt: skip
        x += w + 30
    hand = _word("5", 40, y0=110)
    lines = (Line(tuple(words), Box.enclosing([w.box for w in words]), ((30, 60), (x, 60))),
             Line((hand,), hand.box, ((40, 130), (50, 130))))  # fmt: skip
    page = Page(0, 760, 160, lines, blocks=(Block(lines[0].box, 0, 2),))
    out = read_printed(page, gray, member, [True] * 4 + [False])
    assert [w.text for w in out.lines[0].words] == texts
    assert all(w.kind == "printed" for w in out.lines[0].words)
    assert out.lines[1] == page.lines[1] and out.blocks == page.blocks
