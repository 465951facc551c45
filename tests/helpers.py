"""Helpers shared by the tests (not fixtures): paths, synthetic pages, probability rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handocr.labels import LABELS, NUM_CLASSES, index_of
from handocr.result import Box, Char, Document, Line, ModelInfo, Page, Word

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
