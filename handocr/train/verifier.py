"""Fit the segmentation search's verifier, which tells whether a candidate is one character.

The search (:mod:`handocr.segment.search`) scores every candidate of a line's lattice
(:mod:`handocr.segment.lattice`) by the log-odds of a small model
(:class:`handocr.segment.verifier.Verifier`) over the ensemble's confidence and the
candidate's geometry. Here that model is fitted on lattices of pages whose character boxes
are known:

- synthetic pages of EMNIST **train** glyphs laid out as real scans look
  (:func:`handocr.train.synthdata.training_styles`: small characters, thick and thin pens,
  grey and textured paper, comb boxes, touching neighbours, mixed-case words), and
- optionally real images with a box per character (``boxes.tsv``, e.g. the ORAND-CAR train
  split), minus the images :func:`handocr.train.realdata.held_out` keeps for evaluation.

Each page is binarised, levelled and segmented exactly as at inference; every candidate of
every line's lattice is classified by the ensemble; a candidate whose box (mapped back to the
input page) overlaps a true character box with IoU >= :data:`TRUE_IOU` is a positive, every
other one (halves, pairs, fragments, a glyph with a slice of its neighbour) a negative. The
model is scikit-learn's ``LogisticRegression`` on standardised features. Finally the intercept
is shifted by the per-character bonus that maximises the F1 of the chosen characters' boxes
on held-apart validation pages (the search's own objective, not the logistic loss).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box
from handocr.segment.lattice import FEATURES, Lattice
from handocr.segment.verifier import Verifier

if TYPE_CHECKING:
    from handocr.api import Recognizer

__all__ = [
    "BONUS_GRID",
    "TRUE_IOU",
    "LatticeSet",
    "box_pages",
    "collect_lattices",
    "concat",
    "fit_from_sources",
    "fit_verifier",
    "path_f1",
    "synthetic_pages",
]

log = logging.getLogger(__name__)

TRUE_IOU = 0.6
"""A candidate is a true character when its box overlaps one with at least this IoU."""

BONUS_GRID = tuple(np.round(np.arange(-4.0, 4.01, 0.25), 2))
"""Per-character bonuses (natural log) tried when the intercept is tuned."""

BONUS_TOLERANCE = 0.005
"""The bonus kept is the one nearest 0 whose validation F1 is within this of the best: a shift
of the fitted model's own decision is made only where it clearly pays."""


@dataclass
class LatticeSet:
    """Candidates of many lines, with their features and whether each is a true character.

    Attributes
    ----------
    x : ndarray of float64, shape (R, F)
        :func:`handocr.segment.lattice.candidate_features` (``class_aspect`` not yet relative).
    best : ndarray of int64, shape (R,)
        Each candidate's best class.
    target : ndarray of bool, shape (R,)
        True character (IoU >= :data:`TRUE_IOU` with a true box).
    lines : list of (Lattice, slice, int)
        Each line's lattice, its rows in ``x`` and the index of its page.
    truth : list of list of Box
        Each page's true character boxes, input pixels.
    found : list of list of Box
        Per line, every candidate's box in input pixels (for scoring a path).
    """

    x: NDArray[np.float64]
    best: NDArray[np.int64]
    target: NDArray[np.bool_]
    lines: list[tuple[Lattice, slice, int]] = field(default_factory=list)
    truth: list[list[Box]] = field(default_factory=list)
    found: list[list[Box]] = field(default_factory=list)


def synthetic_pages(
    glyphs: NDArray[np.uint8], labels: NDArray[np.int64], pages: int, seed: int
) -> Iterator[tuple[NDArray[np.uint8], list[Box]]]:
    """Yield ``pages`` synthetic pages in training styles and their true character boxes.

    Parameters
    ----------
    glyphs : ndarray of uint8, shape (N, 28, 28)
        Upright EMNIST glyphs (the **train** split).
    labels : ndarray of int64, shape (N,)
    pages : int
    seed : int
    """
    from handocr.train.synth import render_page
    from handocr.train.synthdata import training_styles

    rng = np.random.default_rng(seed)
    for _ in range(pages):
        page = render_page(glyphs, labels, training_styles(rng), seed=int(rng.integers(2**31)))
        yield page.image, [c.box for c in page.chars]


def box_pages(
    folder: Path, *, holdout: float = 0.1
) -> Iterator[tuple[NDArray[np.uint8], list[Box]]]:
    """Yield the images of a ``boxes.tsv`` folder (minus the held-out ones) and their boxes.

    Raises
    ------
    DataError
        As :func:`handocr.train.realdata.read_boxes_tsv`, or a missing image.
    """
    from handocr.io import load_pages
    from handocr.train.realdata import _find_image, held_out, read_boxes_tsv

    by_image = read_boxes_tsv(folder)
    for name, entries in sorted(by_image.items()):
        if not held_out(name, holdout):
            (page,) = load_pages(_find_image(folder, name))
            yield page, [box for box, _ in entries]


def collect_lattices(
    recognizer: Recognizer,
    pages: Iterable[tuple[NDArray[np.uint8], list[Box]]],
    *,
    progress: Callable[[int], None] | None = None,
) -> LatticeSet:
    """Read pages as inference does up to the lattices, and label every candidate.

    Parameters
    ----------
    recognizer : Recognizer
        Its options (binarisation, deskew, segmentation, charset) and ensemble are used.
    pages : iterable of (image, true boxes)
        Gray ``(H, W)`` uint8 pages and their character boxes in the page's pixels.
    progress : callable, optional
        ``progress(pages_done)``.
    """
    from handocr.pipeline import front_half
    from handocr.segment.lattice import candidate_features
    from handocr.segment.search import read_lattices
    from handocr.train.synth import assign_boxes

    o = recognizer.options
    xs: list[NDArray[np.float64]] = []
    bests: list[NDArray[np.int64]] = []
    targets: list[NDArray[np.bool_]] = []
    out = LatticeSet(np.zeros((0, len(FEATURES))), np.zeros(0, np.int64), np.zeros(0, bool))
    row = 0
    for n, (image, truth) in enumerate(pages):
        s = front_half(image, o)  # the pipeline's own front half
        lev, lines, starts = s.levelled, s.lines, s.starts
        flat = [p for r in lines for p in r]
        page_index = len(out.truth)
        out.truth.append(list(truth))
        if flat:
            probs = recognizer.classify(flat)
            for read in read_lattices(lines, starts, probs, recognizer.classify, o.segment):
                if read is None:
                    continue
                lat, cp = read
                x = candidate_features(lat, cp[:, 0], o.charset)
                boxes = [lev.to_input(p.box) for p in lat.pieces]
                hit = np.zeros(len(boxes), bool)
                for c, b in enumerate(boxes):
                    hit[c] = bool(assign_boxes(truth, [b], iou=TRUE_IOU))
                p = cp[:, 0] if o.charset is None else o.charset.restrict(cp[:, 0], normalize=False)
                xs.append(x)
                bests.append(p.argmax(1).astype(np.int64))
                targets.append(hit)
                out.lines.append((lat, slice(row, row + len(x)), page_index))
                out.found.append(boxes)
                row += len(x)
        if progress is not None:
            progress(n + 1)
    if xs:
        out.x, out.best, out.target = (
            np.concatenate(xs),
            np.concatenate(bests),
            np.concatenate(targets),
        )
    return out


def _class_aspect(data: LatticeSet) -> NDArray[np.float64]:
    """Median width/line-height of each best class among the true candidates."""
    aspect = data.x[:, FEATURES.index("aspect")]
    pos = data.target
    overall = float(np.median(aspect[pos])) if pos.any() else 0.7
    out = np.full(47, overall)
    for c in range(47):
        sel = pos & (data.best == c)
        if sel.sum() >= 5:
            out[c] = float(np.median(aspect[sel]))
    return out


def _relative(data: LatticeSet, class_aspect: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the features with the class-relative columns filled in from ``class_aspect``."""
    x = data.x.copy()
    col = FEATURES.index("class_aspect")
    x[:, col] = x[:, FEATURES.index("aspect")] - class_aspect[data.best]
    fit = FEATURES.index("parent_fit")
    for lat, rows, _ in data.lines:
        best = data.best[rows]
        aspect = (
            np.array([b.width for b in lat.boxes]) / lat.height
            - class_aspect[best[: len(lat.boxes)]]
        )
        parts = [sorted({a.part for a in lat.atoms[i:j]}) for i, j in lat.spans]
        x[rows, fit] = [min(aspect[q] for q in ps) for ps in parts]
    return x


def path_f1(data: LatticeSet, verifier: Verifier, bonus: float) -> float:
    """F1 of the chosen characters' boxes against the true ones (IoU >= 0.5, one-to-one)."""
    from handocr.segment.search import best_path

    x = _relative(data, verifier.class_aspect)
    score = verifier.log_odds(x) + bonus
    chosen: dict[int, list[Box]] = {}
    for (lat, rows, page), boxes in zip(data.lines, data.found, strict=True):
        path = best_path(len(lat.atoms), lat.spans, score[rows])
        chosen.setdefault(page, []).extend(boxes[c] for c in path)
    return _box_f1(data, chosen)


def _box_f1(data: LatticeSet, chosen: dict[int, list[Box]]) -> float:
    """F1 of the boxes chosen per page against the true ones (IoU >= 0.5, one-to-one)."""
    from handocr.train.synth import assign_boxes

    tp = n_found = n_truth = 0
    for page, truth in enumerate(data.truth):
        found = chosen.get(page, [])
        tp += len(assign_boxes(truth, found, iou=0.5))
        n_found += len(found)
        n_truth += len(truth)
    return 2 * tp / max(1, n_found + n_truth)


def fit_verifier(
    train: LatticeSet, val: LatticeSet, *, hidden: int = 32, seed: int = 0
) -> tuple[Verifier, dict[str, Any]]:
    """Fit the logistic verifier on ``train`` and tune its per-character bonus on ``val``.

    Parameters
    ----------
    train, val : LatticeSet
        From :func:`collect_lattices` on different pages.
    hidden : int, default 32
        Units of the hidden layer (scikit-learn's ``MLPClassifier``, ReLU, L2 ``alpha=1e-3``,
        early stopping on a tenth of ``train``); 0 fits a logistic regression instead.
    seed : int, default 0

    Returns
    -------
    (verifier, report)
        The model (bonus folded into its intercept) and a report: candidates and positives,
        the validation F1 of the layout's own path, of the fitted model at bonus 0 and at the
        chosen bonus, and the coefficients by feature name.

    Raises
    ------
    ValueError
        No positives or no negatives in ``train``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if train.target.all() or not train.target.any():
        raise ValueError("the verifier needs both true and false candidates to learn from")
    class_aspect = _class_aspect(train)
    x = _relative(train, class_aspect)
    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    weights: list[NDArray[np.float64]]
    if hidden > 0:
        mlp = MLPClassifier(
            (hidden,), alpha=1e-3, max_iter=300, early_stopping=True, random_state=seed
        )
        mlp.fit(z, train.target)
        weights = [w for pair in zip(mlp.coefs_, mlp.intercepts_, strict=True) for w in pair]
    else:
        lr = LogisticRegression(max_iter=2000).fit(z, train.target)
        weights = [lr.coef_.T, lr.intercept_]
    verifier = Verifier(mean, scale, [np.asarray(w, np.float64) for w in weights], class_aspect)
    f1 = {float(b): path_f1(val, verifier, float(b)) for b in BONUS_GRID}
    top = max(f1.values())
    bonus = min((b for b in f1 if f1[b] >= top - BONUS_TOLERANCE), key=abs)
    tuned = verifier.shifted(bonus)
    report = {
        "train_candidates": len(train.target),
        "train_true": int(train.target.sum()),
        "val_candidates": len(val.target),
        "val_f1_layout": _layout_f1(val),
        "val_f1_bonus0": f1[0.0],
        "bonus": bonus,
        "val_f1": f1[bonus],
        "hidden": hidden,
    }
    return tuned, report


def _layout_f1(data: LatticeSet) -> float:
    """F1 of the layout's own glyphs (each line's first candidates) against the truth."""
    chosen: dict[int, list[Box]] = {}
    for (lat, _, page), boxes in zip(data.lines, data.found, strict=True):
        chosen.setdefault(page, []).extend(boxes[: len(lat.boxes)])
    return _box_f1(data, chosen)


def concat(sets: Sequence[LatticeSet]) -> LatticeSet:
    """One set of several (page and row indices renumbered)."""
    out = LatticeSet(
        np.concatenate([s.x for s in sets]),
        np.concatenate([s.best for s in sets]),
        np.concatenate([s.target for s in sets]),
    )
    row = page = 0
    for s in sets:
        out.lines += [(lat, slice(r.start + row, r.stop + row), p + page) for lat, r, p in s.lines]
        out.truth += s.truth
        out.found += s.found
        row += len(s.x)
        page += len(s.truth)
    return out


def fit_from_sources(
    recognizer: Recognizer,
    glyphs: NDArray[np.uint8],
    labels: NDArray[np.int64],
    *,
    pages: int = 150,
    val_pages: int = 50,
    boxes: Sequence[Path] = (),
    boxes_charset: str | None = "digits",
    holdout: float = 0.1,
    val_share: float = 0.3,
    hidden: int = 32,
    seed: int = 0,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[Verifier, dict[str, Any]]:
    """Collect lattices from synthetic pages and box-labelled scans, then fit the verifier.

    Parameters
    ----------
    recognizer : Recognizer
        The shipped (or chosen) ensemble and reading options: the verifier is fitted to them.
    glyphs, labels : ndarray
        EMNIST **train** glyphs ``(N, 28, 28)`` uint8 and their ``(N,)`` class indices.
    pages, val_pages : int
        Synthetic pages for fitting and for tuning the bonus (different seeds).
    boxes : sequence of Path
        ``boxes.tsv`` folders of real scans (:func:`box_pages`); the last ``val_share`` of
        each folder's images (by name) tunes the bonus, the rest fits the model.
    boxes_charset : str or None, default "digits"
        The charset those scans are read with (the ORAND amounts are digits).
    holdout : float, default 0.1
        Share of box images kept out entirely (:func:`handocr.train.realdata.held_out`, the
        same images ``handocr train --real-holdout`` holds out, left for evaluation).
    hidden, seed : int
        As :func:`fit_verifier`.
    progress : callable, optional
        ``progress(source, pages_done)``.

    Returns
    -------
    (verifier, report)
        :func:`fit_verifier`'s, with the sources and their candidate counts added.
    """

    def tick(name: str) -> Callable[[int], None] | None:
        return None if progress is None else (lambda n: progress(name, n))

    train = [
        collect_lattices(
            recognizer, synthetic_pages(glyphs, labels, pages, seed), progress=tick("synthetic")
        )
    ]
    val = [
        collect_lattices(
            recognizer,
            synthetic_pages(glyphs, labels, val_pages, seed + 1),
            progress=tick("synthetic-val"),
        )
    ]
    reader = recognizer.with_options(charset=boxes_charset) if boxes_charset else recognizer
    sources: dict[str, Any] = {"synthetic_pages": pages, "synthetic_val_pages": val_pages}
    for folder in boxes:
        images = list(box_pages(folder, holdout=holdout))
        cut = round(len(images) * (1 - val_share))
        train.append(collect_lattices(reader, images[:cut], progress=tick(folder.name)))
        val.append(collect_lattices(reader, images[cut:], progress=tick(folder.name + "-val")))
        sources[folder.name] = {"images": cut, "val_images": len(images) - cut, "holdout": holdout}
    verifier, report = fit_verifier(concat(train), concat(val), hidden=hidden, seed=seed)
    return verifier, {"sources": sources, "charset_of_boxes": boxes_charset, **report}
