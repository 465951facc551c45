"""Line images with their text, for the CTC line member (:mod:`handocr.models.crnn`).

Two kinds of lines:

- **synthetic** (:class:`SynthLines`): 1-20 EMNIST training glyphs laid out into a line, with
  random spacing (touching and overlapping neighbours included), baseline, size, width and
  stroke-width jitter, word spaces, and the punctuation EMNIST lacks (``- / . , ' :``) drawn
  as short pen strokes; digit strings, letter strings (upper or lower-case glyphs, all labelled
  upper case) and mixes; printed as dark ink on light, textured paper with noise, blur,
  low-resolution rendering and JPEG compression, and at times fragments of the neighbouring
  lines or a form rule.
- **real** (:func:`read_line_folder`): a folder of line images plus ``truth.tsv``
  (``filename<TAB>text``; images in the folder or in ``images/``), e.g. a user's own writers.
  When the folder also has ``boxes.tsv`` (``filename, x, y, width, height, label``, e.g. the
  ORAND-CAR-A train split), each image is cut to the horizontal span of its boxes, so marks
  that the truth does not transcribe (an amount's trailing ``.-``) fall outside.

Every line comes out as a ``(32, W)`` uint8 gray image, dark ink on light paper; the network
input is ``(255 - gray) / 255`` (:func:`handocr.models.crnn.line_input`).
"""

from __future__ import annotations

import csv
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import DataError
from handocr.labels import DIGITS, KEPT_LOWER, LABELS, LETTER_FREQUENCY, UPPER
from handocr.models.crnn import LINE_HEIGHT, STRIDE, normalise_text
from handocr.train.realdata import held_out

__all__ = [
    "MAX_TEXT",
    "PUNCT",
    "STRIDE_SAFE",
    "LineSet",
    "SynthLines",
    "SynthStyle",
    "min_width",
    "random_text",
    "read_line_folder",
    "to_height",
]

log = logging.getLogger(__name__)

MAX_TEXT = 48
"""Longest real transcription kept (characters, spaces included)."""

PUNCT = "-/.,':"
"""Punctuation drawn as pen strokes (EMNIST has none)."""

STRIDE_SAFE = 2 * STRIDE
"""Least width in pixels per character of a synthetic line (two frames of the network)."""


@dataclass(slots=True)
class LineSet:
    """Line images and their texts.

    Attributes
    ----------
    name : str
        Where they come from (the folder's name, or ``"synth"``).
    images : list of ndarray of uint8, each (32, W)
        Dark ink on light paper, already resized to :data:`LINE_HEIGHT`.
    texts : list of str
        Normalised transcriptions (:func:`handocr.models.crnn.normalise_text`).
    digits_only : bool
        Every transcription is digits only (amounts): scored on digits only.
    report : dict
        Counts of what was read and dropped.
    """

    name: str
    images: list[NDArray[np.uint8]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    digits_only: bool = False
    report: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def to_height(gray: NDArray[np.uint8], height: int = LINE_HEIGHT) -> NDArray[np.uint8]:
    """Resize a gray line to ``height`` px keeping its aspect ratio, as the network reads it.

    The same resizing as :func:`handocr.models.crnn.line_input` (``INTER_AREA`` shrinking,
    ``INTER_LINEAR`` growing), before the pixel mapping.
    """
    import cv2

    h, w = gray.shape[:2]
    width = max(1, round(w * height / max(h, 1)))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(gray, (width, height), interpolation=interp))


def _find_image(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / "images" / name):
        if candidate.is_file():
            return candidate
    return None


def _box_spans(folder: Path) -> dict[str, tuple[int, int]]:
    """Horizontal span ``(x0, x1)`` of each image's boxes in ``boxes.tsv``, if there is one."""
    path = folder / "boxes.tsv"
    spans: dict[str, tuple[int, int]] = {}
    if not path.is_file():
        return spans
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            try:
                x, w = int(row["x"]), int(row["width"])
            except (KeyError, TypeError, ValueError) as err:
                raise DataError(f"{path}: malformed row {row} ({err})") from err
            name = row["filename"]
            x0, x1 = spans.get(name, (x, x + w))
            spans[name] = (min(x0, x), max(x1, x + w))
    return spans


def read_line_folder(
    folder: Path, *, holdout: float = 0.1, max_len: int = MAX_TEXT
) -> tuple[LineSet, LineSet]:
    """Read a folder of line images with ``truth.tsv`` into a training and a held-out set.

    Parameters
    ----------
    folder : Path
        ``truth.tsv`` (``filename<TAB>text``, no header) and the images, in the folder or in
        ``images/``. An optional ``boxes.tsv`` (with a header: ``filename x y width height
        label``) cuts each image to the horizontal span of its boxes plus a margin of a tenth
        of the line height.
    holdout : float
        Share of the images held out, by a hash of the file name
        (:func:`handocr.train.realdata.held_out`: the same images in every run).
    max_len : int
        Longer transcriptions are dropped.

    Returns
    -------
    (LineSet, LineSet)
        Training and held-out lines, resized to :data:`LINE_HEIGHT` px. Lines whose text has a
        character outside the line alphabet (after upper-casing and removing accents), is
        empty, or is too long are dropped and counted in ``report``.

    Raises
    ------
    DataError
        No ``truth.tsv``, an image that cannot be found or read, or no usable line at all.
    """
    from handocr.errors import InputImageError
    from handocr.io import load_pages

    truth = folder / "truth.tsv"
    if not truth.is_file():
        raise DataError(f"{folder}: no truth.tsv (filename<TAB>text per line image)")
    spans = _box_spans(folder)
    name = folder.name
    train, held = LineSet(name), LineSet(name)
    dropped = {"alphabet": 0, "length": 0}
    for row in truth.read_text(encoding="utf-8").splitlines():
        if not row.strip() or "\t" not in row:
            continue
        fname, raw = row.split("\t", 1)
        text = normalise_text(raw.replace("\\n", " "))
        if not text:
            dropped["alphabet"] += 1
            continue
        if len(text) > max_len:
            dropped["length"] += 1
            continue
        path = _find_image(folder, fname)
        if path is None:
            raise DataError(f"{folder}: image {fname} not found (also looked in images/)")
        try:
            gray = load_pages(path)[0]
        except InputImageError as err:
            raise DataError(f"{folder}: cannot read {fname} ({err})") from err
        if fname in spans:
            x0, x1 = spans[fname]
            margin = max(2, gray.shape[0] // 10)
            gray = gray[:, max(0, x0 - margin) : min(gray.shape[1], x1 + margin)]
        part = held if held_out(fname, holdout) else train
        part.images.append(to_height(gray))
        part.texts.append(text)
    if not train.texts and not held.texts:
        raise DataError(f"{folder}: no usable line in truth.tsv")
    digits = all(t.isdigit() for t in train.texts + held.texts)
    for part in (train, held):
        part.digits_only = digits
        part.report = {"lines": len(part), "dropped": dict(dropped)}
    log.info(
        "%s: %d training and %d held-out lines (dropped: %s)", name, len(train), len(held), dropped
    )
    return train, held


# ---------------------------------------------------------------------------------------------
# synthetic lines

_LETTERS = UPPER
_FREQ = np.array([LETTER_FREQUENCY[c.lower()] for c in _LETTERS])
_FREQ = _FREQ / _FREQ.sum()
_X_HEIGHT = frozenset("aenr")  # kept lower-case classes without ascender or descender
_DESCENDER = frozenset("gq")


def _letters(rng: np.random.Generator, n: int) -> str:
    p = _FREQ if rng.random() < 0.6 else None
    return "".join(rng.choice(list(_LETTERS), size=n, p=p))


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list(DIGITS), size=n))


def _glyph_count(rng: np.random.Generator, max_glyphs: int) -> int:
    if rng.random() < 0.3:
        return int(rng.integers(1, max_glyphs + 1))
    return int(min(max_glyphs, 1 + rng.binomial(max_glyphs - 1, 0.33)))


def random_text(rng: np.random.Generator, max_glyphs: int = 20) -> str:
    """Draw a line's text: digit strings, words, codes or anything in the alphabet.

    Parameters
    ----------
    rng : numpy.random.Generator
    max_glyphs : int
        Most letters and digits, or punctuation marks in the punctuation-heavy kind.

    Returns
    -------
    str
        1 to ``max_glyphs`` glyphs of :data:`handocr.models.crnn.ALPHABET`, plus the
        separators that amounts and codes put between them (``12/05/2019``, ``AB-12``), single
        spaces between words, none at the ends.
    """
    n = _glyph_count(rng, max_glyphs)
    kind = rng.random()
    if kind < 0.25:  # amounts, dates, numbers, times
        text = _digits(rng, n)
        if n >= 3 and rng.random() < 0.4:
            sep = str(rng.choice(list(".,/-: ")))
            cut = sorted(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(1, 3))),
                                    replace=False))  # fmt: skip
            parts = [text[i:j] for i, j in zip([0, *cut], [*cut, n], strict=True)]
            text = sep.join(parts)
    elif kind < 0.65:  # words: names, joined by spaces, hyphens, apostrophes
        words: list[str] = []
        left = n
        while left > 0:
            k = min(left, int(rng.integers(1, 11)))
            words.append(_letters(rng, k))
            left -= k
        text = words[0]
        for w in words[1:]:
            r = rng.random()
            if r < 0.12:
                text += "-" + w
            elif r < 0.18 and len(text) <= 2:
                text += "'" + w
            else:
                text += " " + w
        if rng.random() < 0.1:
            text += str(rng.choice(list(".,:")))
    elif kind < 0.85:  # codes: letters and digits mixed
        out = []
        for _ in range(n):
            out.append(str(rng.choice(list(DIGITS + _LETTERS))))
            if rng.random() < 0.1:
                out.append(str(rng.choice(list(" -/."))))
        text = "".join(out)
    else:  # anything: punctuation-heavy
        chars = list(DIGITS + _LETTERS + PUNCT + PUNCT)
        text = "".join(str(c) if rng.random() > 0.12 else " " for c in rng.choice(chars, size=n))
    return " ".join(text.split()) or _letters(rng, 1)


@dataclass(frozen=True, slots=True)
class SynthStyle:
    """Ranges of the synthetic line style (each drawn uniformly per line unless stated)."""

    cap_px: tuple[float, float] = (22.0, 40.0)
    """Capital height at the rendering scale, in pixels."""
    fill: tuple[float, float] = (0.45, 0.85)
    """Capital height / image height."""
    char_gap: tuple[float, float] = (-0.12, 0.4)
    """Mean gap between glyphs, in capital heights (negative: overlapping)."""
    word_gap: tuple[float, float] = (0.45, 1.3)
    """Word space, in capital heights."""
    lower_p: float = 0.3
    """Share of lines written with lower-case glyphs where EMNIST has them."""
    paper: tuple[int, int] = (140, 255)
    contrast: tuple[int, int] = (70, 230)
    jpeg_p: float = 0.5
    lowres_p: float = 0.3
    clutter_p: float = 0.25
    """Share of lines with fragments of the neighbouring lines at the top or bottom."""
    rule_p: float = 0.12
    """Share of lines on a printed form rule."""


class SynthLines:
    """Lay EMNIST glyphs out into lines of known text.

    Parameters
    ----------
    glyphs : ndarray of uint8, shape (N, 28, 28)
        Upright EMNIST images, white ink on black (:func:`handocr.train.data.load_emnist`);
        use the training split only.
    labels : ndarray of int64, shape (N,)
        Indices into :data:`handocr.labels.LABELS`.
    style : SynthStyle, optional

    Raises
    ------
    DataError
        A character of the alphabet's letters or digits has no glyph.
    """

    def __init__(
        self,
        glyphs: NDArray[np.uint8],
        labels: NDArray[np.int64],
        style: SynthStyle | None = None,
    ) -> None:
        self.glyphs = glyphs
        self.style = style or SynthStyle()
        self.pools: dict[str, NDArray[np.intp]] = {}
        for i, ch in enumerate(LABELS):
            idx = np.flatnonzero(labels == i)
            if len(idx):
                self.pools[ch] = idx
        missing = [c for c in DIGITS + UPPER if c not in self.pools]
        if missing:
            raise DataError(f"no EMNIST glyphs for {''.join(missing)}")

    def _glyph(self, rng: np.random.Generator, ch: str) -> NDArray[np.float32]:
        idx = self.pools[ch]
        g = self.glyphs[int(idx[int(rng.integers(0, len(idx)))])]
        ys, xs = np.nonzero(g > 40)
        if len(ys):
            g = g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        return g.astype(np.float32) / 255.0

    def render(
        self, rng: np.random.Generator, text: str | None = None
    ) -> tuple[NDArray[np.uint8], str]:
        """Render one line.

        Parameters
        ----------
        rng : numpy.random.Generator
            Every random choice comes from it.
        text : str, optional
            The text to write (normalised, in the alphabet); drawn by :func:`random_text`
            when omitted.

        Returns
        -------
        (ndarray of uint8, shape (32, W), str)
            The line image (dark ink on light paper) and its text. The image is at least
            ``4 * (len(text) + 1)`` px wide, so CTC has a frame for every character.
        """
        import cv2

        for _ in range(8):
            t = text if text is not None else random_text(rng)
            ink, cap = self._layout(rng, t)
            img = self._print(rng, ink, cap)
            if img.shape[1] >= STRIDE_SAFE * (len(t) + 1):
                return img, t
            if text is not None:  # stretch the given text rather than fail
                w = STRIDE_SAFE * (len(t) + 1)
                wide: Any = cv2.resize(img, (w, LINE_HEIGHT), interpolation=cv2.INTER_LINEAR)
                return wide, t
        return img, t

    def _layout(self, rng: np.random.Generator, text: str) -> tuple[NDArray[np.float32], float]:
        """Ink map (1 = ink) of ``text`` at the rendering scale, and the capital height."""
        import cv2

        st = self.style
        cap = float(rng.uniform(*st.cap_px))
        height = round(cap / rng.uniform(*st.fill))
        free = height - cap
        base = round(rng.uniform(0.2, 0.8) * free + cap)
        gap_mean = rng.uniform(*st.char_gap) * cap
        word_gap = rng.uniform(*st.word_gap) * cap
        width_f = rng.uniform(0.75, 1.25)
        pen = max(1, round(cap * rng.uniform(0.07, 0.13)))
        lower = rng.random() < st.lower_p
        margin_l = int(rng.uniform(0.0, 0.6) * cap)
        canvas = np.zeros((height, int(margin_l + (len(text) + 2) * 2.8 * cap) + 8), np.float32)
        x = float(margin_l)
        prev_space = True
        for ch in text:
            if ch == " ":
                x += word_gap
                prev_space = True
                continue
            if not prev_space:
                x += gap_mean + rng.normal(0, 0.06 * cap)
            x = max(x, 0.0)
            prev_space = False
            jitter_y = rng.normal(0, 0.04 * cap)
            if ch in PUNCT:
                x = self._punct(canvas, ch, x, base + jitter_y, cap, pen, rng)
                continue
            key = ch
            h_rel = 1.0
            drop = 0.0
            if lower and ch.lower() in KEPT_LOWER and rng.random() < 0.75:
                key = ch.lower()
                if key in _X_HEIGHT:
                    h_rel = rng.uniform(0.55, 0.72)
                elif key in _DESCENDER:
                    h_rel, drop = rng.uniform(0.85, 1.0), 0.35
            g: Any = self._glyph(rng, key)
            gh = max(3, round(cap * h_rel * rng.uniform(0.88, 1.12)))
            aspect = g.shape[1] / g.shape[0]
            gw = max(2, round(gh * aspect * width_f * rng.uniform(0.9, 1.1)))
            g = cv2.resize(g, (gw, gh), interpolation=cv2.INTER_LINEAR)
            y0 = round(base + jitter_y + drop * cap - gh)
            _blit(canvas, g, y0, round(x))
            x += gw
        ink = canvas[:, : int(np.ceil(x + rng.uniform(0.0, 0.6) * cap)) + 1]
        return ink, cap

    @staticmethod
    def _punct(
        canvas: NDArray[np.float32],
        ch: str,
        x: float,
        base: float,
        cap: float,
        pen: int,
        rng: np.random.Generator,
    ) -> float:
        """Draw a punctuation mark as pen strokes at ``x``; return the x after it."""
        import cv2

        layer = np.zeros_like(canvas)
        s = 8  # sub-pixel bits of cv2 drawing
        f = float(1 << s)

        def pt(px: float, py: float) -> tuple[int, int]:
            return round(px * f), round(py * f)

        def line(a: tuple[float, float], b: tuple[float, float]) -> None:
            cv2.line(layer, pt(*a), pt(*b), 1.0, pen, cv2.LINE_AA, s)

        def dot(cx: float, cy: float) -> None:
            r = max(1.0, pen * rng.uniform(0.55, 0.9))
            cv2.circle(layer, pt(cx, cy), round(r * f), 1.0, -1, cv2.LINE_AA, s)

        r = pen
        if ch == "-":
            w = cap * rng.uniform(0.3, 0.6)
            y = base - cap * rng.uniform(0.35, 0.55)
            tilt = cap * rng.uniform(-0.06, 0.06)
            line((x + r, y + tilt), (x + r + w, y - tilt))
            width = w + 2 * r
        elif ch == "/":
            w = cap * rng.uniform(0.3, 0.6)
            line((x + r, base + cap * 0.05), (x + r + w, base - cap * rng.uniform(0.85, 1.05)))
            width = w + 2 * r
        elif ch == ".":
            dot(x + r, base - r)
            width = 2 * r + 1
        elif ch == ",":
            dot(x + r + 1, base - r)
            line((x + r + 1, base - r), (x + r - cap * 0.1, base + cap * rng.uniform(0.15, 0.3)))
            width = 2 * r + 2
        elif ch == "'":
            top = base - cap * rng.uniform(0.95, 1.05)
            line((x + r + cap * 0.06, top), (x + r, top + cap * rng.uniform(0.2, 0.35)))
            width = 2 * r + cap * 0.06
        else:  # ":"
            dot(x + r, base - r)
            dot(x + r, base - cap * rng.uniform(0.45, 0.65))
            width = 2 * r + 1
        np.maximum(canvas, layer, out=canvas)
        return x + width

    def _print(self, rng: np.random.Generator, ink: Any, cap: float) -> NDArray[np.uint8]:
        """Pen, slant, clutter, paper, noise, blur, resolution and JPEG; resize to 32 px."""
        import cv2

        st = self.style
        h, w = ink.shape
        stroke = int(rng.choice([-1, 0, 1, 2], p=[0.2, 0.4, 0.3, 0.1]))
        if stroke:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(stroke) + 1,) * 2)
            ink = (cv2.dilate if stroke > 0 else cv2.erode)(ink, k)
        shear = np.tan(np.radians(rng.uniform(-12, 12)))
        angle = rng.uniform(-2.0, 2.0)
        pad = int(abs(shear) * h) + 2
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[0, 1] -= shear
        m[0, 2] += pad + (shear * h if shear > 0 else 0)
        ink = cv2.warpAffine(ink, m, (w + 2 * pad, h), flags=cv2.INTER_LINEAR)
        h, w = ink.shape
        rules = np.zeros_like(ink)
        if rng.random() < st.clutter_p:  # bits of the lines above and below
            for edge in ("top", "bottom"):
                if rng.random() < 0.6:
                    frag = np.zeros_like(ink)
                    x = int(rng.uniform(0, w * 0.5))
                    while x < w - 4:
                        g: Any = self._glyph(rng, str(rng.choice(list(DIGITS + UPPER))))
                        gh = int(cap * rng.uniform(0.7, 1.1))
                        gw = max(2, int(gh * g.shape[1] / g.shape[0]))
                        g = cv2.resize(g, (gw, gh))
                        vis = rng.uniform(0.15, 0.4) * gh
                        y0 = int(vis - gh) if edge == "top" else int(h - vis)
                        _blit(frag, g, y0, x)
                        x += gw + int(cap * rng.uniform(0.1, 1.0))
                    np.maximum(ink, frag, out=ink)
        if rng.random() < st.rule_p:  # a printed form line under the text
            y = int(np.clip(h - rng.uniform(0.05, 0.3) * h, 0, h - 1))
            cv2.line(
                rules, (0, y), (w - 1, y), float(rng.uniform(0.4, 1.0)), int(rng.integers(1, 3))
            )
        level = np.clip(np.maximum(ink, rules), 0.0, 1.0)
        paper = float(rng.uniform(*st.paper))
        contrast = min(paper, float(rng.uniform(*st.contrast)))
        page: Any = paper - contrast * level
        tex = float(rng.uniform(0, 25)) if rng.random() < 0.5 else 0.0
        if tex:
            noise = rng.normal(0, 1, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
            blob = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 1.5), (w, h))
            page = page + tex * blob / max(float(blob.std()), 1e-6) * (1 - level)
        sigma = rng.uniform(0, 1.2)
        if sigma > 0.3:
            page = cv2.GaussianBlur(page, (0, 0), sigma)
        page = page + rng.normal(0, rng.uniform(0, 10), page.shape)
        gray = np.clip(np.rint(page), 0, 255).astype(np.uint8)
        if rng.random() < st.lowres_p:  # a small scan, enlarged
            small_h = int(rng.integers(12, 24))
            gray = to_height(gray, small_h)
        out: Any = to_height(gray)
        if rng.random() < st.jpeg_p:
            q = int(rng.integers(30, 96))
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok:
                out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        return np.ascontiguousarray(out)

    def make_set(self, n: int, *, seed: int) -> LineSet:
        """``n`` synthetic lines from one seed (a fixed validation set)."""
        rng = np.random.default_rng(seed)
        out = LineSet("synth")
        for _ in range(n):
            img, text = self.render(rng)
            out.images.append(img)
            out.texts.append(text)
        return out


def _blit(canvas: NDArray[np.float32], g: NDArray[np.float32], y0: int, x0: int) -> None:
    """``max``-combine ``g`` into ``canvas`` at ``(y0, x0)``, clipped to the canvas."""
    h, w = canvas.shape
    gh, gw = g.shape
    ya, yb = max(0, y0), min(h, y0 + gh)
    xa, xb = max(0, x0), min(w, x0 + gw)
    if ya >= yb or xa >= xb:
        return
    region = canvas[ya:yb, xa:xb]
    np.maximum(region, g[ya - y0 : yb - y0, xa - x0 : xb - x0], out=region)


def min_width(text: str) -> int:
    """Least input width in pixels for CTC to fit ``text`` (a frame per character and repeat)."""
    repeats = sum(a == b for a, b in itertools.pairwise(text))
    return STRIDE * (len(text) + repeats)
