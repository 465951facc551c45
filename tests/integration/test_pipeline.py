"""Whole-pipeline reads with tiny untrained weights: structure, order, determinism, deskewing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from handocr import Recognizer, recognize
from handocr.labels import LABELS, MERGED_LOWER
from tests.helpers import draw_text_page

PRINTABLE = frozenset(LABELS) | frozenset(MERGED_LOWER)
"""What a character may print as: a class, or a merged class in lower case (c i j k l ...)."""


def test_document_structure_boxes_and_confidences(use_tiny_weights: Path, two_line_page) -> None:
    page, truth = two_line_page
    doc = Recognizer(device="cpu").read(page)
    assert len(doc.pages) == 1 and doc.models[0].tag == "tiny"
    p = doc.pages[0]
    assert (p.width, p.height) == (page.shape[1], page.shape[0])
    assert [len(line.words) for line in p.lines] == [len(t.split()) for t in truth]
    for line in p.lines:
        for word in line.words:
            for ch in word.chars:
                assert 0.0 <= ch.confidence <= 1.0 and len(ch.text) == 1
                assert 0 <= ch.box.x0 < ch.box.x1 <= p.width
                assert len(ch.alternatives) == 2
    assert [len(line.text.replace(" ", "")) for line in p.lines] == [7, 5]


def test_multipage_tiff_and_pdf_keep_order(use_tiny_weights: Path, tmp_path: Path) -> None:
    from PIL import Image

    frames = [Image.fromarray(draw_text_page([t])) for t in ("A", "BB", "CCC")]
    tif = tmp_path / "doc.tif"
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    pdf = tmp_path / "doc.pdf"
    frames[0].convert("RGB").save(
        pdf, save_all=True, append_images=[f.convert("RGB") for f in frames[1:]]
    )
    for path in (tif, pdf):
        doc = recognize(path)
        assert [p.source for p in doc.pages] == [f"{path.name}#{k}" for k in (1, 2, 3)]
        assert [p.index for p in doc.pages] == [0, 1, 2]
        assert [len(p.text) for p in doc.pages] == [1, 2, 3]
    assert [p.source for p in recognize(tif, pages="2-3").pages] == ["doc.tif#2", "doc.tif#3"]


def test_same_input_gives_identical_json_and_batch_size_barely_matters(
    use_tiny_weights: Path,
) -> None:
    """Determinism: byte-identical JSON across runs; across batch sizes, the same text and
    confidences within 1e-5 (docs/reliability.md)."""
    page = draw_text_page(["HELLO 42"])
    first = Recognizer(device="cpu").read(page).to_json()
    again = Recognizer(device="cpu").read(page).to_json()
    assert first == again
    docs = [Recognizer(device="cpu", batch_size=b).read(page) for b in (1, 1024)]
    assert docs[0].text == docs[1].text and len(docs[0].text) == 8
    conf = [[c.confidence for ln in d.pages[0].lines for c in ln.all_chars()] for d in docs]
    np.testing.assert_allclose(conf[0], conf[1], atol=1e-5, rtol=0)


def test_skewed_page_is_read_with_boxes_in_page_pixels(
    emnist_sample: Path, use_tiny_weights: Path
) -> None:
    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.synth import PageStyle, match_boxes, render_page

    s = load_emnist(emnist_sample, "pool47", "test")
    page = render_page(
        s.images, to_label_space(s), PageStyle(skew_deg=4.0, lines=5, ruled=True), seed=7
    )
    assert abs(page.angle_deg) > 1.0
    found = {}
    for deskew in (False, True):
        rec = Recognizer(device="cpu", deskew=deskew, search=False)
        doc = rec.read(page.image)
        found[deskew] = [c.box for line in doc.pages[0].lines for c in line.all_chars()]
    p_on, r_on, _ = match_boxes([c.box for c in page.chars], found[True])
    _, r_off, _ = match_boxes([c.box for c in page.chars], found[False])
    assert r_on >= 0.97 and p_on >= 0.97, (p_on, r_on)
    assert r_on >= r_off  # levelling the page helps line finding


@pytest.mark.property
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays(np.uint8, st.tuples(st.integers(1, 90), st.integers(1, 90))))
def test_random_pages_read_end_to_end(use_tiny_weights: Path, page: np.ndarray) -> None:
    doc = Recognizer(device="cpu").read(page)
    (out,) = doc.pages
    assert (out.width, out.height) == (page.shape[1], page.shape[0])
    for line in out.lines:
        for c in line.all_chars():
            assert c.text in PRINTABLE, c.text
            assert all(alt in PRINTABLE for alt, _ in c.alternatives)
            assert 0.0 <= c.confidence <= 1.0
            assert 0 <= c.box.x0 < c.box.x1 <= page.shape[1]
            assert 0 <= c.box.y0 < c.box.y1 <= page.shape[0]


def test_merged_classes_print_in_lower_case_in_lower_case_lines() -> None:
    # the case of PRINTABLE above: a read can print a merged class in lower case
    from handocr.decode import decode_chars
    from handocr.result import Box
    from tests.helpers import probs

    p = probs([{"h": 0.9}, {"e": 0.9}, {"L": 0.9}, {"P": 0.9}])
    boxes = [Box(10 * i, 0, 10 * i + 8, 12) for i in range(4)]
    text = "".join(c.text for c in decode_chars(p, boxes, word_starts=[True, False, False, False]))
    assert text == "help" and not set(text) <= set(LABELS) and set(text) <= PRINTABLE


def test_reading_with_onnx_never_imports_torch(onnx_weights: Path, tmp_path: Path) -> None:
    import cv2

    page = np.full((60, 200), 255, np.uint8)
    cv2.putText(page, "A7", (20, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 0, 4)
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), page)
    code = (
        "import sys; from handocr import recognize; "
        f"d = recognize({str(path)!r}, device='cpu'); "
        "assert len(d.text) == 2, d.text; "
        "assert d.models[0].tag == 'tiny'; "
        "assert 'torch' not in sys.modules and 'timm' not in sys.modules, 'torch imported'"
    )
    env = {**os.environ, "HANDOCR_WEIGHTS": str(onnx_weights)}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("line_models", [(), None])  # without line members, and the tiny ones
def test_the_kind_filter_applies_once_a_page_is_read(
    use_tiny_weights: Path, two_line_page, monkeypatch: pytest.MonkeyPatch, line_models
) -> None:
    """Words marked printed (as the classifier will) are kept or dropped by ``kind``."""
    from dataclasses import replace

    import handocr.decode

    decode_page = handocr.decode.decode_page

    def first_word_printed(*args, **kwargs):  # type: ignore[no-untyped-def]
        page = decode_page(*args, **kwargs)
        lines = list(page.lines)
        first = lines[0]
        lines[0] = replace(first, words=(replace(first.words[0], kind="printed"), *first.words[1:]))
        return replace(page, lines=tuple(lines))

    monkeypatch.setattr(handocr.decode, "decode_page", first_word_printed)
    image, _ = two_line_page
    given = {} if line_models is None else {"line_models": line_models}
    reads = {
        kind: Recognizer(kind=kind, **given).read_images([image])[0]
        for kind in ("all", "handwritten", "printed")
    }
    every = reads["all"].page
    if not any(w.kind == "printed" for line in every.lines for w in line.words):
        pytest.skip("fusion rewrote the line's words")  # fused words are rebuilt from chars
    printed, hand = reads["printed"].page, reads["handwritten"].page
    assert [w.kind for line in printed.lines for w in line.words] == ["printed"]
    assert printed.text == every.lines[0].words[0].text
    assert all(w.kind == "handwritten" for line in hand.lines for w in line.words)
    n_words = sum(len(line.words) for line in every.lines)
    assert sum(len(line.words) for line in hand.lines) == n_words - 1
    if line_models == ():  # one piece per character: the pieces are filtered too
        pages = [r.page for r in reads.values()]
        n_chars = [sum(len(w.chars) for line in p.lines for w in line.words) for p in pages]
        assert [len(r.pieces or ()) for r in reads.values()] == n_chars
