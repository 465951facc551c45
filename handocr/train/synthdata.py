"""Pipeline-matched synthetic training crops: EMNIST glyphs as real scans show them to the reader.

EMNIST crops are clean, centred and cut by hand; the crops the reader classifies come out of a
scan's binarisation and handocr's own segmentation: small characters (10-25 px), thick or thin
pens, grey and textured paper, JPEG artefacts, comb boxes and ruled lines, neighbours that
touch or reach into the box. Here EMNIST **train** glyphs are laid out into such pages by
:func:`handocr.train.synth.render_page` (styles drawn per page from :func:`training_styles`), each
page is read by :meth:`handocr.Recognizer.read_images` exactly as at inference (binarisation,
segmentation, recognition-based joins and cuts), and every piece that matches a placed glyph
(IoU >= 0.5, one-to-one) becomes a crop labelled with that glyph's class. Pieces the segmenter
got wrong (halves, pairs, fragments) match no glyph; they are counted in the report, not
trained on (the 47 classes have no "not a character" output).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.crops import INPUT_SHAPE
from handocr.labels import index_of
from handocr.train.data import to_uint8_images
from handocr.train.synth import PageStyle, assign_boxes, render_page

if TYPE_CHECKING:
    from handocr.api import Recognizer

__all__ = ["pipeline_crops", "training_styles"]

log = logging.getLogger(__name__)


def training_styles(rng: np.random.Generator) -> PageStyle:
    """Draw the style of one training page: the variations of real scans named above.

    Character heights 10-25 px, pen changes of -1..+2 px, paper gray 170-255 with an ink
    contrast of 70-255, background texture, JPEG quality 35-95 (or none), comb boxes or ruled
    lines on a third of the pages, touching neighbours (negative gaps) on half, and upper-case,
    mixed-case or any-class words.
    """
    h0 = int(rng.integers(10, 21))
    layout = rng.choice(["plain", "ruled", "boxed"], p=[0.6, 0.2, 0.2])
    touching = bool(rng.random() < 0.5)
    return PageStyle(
        lines=3,
        words_per_line=3,
        chars_per_word=(3, 8),
        height=(h0, h0 + int(rng.integers(2, 6))),
        slant_deg=10.0,
        char_gap=(-0.15, 0.05) if touching else (0.05, 0.35),
        word_gap=(0.8, 1.4),
        line_gap=float(rng.uniform(0.6, 1.2)),
        noise=float(rng.uniform(0, 10)),
        ruled=layout == "ruled",
        boxed=layout == "boxed",
        margin=16,
        pen_px=(-1, 2) if h0 >= 16 else (0, 1),
        paper=(170, 255),
        ink_contrast=(70, 255),
        texture=float(rng.choice([0.0, 6.0, 14.0])),
        jpeg_quality=None if rng.random() < 0.3 else int(rng.integers(35, 96)),
        case=str(rng.choice(["any", "upper", "mixed"], p=[0.4, 0.3, 0.3])),
    )


def pipeline_crops(
    recognizer: Recognizer,
    glyphs: NDArray[np.uint8],
    labels: NDArray[np.int64],
    *,
    pages: int,
    seed: int = 0,
    style: Callable[[np.random.Generator], PageStyle] = training_styles,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.int64], dict[str, Any]]:
    """Render ``pages`` synthetic pages, read them, and keep the matched pieces as crops.

    Parameters
    ----------
    recognizer : Recognizer
        Reads the pages (its models score the recognition-based joins and cuts); deskewing is
        switched off so the pieces stay in the page's pixels.
    glyphs : ndarray of uint8, shape (N, 28, 28)
        Upright EMNIST glyphs, white on black (the **train** split for training).
    labels : ndarray of int64, shape (N,)
        Indices into :data:`handocr.labels.LABELS`.
    pages : int
        Pages to render (>= 0); each holds about 50 characters.
    seed : int
        Seeds the styles and the pages.
    style : callable, default :func:`training_styles`
        Draws a :class:`handocr.train.synth.PageStyle` per page.
    progress : callable, optional
        ``progress(done, total)`` per page.

    Returns
    -------
    (crops, labels, report)
        ``(M, 28, 28)`` uint8 crops (ink 255), their ``(M,)`` labels, and counts: ``pages``,
        ``chars`` placed, ``pieces`` read, ``matched`` (the crops), ``wrong`` (pieces that
        match no glyph: halves, pairs, fragments), ``missed`` (glyphs no piece matched).
    """
    from handocr.crops import pieces_to_model_input

    reader = recognizer.with_options(deskew=False)
    rng = np.random.default_rng(seed)
    crops: list[NDArray[np.float32]] = []
    ys: list[int] = []
    report = {"pages": pages, "chars": 0, "pieces": 0, "matched": 0, "wrong": 0, "missed": 0}
    for k in range(pages):
        page = render_page(glyphs, labels, style(rng), seed=int(rng.integers(2**31)))
        (record,) = reader.read_images([page.image])
        pieces = list(record.pieces or ())
        pairs = assign_boxes([c.box for c in page.chars], [p.box for p in pieces])
        if pairs:
            crops.append(pieces_to_model_input([pieces[j] for _, j in pairs]))
            ys += [index_of(page.chars[i].text) for i, _ in pairs]
        report["chars"] += len(page.chars)
        report["pieces"] += len(pieces)
        report["matched"] += len(pairs)
        report["wrong"] += len(pieces) - len(pairs)
        report["missed"] += len(page.chars) - len(pairs)
        if progress is not None:
            progress(k + 1, pages)
    if not crops:
        return np.zeros((0, *INPUT_SHAPE[1:]), np.uint8), np.zeros(0, np.int64), report
    log.info("pipeline-matched synthetic crops: %s", report)
    return to_uint8_images(np.concatenate(crops)), np.asarray(ys, np.int64), report
