"""Fusion of a line member's CTC posteriors with the character members on a lattice."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.fusion import FusionWeights, fuse_line, line_features
from handocr.labels import LABELS, Charset
from handocr.linecrop import line_bands, line_crop
from handocr.models.line import FOLDED, LineReading, allowed_symbols
from handocr.result import Box, Char
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig
from handocr.segment.lattice import build_lattice
from handocr.segment.search import LineSearch

MEMBERS = ("cnn.a", "cnn.b")
KEY = "line.test"


def _search(texts: list[str], p: float = 0.95) -> LineSearch:
    """A line of len(texts) square glyphs 20 px apart, read as ``texts`` with probability p."""
    pieces = [Piece(Box(10 + 30 * k, 10, 30 + 30 * k, 30), np.full((20, 20), 255, np.uint8))
              for k in range(len(texts))]  # fmt: skip
    lat = build_lattice(pieces, [k == 0 for k in range(len(pieces))], SegmentConfig(),
                        [True] * len(pieces))  # fmt: skip
    probs = np.full((len(pieces), 1 + len(MEMBERS), len(LABELS)), (1 - p) / 46, np.float32)
    for k, t in enumerate(texts):
        probs[k, :, LABELS.index(t)] = p
    return LineSearch(lat, probs, np.full(len(pieces), 2.0), list(range(len(pieces))))


def _reading(frames: list[str], peak: float = 0.9) -> LineReading:
    """CTC posteriors: each frame's symbol ("" = blank) at ``peak``, the rest spread evenly."""
    v = 1 + len(FOLDED)
    lp = np.full((len(frames), v), (1 - peak) / (v - 1))
    for t, s in enumerate(frames):
        lp[t, 0 if s == "" else 1 + FOLDED.index(s)] = peak
    return LineReading(np.log(lp).astype(np.float32), np.ones((len(frames), 26), np.float32), 5.0)


def _decoded(search: LineSearch, texts: list[str]) -> list[Char]:
    return [Char(t, search.lattice.pieces[k].box, 0.9) for k, t in enumerate(texts)]


# frames of 5 px starting at column 0: glyphs at 10-30, 40-60, 70-90
ABC = ["", "", "A", "A", "", "", "", "", "B", "", "", "", "", "", "C", "", "", "", ""]


def _fuse(texts, frames, weights=None, charset=None, p=0.95):  # type: ignore[no-untyped-def]
    search = _search(texts, p)
    return fuse_line(
        search,
        _decoded(search, texts),
        [_reading(frames)],
        [KEY],
        weights=weights or FusionWeights(),
        members=MEMBERS,
        crop_x0=[0],
        charset=charset,
    )


def test_agreeing_members_read_the_line_confidently() -> None:
    chars, starts = _fuse(list("ABC"), ABC)
    assert "".join(c.text for c in chars) == "ABC"
    assert starts == [True, False, False]
    assert all(c.confidence > 0.9 for c in chars)
    assert [c.box for c in chars] == [Box(10, 10, 30, 30), Box(40, 10, 60, 30), Box(70, 10, 90, 30)]
    names = [v[0] for v in chars[1].votes]
    assert names == [*MEMBERS, KEY]
    assert chars[1].votes[-1][1] == "B"


def test_a_character_only_the_line_member_sees_is_inserted_between_the_glyphs() -> None:
    frames = list(ABC)
    frames[12] = "-"  # columns 60-65: between B and C, where no glyph is
    w = FusionWeights(insert=-1.0)
    chars, _ = _fuse(list("ABC"), frames, w)
    assert "".join(c.text for c in chars) == "AB-C"
    hyphen = chars[2]
    assert 55 <= hyphen.box.x0 <= 65 and hyphen.box.y0 == 10
    assert not [v for v in hyphen.votes if v[0] in MEMBERS]  # no glyph: no character vote


def test_disagreement_lowers_the_confidence() -> None:
    frames = list(ABC)
    frames[8] = "D"  # the line member reads D where the characters read B
    agree, _ = _fuse(list("ABC"), ABC, p=0.6)
    differ, _ = _fuse(list("ABC"), frames, p=0.6)
    assert differ[1].confidence < min(0.95, agree[1].confidence - 0.05)
    assert differ[0].confidence == pytest.approx(agree[0].confidence, abs=0.05)
    assert {a for a, _ in differ[1].alternatives} & {"B", "D"}


def test_a_confident_line_member_overrules_an_unsure_character() -> None:
    frames = list(ABC)
    frames[8] = frames[7] = "D"
    chars, _ = _fuse(list("ABC"), frames, FusionWeights(line={KEY: 3.0}), p=0.3)
    assert "".join(c.text for c in chars) == "ADC"


def test_the_charset_limits_the_readings() -> None:
    frames = ["", "1", "", "", "", "", "", "7", "", "", "", "", "", "", "A", "", ""]
    search = _search(list("174"))
    f = line_features(search, (1, 7, 4), [_reading(frames)], [KEY], weights=FusionWeights(),
                      charset=Charset.parse("digits"))  # fmt: skip
    assert all(all(FOLDED[s].isdigit() for s in r) for r in f.readings)
    ok = allowed_symbols(Charset.parse("digits"))
    assert ok.sum() == 10 and not ok[FOLDED.index("-")]
    assert allowed_symbols(None).all()


def test_weights_round_trip() -> None:
    w = FusionWeights(segment=0.5, line={KEY: 2.0}, temperature=3.0)
    assert FusionWeights.from_dict(w.to_dict() | {"report": {"x": 1}}) == w


def test_line_crop_views_keep_paper_around_the_ink_and_turn_light_ink_dark() -> None:
    gray = np.full((100, 200), 20, np.uint8)  # dark paper
    ink = np.zeros_like(gray)
    gray[40:60, 50:150] = 230  # light ink, 20 rows
    ink[40:60, 50:150] = 255
    crop, x0 = line_crop(gray, ink, Box(50, 40, 150, 60), 20.0, (30, 100))
    # tight: 48 rows (small writing is not enlarged: 20 / 48 < TEXT_SHARE), 14 rows of paper
    # above (cut at the band's row 30, then padded) and 14 + 5 columns beside
    assert crop.shape == (48, 138) and x0 == 31
    assert crop[0, 0] > 200 and crop[24, 69] < 50  # paper light, ink dark
    wide, x0 = line_crop(gray, ink, Box(50, 40, 150, 60), 20.0, (30, 100), "wide")
    # wide: 2 heights (+1) beside, 1 height (+1) below, above down to the band
    assert wide.shape == (81 - 30, 191 - 9) and x0 == 9


def test_bands_stop_halfway_to_the_neighbouring_lines() -> None:
    bands = line_bands([Box(0, 0, 100, 20), Box(0, 40, 100, 60), Box(200, 40, 300, 60)])
    assert bands[0] == (-1, 30) and bands[1] == (30, 1 << 30) and bands[2][0] == -1
