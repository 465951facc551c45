"""Helpers shared by the tests (not fixtures): paths, synthetic pages, probability rows."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from handocr.labels import LABELS, NUM_CLASSES, index_of
from handocr.result import Box, Char, Document, Line, ModelInfo, Page, Word, group_blocks

HERE = Path(__file__).parent
REPO = HERE.parent
SAMPLE = HERE / "data" / "emnist47-sample"
GOLDEN = HERE / "golden"
SHARED = REPO.parent / "shared" / "data"
WEIGHTS = REPO / "weights"
EXAMPLE_FORM = REPO / "docs" / "examples" / "hsf_w4164_fullpage.png"
FORM_FIELDS = REPO / "docs" / "examples" / "hsf_w4164_fields.tsv"


def draw_text_page(lines: list[str], *, scale: float = 2.2, thickness: int = 7) -> np.ndarray:
    """White page with lines of thick OpenCV Hershey text (black), one per row."""
    import cv2

    width = max(60 + int(48 * scale * len(t)) for t in lines)
    page = np.full((60 + 90 * len(lines), width), 255, np.uint8)
    for row, text in enumerate(lines):
        cv2.putText(page, text, (24, 80 + 90 * row), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thickness)
    return page


def frames(n: int) -> list:
    """``n`` small PIL pages; page k (1-based) carries k short bars, so its ink grows with k."""
    from PIL import Image

    out = []
    for k in range(1, n + 1):
        img = np.full((60, 40 + 14 * k), 255, np.uint8)
        for j in range(k):
            img[15:45, 20 + 14 * j : 26 + 14 * j] = 0
        out.append(Image.fromarray(img))
    return out


def put_char(page: np.ndarray, ch: str, x: int, y_base: int) -> None:
    """Draw one character (Hershey simplex, scale 1.2, 3 px strokes) in black."""
    import cv2

    cv2.putText(page, ch, (x, y_base), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 3)


def probs(spec: list[dict[str, float]], floor: float = 1e-4) -> np.ndarray:
    """Rows of class probabilities from ``{char: mass}`` dicts (the rest ``floor``), normalised."""
    p = np.full((len(spec), NUM_CLASSES), floor, np.float32)
    for row, d in zip(p, spec, strict=True):
        for ch, v in d.items():
            row[index_of(ch)] = v
    return p / p.sum(1, keepdims=True)


def one_class(ch: str, p: float) -> np.ndarray:
    """One row: ``p`` on ``ch``, the rest spread evenly over the other 46 classes."""
    row = np.full(NUM_CLASSES, (1 - p) / (NUM_CLASSES - 1), np.float32)
    row[index_of(ch)] = p
    return row


def text_of(p: np.ndarray) -> str:
    """The arg-max characters of probability rows."""
    return "".join(LABELS[int(k)] for k in p.argmax(1))


def sample_document() -> Document:
    """Two pages: "AB 12" and "Z" on the first, nothing on the second; two members' votes."""

    def word(text: str, x: int) -> Word:
        chars = tuple(
            Char(
                c,
                Box(x + 10 * i, 0, x + 10 * i + 8, 12),
                0.5 + 0.01 * i,
                (("O", 0.1),),
                (("cnn.emnist47-v1", c, 0.6), ("resnet10t.emnist47-v1", "O", 0.4)),
            )
            for i, c in enumerate(text)
        )
        return Word(chars, Box.enclosing([c.box for c in chars]))

    line1 = Line((word("AB", 0), word("12", 40)), Box(0, 0, 58, 12))
    line2 = Line((word("Z", 0),), Box(0, 20, 8, 32))
    pages = (Page(0, 100, 50, (line1, line2), "a.png"), Page(1, 100, 50, (), "b.png"))
    return Document(pages, (ModelInfo("cnn", "emnist47-v1", "ab" * 32),))


def draw_columns_page(left: list[str], right: list[str]) -> np.ndarray:
    """White page with two columns of lines (:func:`put_char`, ~25 px high), a wide gutter between.

    Line ``k`` of the left column rests on row ``60 + 40 k``, of the right on ``80 + 40 k``
    (staggered, so sorting lines by height alone would interleave the columns); characters
    are 30 px apart from x 20 (left) and 500 (right).
    """
    rows = max(len(left), len(right))
    page = np.full((40 * rows + 80, 500 + 30 * max(map(len, right)) + 20), 255, np.uint8)
    for x0, y0, texts in ((20, 60, left), (500, 80, right)):
        for row, text in enumerate(texts):
            for i, ch in enumerate(text):
                put_char(page, ch, x0 + 30 * i, y0 + 40 * row)
    return page


def two_block_document() -> Document:
    """One page of two reading blocks: "AB 12" over "CD" left, then "Z" right; baselines."""

    def line(text: str, x: int, y: int) -> Line:
        chars = [
            Char(c, Box(x + 10 * i, y, x + 10 * i + 8, y + 12), 0.9)
            for i, c in enumerate(text)
            if c != " "
        ]
        words, at = [], 0
        for w in text.split(" "):
            own = chars[at : at + len(w)]
            words.append(Word(tuple(own), Box.enclosing([c.box for c in own])))
            at += len(w)
        box = Box.enclosing([w.box for w in words])
        return Line(tuple(words), box, ((box.x0, y + 12), (box.x1, y + 11)))

    lines = (line("AB 12", 0, 0), line("CD", 0, 20), line("Z", 60, 0))
    page = Page(0, 100, 50, lines, "cols.png", blocks=group_blocks(lines, [0, 0, 1]))
    return Document((page,), (ModelInfo("cnn", "emnist47-v1", "ab" * 32),))


def read_layout(image: np.ndarray, source: str | None = None) -> Document:
    """Segment a page (:func:`handocr.segment.segment_layout`) and decode it, without models.

    Every glyph reads as equally likely any class; the page keeps the layout's blocks and
    baselines, as :func:`handocr.pipeline.read_images` passes them.
    """
    from handocr.decode import decode_page
    from handocr.preprocess import ink_map
    from handocr.segment import segment_layout

    layout = segment_layout(ink_map(image))
    n = sum(len(row) for row in layout.lines)
    page = decode_page(
        [[p.box for p in row] for row in layout.lines],
        layout.starts,
        np.full((n, 1, NUM_CLASSES), 1 / NUM_CLASSES, np.float32),
        [],
        index=0,
        width=image.shape[1],
        height=image.shape[0],
        source=source,
        blocks=layout.blocks,
        baselines=layout.baselines,
    )
    return Document((page,))


class Payload:
    """Unpickling this would create ``marker``: proof that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels (valid CRC, hardly any data)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
    head += struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\x00" * 64)
    body = b"IDAT" + idat
    return head + struct.pack(">I", len(idat)) + body + struct.pack(">I", zlib.crc32(body))


def uniform_recognizer(**options: object):  # type: ignore[no-untyped-def]
    """A Recognizer that reads without models: every candidate equally likely any class."""
    from handocr import Recognizer

    class Uniform(Recognizer):
        def classify(self, pieces):  # type: ignore[no-untyped-def]
            return np.full((len(pieces), 1, NUM_CLASSES), 1 / NUM_CLASSES, np.float32)

    return Uniform(**options)


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(*args: str, drop_env: tuple[str, ...] = ()) -> Iterator[str]:
    """Run ``handocr serve --port P *args`` with the shipped weights; yield its URL once up.

    ``HANDOCR_WEIGHTS`` and the names in ``drop_env`` are removed from its environment; the
    server is stopped when the block ends, and a server that dies first fails the test with
    its stderr.
    """
    import pytest

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("HANDOCR_WEIGHTS", *drop_env)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "handocr_cli", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    assert proc.stderr is not None
                    pytest.fail(proc.stderr.read().decode()[-2000:])
                time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def stroke_on_pad(page: object) -> None:
    """Draw a vertical stroke on the web page's writing pad (a Playwright ``Page``)."""
    pad = page.locator("#pad").bounding_box()  # type: ignore[attr-defined]
    assert pad is not None
    x = pad["x"] + pad["width"] / 2
    page.mouse.move(x, pad["y"] + 20)  # type: ignore[attr-defined]
    page.mouse.down()  # type: ignore[attr-defined]
    page.mouse.move(x, pad["y"] + pad["height"] - 20, steps=10)  # type: ignore[attr-defined]
    page.mouse.up()  # type: ignore[attr-defined]


def with_kinds(doc: Document, kinds: dict[str, str]) -> Document:
    """``doc`` with the words whose text is a key of ``kinds`` set to its kind."""
    pages = []
    for page in doc.pages:
        lines = tuple(
            replace(
                line,
                words=tuple(replace(w, kind=kinds.get(w.text, w.kind)) for w in line.words),
            )
            for line in page.lines
        )
        pages.append(replace(page, lines=lines))
    return replace(doc, pages=tuple(pages))


def mixed_kind_document() -> Document:
    """Two blocks: "AB 12" (AB printed) over "CD" (printed), then "Z" (handwritten)."""
    return with_kinds(two_block_document(), {"AB": "printed", "CD": "printed"})


COMB_PITCH, COMB_TOP, COMB_LEFT, COMB_HEIGHT = 40, 30, 20, 46
"""The geometry of :func:`draw_comb`'s fields, in pixels."""


def draw_comb(text: str, *, pen: int = 2, angle: float = 0.0) -> np.ndarray:
    """A white page with a comb of ``len(text)`` cells; a space leaves its cell empty."""
    import cv2

    page = np.full((120, COMB_LEFT * 2 + COMB_PITCH * len(text) + 40), 255, np.uint8)
    x1 = COMB_LEFT + COMB_PITCH * len(text)
    for y in (COMB_TOP, COMB_TOP + COMB_HEIGHT):
        cv2.line(page, (COMB_LEFT, y), (x1, y), 0, pen)
    for j in range(len(text) + 1):
        cv2.line(
            page,
            (COMB_LEFT + j * COMB_PITCH, COMB_TOP),
            (COMB_LEFT + j * COMB_PITCH, COMB_TOP + COMB_HEIGHT),
            0,
            pen,
        )
    for j, ch in enumerate(text):
        if ch != " ":
            put_char(page, ch, COMB_LEFT + j * COMB_PITCH + 8, COMB_TOP + COMB_HEIGHT - 9)
    if angle:
        h, w = page.shape
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        page = cv2.warpAffine(page, rot, (w, h), borderValue=255)
    return page
