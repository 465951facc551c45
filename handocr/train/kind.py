"""Fitting the printed-or-handwritten word classifier (:mod:`handocr.kind`) on generated pages.

Each generated page stacks blocks of printed text (rendered with real TrueType/OpenType fonts
of Debian's font packages, :func:`handocr.train.promptfields.find_fonts`: regular, bold,
italic, serif, sans and mono, at many sizes), blocks of handprint
(:func:`handocr.train.synth.render_page` from EMNIST train glyphs, free, ruled or in comb
boxes) and rows of prompted fields (a printed prompt right above a box of handprint,
:func:`handocr.train.promptfields.prompted_row`), then the whole page is degraded like a
scan (blur, noise, low contrast, bilevel thresholding, JPEG), so the degradation is no cue
to the kind. The page is read by
the pipeline (:meth:`handocr.Recognizer.read_images`), each word is labelled by the block its
box centre falls in, and :func:`handocr.kind.word_features` are computed on the words the
pipeline made. A logistic regression is fitted on some pages and scored on others (a split
by page, never by word). Real evaluation pages are never used.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.kind import (
    FEATURES,
    HANDWRITTEN,
    KIND_FILE,
    PRINTED,
    KindClassifier,
    classifier_sha256,
    page_words,
    word_features,
    word_lines,
)
from handocr.result import Page
from handocr.train.kindforms import FormWords, with_forms
from handocr.train.metrics import kind_report
from handocr.train.promptfields import find_fonts, pick_font, prompted_row

_PROMPTED = "prompted"  # a block kind of generate_kind_pages: prompted_row

__all__ = [
    "KindPage",
    "find_fonts",
    "fit_kind",
    "generate_kind_pages",
    "kind_features",
    "kind_report",
    "load_real_hand",
    "label_words",
    "read_kind_pages",
    "save_kind_classifier",
]

log = logging.getLogger(__name__)


_SYLLABLES = (
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "be",
    "with",
    "as",
    "by",
    "at",
    "or",
    "from",
    "an",
    "this",
    "that",
    "are",
    "was",
    "will",
    "we",
    "can",
    "form",
    "name",
    "date",
    "city",
    "state",
    "zip",
    "code",
    "number",
    "street",
    "sample",
    "print",
    "please",
    "return",
    "your",
    "room",
    "data",
    "base",
    "group",
    "system",
    "each",
    "all",
    "who",
    "may",
    "result",
    "work",
    "use",
    "box",
    "below",
    "above",
    "office",
)


@dataclass(frozen=True, slots=True)
class KindPage:
    """A generated page and where its kinds are.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W)
        0 = black.
    regions : tuple of (y0, y1, kind)
        Horizontal bands of the page (half-open rows) and the kind of every word inside.
    """

    image: NDArray[np.uint8]
    regions: tuple[tuple[int, int, str], ...]


def _printed_text(rng: np.random.Generator) -> str:
    kind = rng.integers(0, 7)
    if kind == 0:
        return "".join(str(d) for d in rng.integers(0, 10, rng.integers(1, 8)))
    if kind == 1:
        return str(rng.choice(_SYLLABLES)).upper()
    if kind == 2:
        w = str(rng.choice(_SYLLABLES))
        return w.capitalize()
    if kind == 3:
        n = int(rng.integers(2, 9))
        return "".join(chr(c) for c in rng.integers(65, 91, n))
    if kind == 5:
        n = int(rng.integers(1, 9))
        return "".join(chr(c) for c in rng.integers(97, 123, n))
    if kind == 4:
        return f"({rng.integers(100, 999)}-{rng.integers(1000, 9999)})"
    return str(rng.choice(_SYLLABLES))


def _printed_block(
    fonts: Sequence[Path], rng: np.random.Generator, width: int
) -> NDArray[np.uint8]:
    from PIL import Image, ImageDraw, ImageFont

    font_path = pick_font(fonts, rng)
    size = int(rng.integers(14, 56))
    font = ImageFont.truetype(str(font_path), size)
    n_lines = int(rng.integers(1, 5))
    line_h = int(size * rng.uniform(1.3, 2.0))
    img = Image.new("L", (width, n_lines * line_h + size), 255)
    draw = ImageDraw.Draw(img)
    spacing = rng.uniform(0.25, 0.6) * size
    if rng.random() < 0.3:  # letter-spaced captions, as on forms ("0 1 2 3 4 5")
        spacing = rng.uniform(0.6, 1.2) * size
    for li in range(n_lines):
        x = float(rng.integers(10, 60))
        y = size // 3 + li * line_h
        while True:
            word = _printed_text(rng)
            if rng.random() < 0.25 and len(word) > 1 and word.isalnum():
                word = " ".join(word)
            right = x + draw.textlength(word, font=font)
            if right > width - 10:
                break
            draw.text((x, y), word, font=font, fill=0)
            x = right + spacing * rng.uniform(1.5, 3.0)
    return np.asarray(img, np.uint8)


def _hand_block(
    glyphs: NDArray[np.uint8], labels: NDArray[np.int64], rng: np.random.Generator, width: int
) -> NDArray[np.uint8]:
    import cv2

    from handocr.train.synth import PageStyle, render_page

    lo = int(rng.integers(22, 70))
    style = PageStyle(
        lines=int(rng.integers(1, 5)),
        words_per_line=int(rng.integers(2, 7)),
        chars_per_word=(1, int(rng.integers(3, 9))),
        height=(lo, lo + int(rng.integers(4, 30))),
        slant_deg=float(rng.uniform(0, 12)),
        ruled=bool(rng.random() < 0.2),
        boxed=bool(rng.random() < 0.2),
        pen_px=(int(rng.integers(-2, 1)), int(rng.integers(0, 2))),
        case=str(rng.choice(["any", "upper", "mixed"])),
        margin=20,
    )
    idx = rng.integers(0, len(glyphs), 400)
    page = render_page(glyphs[idx], labels[idx], style, seed=int(rng.integers(0, 2**31))).image
    if page.shape[1] > width:
        scale = width / page.shape[1]
        size = (width, max(int(page.shape[0] * scale), 1))
        page = np.asarray(cv2.resize(page, size), np.uint8)
    out = np.full((page.shape[0], width), 255, np.uint8)
    x = int(rng.integers(0, width - page.shape[1] + 1))
    out[:, x : x + page.shape[1]] = page
    return out


def load_real_hand(folder: Path, limit: int = 400) -> list[NDArray[np.uint8]]:
    """Load up to ``limit`` field images of a train-split folder (``images/*``).

    Each is binarised (Otsu) to black ink on white paper and cut to its ink.

    Use folders whose images hold handwriting only (ORAND-CAR's ``orand_car_a``), not those
    with printed captions (``kaggle_names``).
    """
    import cv2

    out: list[NDArray[np.uint8]] = []
    for path in sorted((folder / "images").glob("*"))[:limit]:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            continue
        _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
        ys, xs = np.nonzero(ink)
        if len(ys) == 0:
            continue
        cut = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        out.append(np.ascontiguousarray(255 - cut, dtype=np.uint8))
    return out


def _real_block(
    images: Sequence[NDArray[np.uint8]], rng: np.random.Generator, width: int
) -> NDArray[np.uint8]:
    import cv2

    height = int(rng.integers(30, 90))
    rows = int(rng.integers(1, 3))
    out = np.full((rows * int(height * 1.6) + 10, width), 255, np.uint8)
    for r in range(rows):
        x = int(rng.integers(10, 80))
        y = 5 + r * int(height * 1.6)
        while True:
            img = images[int(rng.integers(0, len(images)))]
            h = int(height * rng.uniform(0.8, 1.1))
            w = max(int(img.shape[1] * h / img.shape[0]), 1)
            if x + w > width - 10:
                break
            out[y : y + h, x : x + w] = np.minimum(
                out[y : y + h, x : x + w], np.asarray(cv2.resize(img, (w, h)), np.uint8)
            )
            x += w + int(height * rng.uniform(0.8, 2.0))
    return out


def _degrade(page: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    import cv2
    from PIL import Image

    out: NDArray[np.float32] = page.astype(np.float32)
    if rng.random() < 0.6:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.3))), np.float32)
    if rng.random() < 0.5:  # low contrast: grey ink on grey paper
        paper = rng.uniform(200, 255)
        ink = rng.uniform(0, 110)
        out = np.asarray(ink + (paper - ink) * out / 255.0, np.float32)
    if rng.random() < 0.5:
        out = out + rng.normal(0, rng.uniform(2, 14), out.shape).astype(np.float32)
    img = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:  # bilevel scan (the NIST forms are)
        img = np.where(img < rng.uniform(110, 170), 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=int(rng.integers(30, 90)))
        img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"), np.uint8)
    return np.ascontiguousarray(img, dtype=np.uint8)


def generate_kind_pages(
    n_pages: int,
    glyphs: NDArray[np.uint8],
    labels: NDArray[np.int64],
    *,
    fonts: Sequence[Path] | None = None,
    seed: int = 0,
    width: int = 1400,
    real: Sequence[NDArray[np.uint8]] = (),
) -> list[KindPage]:
    """Generate pages mixing printed and handprinted blocks, with the band of each block.

    Parameters
    ----------
    n_pages : int
    glyphs, labels : ndarray
        EMNIST train glyphs ``(N, 28, 28) uint8`` (upright, white on black) and their classes
        (indices into :data:`handocr.labels.LABELS`).
    fonts : sequence of Path, optional
        TrueType/OpenType files; default :func:`find_fonts`. Besides printed and handprint
        blocks, a page may hold rows of prompted fields (:func:`prompted_row`): the prompt
        band is labelled printed, the band of boxes right below it handwritten.
    seed : int
    width : int
        Page width in pixels.
    real : sequence of ndarray, optional
        Real handprint images (:func:`load_real_hand`); when given, half of the handprint
        blocks are rows of them.

    Raises
    ------
    ValueError
        No fonts found (install Debian's ``fonts-dejavu-core`` and ``fonts-liberation``).
    """
    fonts = list(fonts) if fonts is not None else find_fonts()
    if not fonts:
        raise ValueError("no TrueType fonts found: apt-get install fonts-dejavu-core")
    rng = np.random.default_rng(seed)
    pages: list[KindPage] = []
    for _ in range(n_pages):
        blocks: list[tuple[NDArray[np.uint8], str, bool]] = []  # image, kind, glued on
        n_blocks = int(rng.integers(2, 6))
        kinds = [PRINTED, HANDWRITTEN] + [
            str(rng.choice([PRINTED, HANDWRITTEN, _PROMPTED])) for _ in range(n_blocks - 2)
        ]
        rng.shuffle(kinds)
        for kind in kinds:
            if kind == _PROMPTED:  # a printed prompt band right above a band of boxes
                top, boxes = prompted_row(fonts, glyphs, labels, real, rng, width)
                # no gap between them: the boxes sit right under their prompts
                blocks += [(top, PRINTED, False), (boxes, HANDWRITTEN, True)]
                continue
            if kind == PRINTED:
                block = _printed_block(fonts, rng, width)
            elif len(real) and rng.random() < 0.5:
                block = _real_block(real, rng, width)
            else:
                block = _hand_block(glyphs, labels, rng, width)
            blocks.append((block, kind, False))
        regions: list[tuple[int, int, str]] = []
        y = 0
        parts = []
        for block, kind, glued in blocks:
            gap = np.full((0 if glued else int(rng.integers(10, 40)), width), 255, np.uint8)
            parts += [gap, block]
            y += len(gap)
            regions.append((y, y + len(block), kind))
            y += len(block)
        parts.append(np.full((30, width), 255, np.uint8))
        image = _degrade(np.vstack(parts), rng)
        pages.append(KindPage(image, tuple(regions)))
    return pages


def label_words(page: Page, regions: Sequence[tuple[int, int, str]]) -> list[str | None]:
    """Label each word of a read page by the region holding its box centre (None: in none)."""
    out: list[str | None] = []
    for w in page_words(page):
        cy = (w.box.y0 + w.box.y1) / 2
        out.append(next((k for y0, y1, k in regions if y0 <= cy < y1), None))
    return out


def read_kind_pages(
    pages: Sequence[KindPage],
    recognizer: Any,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 8,
) -> list[tuple[KindPage, Page]]:
    """Read generated pages with ``recognizer`` (``read_images``), in batches of ``batch``."""
    out: list[tuple[KindPage, Page]] = []
    for start in range(0, len(pages), batch):
        chunk = pages[start : start + batch]
        records = recognizer.read_images([p.image for p in chunk])
        out += [(kp, r.page) for kp, r in zip(chunk, records, strict=True) if r.page is not None]
        if progress is not None:
            progress(min(start + batch, len(pages)), len(pages))
    return out


def labelled_words(
    read: Sequence[tuple[KindPage, Page]],
) -> list[tuple[int, KindPage, Page, list[int], list[str | None]]]:
    """Return ``(n, kind page, read page, kept word indices, labels)`` per labelled page.

    Pages without a labelled word are left out. The rows of :func:`kind_features` and
    :func:`handocr.train.kindnet.kind_page_crops` follow it, in the same order.
    """
    out = []
    for n, (kp, page) in enumerate(read):
        labels = label_words(page, kp.regions)
        keep = [j for j, k in enumerate(labels) if k is not None]
        if keep:
            out.append((n, kp, page, keep, labels))
    return out


def kind_features(
    read: Sequence[tuple[KindPage, Page]],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Return the features, labels, pages and lines of the labelled words of read pages.

    Labels are 1 for printed, 0 for handwritten; pages count from 0 in ``read``; line numbers
    are unique across pages.
    """
    xs, ys, gs, ls = [], [], [], []
    for n, kp, page, keep, labels in labelled_words(read):
        lines = word_lines(page)
        xs.append(word_features(page, kp.image)[keep])
        ys += [int(labels[j] == PRINTED) for j in keep]
        gs += [n] * len(keep)
        ls += [n * 100_000 + int(lines[j]) for j in keep]
    x = np.vstack(xs) if xs else np.zeros((0, len(FEATURES)))
    return x, np.asarray(ys, np.int64), np.asarray(gs, np.int64), np.asarray(ls, np.int64)


def fit_kind(
    *,
    data: str | Path | None = None,
    n_pages: int = 60,
    held_out: float = 0.3,
    seed: int = 0,
    recognizer: Any = None,
    glyphs: NDArray[np.uint8] | None = None,
    labels: NDArray[np.int64] | None = None,
    progress: Callable[[int, int], None] | None = None,
    line_weight: float = 0.8,
    quadratic: bool = True,
    real: Path | None = None,
    read: Sequence[tuple[KindPage, Page]] | None = None,
    forms: Sequence[FormWords] = (),
    form_weight: float = 1.0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Generate pages, read them, fit the kind classifier, and score it on held-out pages.

    Parameters
    ----------
    data : path, optional
        EMNIST folder (``handocr.train.data.resolve_data_dir``); ignored when ``glyphs`` given.
    n_pages : int
        Generated pages; ``held_out`` of them (by page) are only scored.
    seed : int
    recognizer : Recognizer, optional
        Default: ``Recognizer()`` (the shipped ensemble and line members).
    glyphs, labels : ndarray, optional
        Handprint glyphs and their classes, instead of EMNIST-47's train split.
    progress : callable, optional
        ``progress(done, total)`` per batch of pages read.
    line_weight : float
        :attr:`handocr.kind.KindClassifier.line_weight` of the result (not fitted: the
        generated pages' lines hold one kind each, so any fit would choose 1).
    quadratic : bool
        Fit on the standardised features and their squares
        (:attr:`handocr.kind.KindClassifier.quadratic`).
    real : Path, optional
        A train-split folder of real handprint without printed captions (``orand_car_a``):
        half of the handprint blocks are its images (:func:`load_real_hand`).
    read : sequence of (KindPage, Page), optional
        Pages already generated and read (:func:`read_kind_pages`); then nothing is generated
        and ``n_pages`` is their number.
    forms : sequence of FormWords, optional
        Real forms' weakly labelled words (:func:`handocr.train.kindforms.read_caption_forms`);
        ``held_out`` of them
        (the last, by form) are only scored (``held_out_forms``).
    form_weight : float
        Each form word's weight in the fit relative to a generated page's word (> 0).

    Returns
    -------
    (dict, dict)
        The classifier (:meth:`handocr.kind.KindClassifier.to_dict`) and the report
        (``train`` and ``held_out`` scores, as :func:`kind_report`, plus the word counts).

    Raises
    ------
    ValueError
        The generated pages hold words of only one kind.
    """
    if read is None:
        read = _generate_and_read(data, n_pages, seed, recognizer, glyphs, labels, real, progress)
    n_pages = len(read)
    x, y, g, lines = kind_features(read)
    if len(set(y.tolist())) < 2:
        raise ValueError("the generated pages hold words of only one kind")
    n_test = max(round(n_pages * held_out), 1) if n_pages > 1 else 0
    test = g >= n_pages - n_test
    train = ~test
    n_forms = len(forms)
    x, y, lines, test, train, form_test = with_forms(x, y, lines, test, train, forms, held_out)
    weight = np.ones(len(y))
    weight[len(g) :] = form_weight
    clf = _fit_logistic(
        x[train], y[train], line_weight=line_weight, quadratic=quadratic, weight=weight[train]
    )

    def score(rows: NDArray[np.bool_], by_line: bool) -> dict[str, Any]:
        p = clf.predict_proba(x[rows], lines[rows] if by_line else None)
        return kind_report(y[rows], (p >= clf.threshold).astype(int))

    report = {
        "pages": n_pages,
        "held_out_pages": n_test,
        "line_weight": line_weight,
        "train": score(train, True),
        "held_out": score(test, True),
        "held_out_per_word": score(test, False),
        "seed": seed,
    }
    if n_forms:
        report["forms"] = n_forms
        report["held_out_forms"] = score(form_test, True)
    return clf.to_dict(), report


def _generate_and_read(
    data: str | Path | None,
    n_pages: int,
    seed: int,
    recognizer: Any,
    glyphs: NDArray[np.uint8] | None,
    labels: NDArray[np.int64] | None,
    real: Path | None,
    progress: Callable[[int, int], None] | None,
) -> list[tuple[KindPage, Page]]:
    """Generate ``n_pages`` kind pages and read them (the defaults of :func:`fit_kind`)."""
    if glyphs is None or labels is None:
        from handocr.train.data import load_emnist, to_label_space

        split = load_emnist(data, "pool47", "train")
        glyphs, labels = split.images, to_label_space(split)
    if recognizer is None:
        from handocr.api import Recognizer

        recognizer = Recognizer()
    hand = load_real_hand(real) if real is not None else []
    pages = generate_kind_pages(n_pages, glyphs, labels, seed=seed, real=hand)
    return read_kind_pages(pages, recognizer, progress)


def _fit_logistic(
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    *,
    line_weight: float,
    quadratic: bool,
    weight: NDArray[np.float64] | None = None,
) -> KindClassifier:
    """Fit the logistic regression on standardised features (and their squares)."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    n_feat = len(FEATURES)
    probe = KindClassifier(
        np.zeros(2 * n_feat if quadratic else n_feat), 0.0, mean, scale, quadratic=quadratic
    )
    model = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced")
    model.fit(probe.expand(x), y, sample_weight=weight)
    return KindClassifier(
        model.coef_[0].astype(np.float64),
        float(model.intercept_[0]),
        mean,
        scale,
        line_weight=line_weight,
        quadratic=quadratic,
    )


def save_kind_classifier(folder: Path, classifier: dict[str, Any], report: dict[str, Any]) -> Path:
    """Write ``kind.json`` (the classifier, its sha256 and the fit's report) into ``folder``."""
    import json

    from handocr.io import write_text_atomic

    path = folder / KIND_FILE
    doc = {"classifier": classifier, "sha256": classifier_sha256(classifier), "train": report}
    write_text_atomic(path, json.dumps(doc, indent=2) + "\n")
    return path
