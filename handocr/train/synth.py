"""Synthetic handprinted pages from EMNIST glyphs, with known text and character boxes.

Glyphs (upright, white on black, as :func:`handocr.train.data.load_emnist` returns them) are cut
to their ink, scaled, slanted and laid out into words and lines with jittered spacing and
baselines; the page is then optionally ruled or boxed like a form, skewed, and given scanner
noise. Every character's box and text is recorded, so segmentation can be scored by box
precision/recall and the whole pipeline by character error rate (CER), and speed benchmarks get
realistic dense pages. It lives with training because only training uses it (pipeline-matched
crops, :mod:`handocr.train.synthdata`; the search's verifier, :mod:`handocr.train.verifier`),
besides tests (the committed 10-per-class sample) and benchmarks (the EMNIST test split);
reading never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.labels import DIGITS, KEPT_LOWER, LABELS, MERGED_LOWER, UPPER
from handocr.result import Box

__all__ = ["PageStyle", "SynthChar", "SynthPage", "assign_boxes", "match_boxes", "render_page"]


@dataclass(frozen=True, slots=True)
class PageStyle:
    """How a synthetic page varies. Lengths are in pixels of the output page.

    Attributes
    ----------
    lines, words_per_line : int
        Page layout (>= 1).
    chars_per_word : tuple of int
        Inclusive range of characters per word.
    height : tuple of int
        Inclusive range of the character height (the long side of EMNIST's ink box maps to it).
    slant_deg : float
        Each line's slant (shear) is drawn from ``[-slant_deg, slant_deg]`` degrees.
    char_gap, word_gap : tuple of float
        Ranges of the gap between characters and between words, in character heights.
    line_gap : float
        Extra space between lines, in character heights.
    baseline_jitter : float
        Per-character vertical jitter, in character heights.
    skew_deg : float
        The whole page is rotated by an angle drawn from ``[-skew_deg, skew_deg]``.
    noise : float
        Standard deviation of additive Gaussian noise, in gray levels (0-255).
    ruled : bool
        Draw a ruled line under every text line (it touches the lowest strokes).
    boxed : bool
        Fixed-pitch comb boxes as on forms: each character centred in its own cell (1.15
        character heights wide), a blank cell between words.
    margin : int
        Blank border around the text.
    pen_px : tuple of int
        Inclusive range of a per-page change of the stroke width in pixels: positive thickens
        (dilation by that many pixels), negative thins (erosion); ``(0, 0)`` keeps EMNIST's.
    paper : tuple of int
        Inclusive range of the paper's gray level (255 white); the ink keeps its contrast
        ``ink_contrast`` below it.
    ink_contrast : tuple of int
        Inclusive range of the gray-level difference between paper and full ink (a grey pen
        or a faint scan is 60-120, black ink on white 255).
    texture : float
        Standard deviation in gray levels of a smooth background texture (blurred noise, as
        the printed patterns of cheques); 0 for none.
    jpeg_quality : int or None
        Re-encode the page as JPEG at this quality (its block artefacts), or not at all.
    case : {"any", "upper", "mixed"}
        Classes drawn for each word: any of the 47; capitals and digits; or mixed-case words
        (a capital, then lower-case letters: EMNIST's eleven lower-case-only shapes and the
        merged classes), as in "AnyCompany" or "Street".
    """

    lines: int = 4
    words_per_line: int = 4
    chars_per_word: tuple[int, int] = (2, 7)
    height: tuple[int, int] = (28, 44)
    slant_deg: float = 8.0
    char_gap: tuple[float, float] = (0.12, 0.35)
    word_gap: tuple[float, float] = (0.9, 1.4)
    line_gap: float = 0.9
    baseline_jitter: float = 0.05
    skew_deg: float = 0.0
    noise: float = 0.0
    ruled: bool = False
    boxed: bool = False
    margin: int = 40
    pen_px: tuple[int, int] = (0, 0)
    paper: tuple[int, int] = (255, 255)
    ink_contrast: tuple[int, int] = (255, 255)
    texture: float = 0.0
    jpeg_quality: int | None = None
    case: str = "any"


@dataclass(frozen=True, slots=True)
class SynthChar:
    """One placed character: its class, its ink box on the page, and its line/word position."""

    text: str
    box: Box
    line: int
    word: int


@dataclass(frozen=True, slots=True)
class SynthPage:
    """A rendered page and its ground truth.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W)
        Black ink (0) on white paper (255).
    chars : tuple of SynthChar
        In reading order.
    angle_deg : float
        The skew applied.
    """

    image: NDArray[np.uint8]
    chars: tuple[SynthChar, ...] = field(repr=False)
    angle_deg: float = 0.0

    @property
    def text(self) -> str:
        r"""Lines joined by ``\n``, words by a space (the joining rule of :class:`Document`)."""
        out: list[str] = []
        for prev, c in zip((None, *self.chars), self.chars, strict=False):
            if prev is not None and c.line != prev.line:
                out.append("\n")
            elif prev is not None and c.word != prev.word:
                out.append(" ")
            out.append(c.text)
        return "".join(out)


def _ink_crop(glyph: NDArray[np.uint8]) -> NDArray[np.uint8]:
    ys, xs = np.nonzero(glyph > 40)
    if len(ys) == 0:
        return glyph
    return glyph[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def render_page(
    glyphs: NDArray[np.uint8],
    labels: NDArray[np.int64],
    style: PageStyle | None = None,
    *,
    seed: int = 0,
) -> SynthPage:
    """Lay EMNIST glyphs out into a page with known character boxes.

    Parameters
    ----------
    glyphs : ndarray of uint8, shape (N, 28, 28)
        Upright EMNIST images, white ink on black.
    labels : ndarray of int64, shape (N,)
        Indices into :data:`handocr.labels.LABELS`.
    style : PageStyle, optional
    seed : int
        Seeds every random choice: the same arguments give the same page.

    Returns
    -------
    SynthPage
        Character boxes enclose each glyph's ink (gray level below 128 before noise) and follow
        the skew (the rotated box's enclosing rectangle).

    Raises
    ------
    ValueError
        No glyphs, or ``glyphs`` and ``labels`` differ in length.
    """
    style = style or PageStyle()
    if len(glyphs) == 0 or len(glyphs) != len(labels):
        raise ValueError(f"need glyphs and labels of equal, non-zero length: {len(glyphs)}")
    rng = np.random.default_rng(seed)
    canvas = _Canvas.for_style(style)
    pools = _pools(labels)
    chars: list[SynthChar] = []
    for li in range(style.lines):
        chars += _write_line(canvas, glyphs, labels, pools, style, rng, li)
    page, ink = _ink_on_paper(canvas.ink, canvas.rules, style, rng)
    page, chars, angle = _skew(page, ink, chars, style, rng)
    page = _degrade(page, style, rng)
    return SynthPage(np.ascontiguousarray(page, dtype=np.uint8), tuple(chars), angle)


@dataclass(frozen=True, slots=True)
class _Canvas:
    """The page being drawn: ink and form lines (255 = drawn) and the layout's pitches."""

    ink: NDArray[np.uint8]
    rules: NDArray[np.uint8]
    h_max: int
    line_pitch: int
    cell: int  # comb-box pitch of boxed pages

    @classmethod
    def for_style(cls, style: PageStyle) -> _Canvas:
        h_max = style.height[1]
        n_max = style.words_per_line * (style.chars_per_word[1] + 1)
        width = int(2 * style.margin + n_max * h_max * 0.95)
        line_pitch = int(h_max * (1 + style.line_gap))
        height = int(2 * style.margin + style.lines * line_pitch)
        ink = np.zeros((height, width), np.uint8)
        return cls(ink, np.zeros_like(ink), h_max, line_pitch, int(h_max * 1.15))


def _write_line(
    canvas: _Canvas,
    glyphs: NDArray[np.uint8],
    labels: NDArray[np.int64],
    pools: dict[str, NDArray[np.intp]],
    style: PageStyle,
    rng: np.random.Generator,
    li: int,
) -> list[SynthChar]:
    """Draw line ``li``'s words into the canvas; return its characters, placed."""
    import cv2

    height, width = canvas.ink.shape
    h_max, cell = canvas.h_max, canvas.cell
    base = style.margin + li * canvas.line_pitch + h_max
    shear = np.tan(np.radians(rng.uniform(-style.slant_deg, style.slant_deg)))
    x = style.margin + int(rng.integers(0, h_max // 2 + 1))
    placed: list[SynthChar] = []
    for wi in range(style.words_per_line):
        n_chars = int(rng.integers(style.chars_per_word[0], style.chars_per_word[1] + 1))
        for ci in range(n_chars):
            if style.case == "any":  # the original stream: pages of older seeds stay
                k = int(rng.integers(0, len(glyphs)))
            else:
                k = int(rng.choice(pools[_pool(style.case, ci)]))
            h = int(rng.integers(style.height[0], style.height[1] + 1))
            g = _slanted_glyph(glyphs[k], h, shear)
            if g is None:
                continue
            gh = g.shape[0]
            if style.boxed:  # fixed-pitch comb cells, the glyph fitted and centred inside
                inner = cell - min(10, max(2, cell // 5))
                if g.shape[1] > inner:
                    g = cv2.resize(g, (inner, gh), interpolation=cv2.INTER_AREA)
                cell_x, x = x, x + (cell - g.shape[1]) // 2
            y0 = base - gh + int(rng.normal(0, style.baseline_jitter * h_max))
            y0 = max(0, min(y0, height - gh))
            if x + g.shape[1] >= width - style.margin // 2:
                break
            ys, xs = np.nonzero(g > 127)
            if len(xs) == 0:  # a glyph squeezed to nothing by a small comb cell
                continue
            region = canvas.ink[y0 : y0 + gh, x : x + g.shape[1]]
            np.maximum(region, g, out=region)
            box = Box(
                x + int(xs.min()),
                y0 + int(ys.min()),
                x + int(xs.max()) + 1,
                y0 + int(ys.max()) + 1,
            )
            placed.append(SynthChar(LABELS[int(labels[k])], box, li, wi))
            if style.boxed:
                top = base - h_max - int(0.25 * h_max)
                cv2.rectangle(canvas.rules, (cell_x, top), (cell_x + cell, base + 6), 255, 2)
                x = cell_x + cell
            else:
                x += g.shape[1] + int(h_max * rng.uniform(*style.char_gap))
        x += cell if style.boxed else int(h_max * rng.uniform(*style.word_gap))
    if style.ruled:
        ends = (style.margin // 2, base + 2), (width - style.margin // 2, base + 2)
        cv2.line(canvas.rules, ends[0], ends[1], 255, 2)
    return placed


def _slanted_glyph(glyph: NDArray[np.uint8], h: int, shear: float) -> Any:
    """Scale a glyph's ink to ``h`` pixels on its long side, shear it, cut it to its inked columns.

    ``None`` when no ink is left.
    """
    import cv2

    g: Any = _ink_crop(glyph)
    scale = h / max(g.shape)
    gh, gw = max(2, round(g.shape[0] * scale)), max(2, round(g.shape[1] * scale))
    g = cv2.resize(g, (gw, gh), interpolation=cv2.INTER_CUBIC)
    pad = int(abs(shear) * gh) + 2
    shift = pad + shear * gh if shear > 0 else pad
    m = np.array([[1, -shear, shift], [0, 1, 0]], np.float32)
    g = cv2.warpAffine(g, m, (gw + 2 * pad, gh), flags=cv2.INTER_LINEAR)
    xs = np.nonzero(g > 127)[1]
    if len(xs) == 0:
        return None
    return g[:, xs.min() : xs.max() + 1]


def _ink_on_paper(
    ink: NDArray[np.uint8], rules: NDArray[np.uint8], style: PageStyle, rng: np.random.Generator
) -> tuple[Any, NDArray[np.uint8]]:
    """Return the page (pen width, paper, ink contrast, texture) and the ink after the pen."""
    import cv2

    pen = _draw(rng, style.pen_px)
    if pen:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(pen) + 1,) * 2)
        ink = np.asarray((cv2.dilate if pen > 0 else cv2.erode)(ink, kernel), np.uint8)
    paper, contrast = _draw(rng, style.paper), _draw(rng, style.ink_contrast)
    page: Any = 255 - np.maximum(ink, rules)
    if (paper, contrast) != (255, 255) or style.texture:
        height, width = ink.shape
        level = np.maximum(ink, rules).astype(np.float32) / 255.0
        page = paper - contrast * level
        if style.texture:
            noise: Any = rng.normal(0, 1, (height // 4 + 1, width // 4 + 1)).astype(np.float32)
            blob: Any = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (width, height))
            page = page + style.texture * blob / max(float(blob.std()), 1e-6) * (1 - level)
        page = np.clip(np.rint(page), 0, 255).astype(np.uint8)
    return page, ink


def _skew(
    page: Any,
    ink: NDArray[np.uint8],
    chars: list[SynthChar],
    style: PageStyle,
    rng: np.random.Generator,
) -> tuple[Any, list[SynthChar], float]:
    """Rotate the page by an angle drawn from the style, and the boxes with it."""
    import cv2

    angle = float(rng.uniform(-style.skew_deg, style.skew_deg)) if style.skew_deg else 0.0
    if angle:
        height, width = ink.shape
        rot: Any = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        page = cv2.warpAffine(page, rot, (width, height), flags=cv2.INTER_LINEAR, borderValue=255)
        ink_rot: Any = cv2.warpAffine(ink, rot, (width, height), flags=cv2.INTER_LINEAR)
        chars = [_rotated(c, rot, ink_rot) for c in chars]
    return page, chars, angle


def _degrade(page: Any, style: PageStyle, rng: np.random.Generator) -> Any:
    """Add the style's scanner noise and JPEG artefacts."""
    import cv2

    if style.noise:
        noisy = page.astype(np.float32) + rng.normal(0, style.noise, page.shape).astype(np.float32)
        page = np.clip(noisy, 0, 255).astype(np.uint8)
    if style.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, style.jpeg_quality])
        page = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else page
    return page


_UPPER = frozenset(DIGITS + UPPER)
_LOWER_WORD = frozenset(KEPT_LOWER + MERGED_LOWER.upper())  # merged classes print lower there


def _draw(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    """Return an integer of the inclusive range, drawing nothing when it holds one value."""
    lo, hi = bounds
    return lo if lo == hi else int(rng.integers(lo, hi + 1))


def _pools(labels: NDArray[np.int64]) -> dict[str, NDArray[np.intp]]:
    """Return the indices of the glyphs of each class pool (:attr:`PageStyle.case`)."""
    chars = np.array([LABELS[int(k)] for k in labels])
    letters = np.array([c.isalpha() for c in chars])
    pools = {
        "any": np.arange(len(labels)),
        "upper": np.flatnonzero([c in _UPPER for c in chars]),
        "capital": np.flatnonzero(letters & np.array([c.isupper() for c in chars])),
        "lower": np.flatnonzero([c in _LOWER_WORD for c in chars]),
    }
    return {k: (v if len(v) else pools["any"]) for k, v in pools.items()}


def _pool(case: str, position: int) -> str:
    """Return the pool that the ``position``-th character of a word is drawn from."""
    if case == "mixed":
        return "capital" if position == 0 else "lower"
    return "upper" if case == "upper" else "any"


def _rotated(c: SynthChar, rot: NDArray[np.float64], ink: NDArray[np.uint8]) -> SynthChar:
    """Map a box through the rotation, then shrink it to the ink inside the rotated corners."""
    b = c.box
    pts = np.array([[b.x0, b.y0, 1], [b.x1, b.y0, 1], [b.x0, b.y1, 1], [b.x1, b.y1, 1]], np.float64)
    xy = pts @ rot.T
    x0, y0 = np.floor(xy.min(0)).astype(int)
    x1, y1 = np.ceil(xy.max(0)).astype(int)
    h, w = ink.shape
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    ys, xs = np.nonzero(ink[y0:y1, x0:x1] > 127)
    if len(xs):
        x0, x1, y0, y1 = x0 + xs.min(), x0 + xs.max() + 1, y0 + ys.min(), y0 + ys.max() + 1
    return SynthChar(c.text, Box(int(x0), int(y0), int(x1), int(y1)), c.line, c.word)


def assign_boxes(truth: list[Box], found: list[Box], *, iou: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one matching of found boxes to truth boxes at ``IoU >= iou``.

    The matching maximises total IoU (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``)
    and keeps the pairs that reach the threshold.

    Returns
    -------
    list of (int, int)
        ``(truth index, found index)`` pairs, by truth index.
    """
    from scipy.optimize import linear_sum_assignment

    if not truth or not found:
        return []
    t = np.array([b.to_list() for b in truth], np.float64)[:, None, :]
    f = np.array([b.to_list() for b in found], np.float64)[None, :, :]
    ix = np.clip(np.minimum(t[..., 2], f[..., 2]) - np.maximum(t[..., 0], f[..., 0]), 0, None)
    iy = np.clip(np.minimum(t[..., 3], f[..., 3]) - np.maximum(t[..., 1], f[..., 1]), 0, None)
    inter = ix * iy
    area_t = (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])
    area_f = (f[..., 2] - f[..., 0]) * (f[..., 3] - f[..., 1])
    m = inter / np.maximum(area_t + area_f - inter, 1e-9)
    rows, cols = linear_sum_assignment(-m)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if m[r, c] >= iou]


def match_boxes(
    truth: list[Box], found: list[Box], *, iou: float = 0.5
) -> tuple[float, float, int]:
    """Precision and recall of found boxes against truth, one-to-one at ``IoU >= iou``.

    The matching is :func:`assign_boxes`'s.

    Returns
    -------
    precision, recall : float
        In ``[0, 1]`` (1.0 when the respective list is empty).
    matched : int
    """
    if not truth or not found:
        return (1.0 if not found else 0.0), (1.0 if not truth else 0.0), 0
    matched = len(assign_boxes(truth, found, iou=iou))
    return matched / len(found), matched / len(truth), matched
