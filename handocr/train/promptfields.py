"""Fonts and prompted form fields for the word-kind training pages (:mod:`handocr.train.kind`).

A *prompted field* is the commonest layout of handprint forms (NIST's HSF pages, tax and
census forms, exam sheets): a short printed prompt (digits to copy, a letter run, a label) set
in a book or bold font just above a drawn box that holds the handprint. Printed digit prompts
set letter-spaced and underlined right above boxes of handwritten digits are where a kind
classifier trained on free printed lines and free handprint is least sure, so the kind pages
hold rows of them: the prompt band is labelled printed, the box band handwritten.

Fonts are the TrueType and OpenType files of Debian's font packages (``fonts-dejavu-core``,
``fonts-liberation``, ``fonts-freefont-ttf``, ``fonts-croscore``, ``fonts-urw-base35``,
``fonts-lmodern``: Latin Modern, the Computer Modern of TeX-set forms; ``fonts-texgyre``); a
font is drawn family folder first, so a package with many files does not outweigh the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["FONT_DIRS", "find_fonts", "pick_font", "prompted_row"]

FONT_DIRS = (
    Path("/usr/share/fonts/truetype"),
    Path("/usr/share/fonts/opentype"),
    Path("/usr/share/texmf/fonts/opentype/public"),
)

_SKIP = ("Symbol", "math", "Math", "Dingbat", "dingbat", "D050000L")


def find_fonts(dirs: Sequence[Path] = FONT_DIRS) -> list[Path]:
    """Return the TrueType/OpenType fonts under ``dirs`` (sorted), skipping symbol and math fonts.

    Returns
    -------
    list of Path
        Empty when none of ``dirs`` holds a font (install e.g. Debian's ``fonts-dejavu-core``).
    """
    out: list[Path] = []
    for d in dirs:
        if d.is_dir():
            out += [
                p
                for p in d.rglob("*")
                if p.suffix.lower() in {".ttf", ".otf"} and not any(s in str(p) for s in _SKIP)
            ]
    return sorted(out)


def pick_font(fonts: Sequence[Path], rng: np.random.Generator) -> Path:
    """Draw a font: its family folder uniformly first, then a file of that folder.

    Raises
    ------
    ValueError
        ``fonts`` is empty.
    """
    if not fonts:
        raise ValueError("no fonts to pick from")
    folders = sorted({p.parent for p in fonts})
    folder = folders[int(rng.integers(0, len(folders)))]
    inside = [p for p in fonts if p.parent == folder]
    return inside[int(rng.integers(0, len(inside)))]


def _prompt_text(rng: np.random.Generator) -> str:
    """Draw a field prompt: digits to copy (often all ten), capitals, lower case, a label."""
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return "0123456789"
    if kind == 1:
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 9))))
    if kind == 2:
        return "".join(chr(c) for c in rng.integers(65, 91, int(rng.integers(1, 9))))
    if kind == 3:
        return "".join(chr(c) for c in rng.integers(97, 123, int(rng.integers(1, 9))))
    return str(rng.choice(["Name", "DATE", "Age", "City", "No.", "Zip", "SEX", "Tel"]))


def _prompt(text: str, font: Path, size: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Render one prompt (black on white), letter-spaced and underlined at random."""
    from PIL import Image, ImageDraw, ImageFont

    if rng.random() < 0.5 and len(text) > 1:
        text = " ".join(text)
    pil_font = ImageFont.truetype(str(font), size)
    width = int(pil_font.getlength(text)) + 8
    img = Image.new("L", (max(width, 8), int(size * 1.5)), 255)
    draw = ImageDraw.Draw(img)
    draw.text((4, size // 6), text, font=pil_font, fill=0)
    if rng.random() < 0.4:  # underlined prompt, as on NIST's forms
        y = int(size * 1.25)
        draw.line((4, y, width - 4, y), fill=0, width=max(size // 14, 1))
    return np.asarray(img, np.uint8)


def _handprint(
    text: str,
    glyphs: NDArray[np.uint8],
    labels: NDArray[np.int64],
    real: Sequence[NDArray[np.uint8]],
    rng: np.random.Generator,
) -> NDArray[np.uint8]:
    """Handprint for a box: a real field image (digit prompts, half the time) or EMNIST glyphs."""
    from handocr.train.synth import PageStyle, render_page

    if len(real) and text.isdigit() and rng.random() < 0.5:
        return real[int(rng.integers(0, len(real)))]
    n = max(min(len(text), 10), 1)
    style = PageStyle(
        lines=1,
        words_per_line=1,
        chars_per_word=(n, n),
        height=(40, 48),
        slant_deg=float(rng.uniform(0, 12)),
        pen_px=(int(rng.integers(-1, 1)), int(rng.integers(0, 3))),
        case="upper" if not text.islower() else "mixed",
        margin=4,
    )
    pool = np.flatnonzero(labels < 10) if text.isdigit() else np.arange(len(labels))
    idx = rng.choice(pool if len(pool) else np.arange(len(labels)), 200)
    page = render_page(glyphs[idx], labels[idx], style, seed=int(rng.integers(0, 2**31))).image
    ys, xs = np.nonzero(page < 128)
    if len(ys) == 0:
        return page
    return page[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def prompted_row(
    fonts: Sequence[Path],
    glyphs: NDArray[np.uint8],
    labels: NDArray[np.int64],
    real: Sequence[NDArray[np.uint8]],
    rng: np.random.Generator,
    width: int,
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Render a row of 1-5 prompted fields across a page ``width`` pixels wide.

    Parameters
    ----------
    fonts : sequence of Path
        Fonts to set the prompts in (:func:`find_fonts`); one font per row.
    glyphs, labels : ndarray
        EMNIST train glyphs ``(N, 28, 28) uint8`` and their classes (:data:`handocr.labels.LABELS`).
    real : sequence of ndarray
        Real handprint field images (black on white, cut to their ink), or empty.
    rng : numpy.random.Generator
    width : int

    Returns
    -------
    (ndarray, ndarray) of uint8, shapes (h1, width) and (h2, width)
        The prompt band (printed) and, right below it, the band of boxes holding the
        handprint (handwritten); black ink (0) on white (255).
    """
    import cv2

    font = pick_font(fonts, rng)
    size = int(rng.integers(18, 44))
    box_h = int(size * rng.uniform(1.6, 3.2))
    pen = int(rng.integers(1, 5))
    n = int(rng.integers(1, 6))
    slot = width // n
    texts = [_prompt_text(rng) for _ in range(n)]
    prompts = [_prompt(t, font, size, rng) for t in texts]
    top_h = max(p.shape[0] for p in prompts) + int(rng.integers(0, 10))
    top = np.full((top_h, width), 255, np.uint8)
    boxes = np.full((box_h + 2 * pen + 6, width), 255, np.uint8)
    for k, (text, prompt) in enumerate(zip(texts, prompts, strict=True)):
        x0 = k * slot + int(rng.integers(5, 40))
        box_w = min(max(prompt.shape[1] + int(rng.integers(-20, 120)), box_h), slot - 45)
        if box_w < 20:
            continue
        pw = min(prompt.shape[1], slot - 10)
        px = x0 + max((box_w - pw) // 2, 0) if rng.random() < 0.6 else x0
        px = min(px, width - pw)
        top[top_h - prompt.shape[0] :, px : px + pw] = prompt[:, :pw]
        cv2.rectangle(boxes, (x0, 2), (x0 + box_w, 2 + box_h), 0, pen)
        hand = _handprint(text, glyphs, labels, real, rng)
        h = int((box_h - 2 * pen) * rng.uniform(0.5, 1.0))  # may touch the frame
        w = min(max(int(hand.shape[1] * h / max(hand.shape[0], 1)), 1), box_w - 2 * pen - 4)
        if w < 4 or h < 4:
            continue
        ink = np.asarray(cv2.resize(hand, (w, h), interpolation=cv2.INTER_AREA), np.uint8)
        y = 2 + pen + int(rng.integers(0, max(box_h - 2 * pen - h, 0) + 1))
        x = x0 + pen + 2 + int(rng.integers(0, max(box_w - 2 * pen - 4 - w, 0) + 1))
        boxes[y : y + h, x : x + w] = np.minimum(boxes[y : y + h, x : x + w], ink)
    return top, boxes
