"""The candidate lattice of a line: over-segmentation cuts, candidates, their features.

Each line is first **over-segmented**: every candidate of the layout
(:mod:`handocr.segment.layout`) wider than :attr:`SegmentConfig.cut_width` line heights is cut at
the minima of its vertical projection profile (the thin joins where touching characters meet;
several cuts per candidate), so that the line becomes a sequence of *atoms* that is finer than
the true characters. A *candidate* of the lattice is a span of 1 to
:attr:`SegmentConfig.max_span` consecutive atoms of one word, at most
:attr:`SegmentConfig.max_char_width` line heights wide, whose neighbouring pieces are at most
:attr:`SegmentConfig.join_gap` heights apart; the candidates are the edges of a graph whose
nodes are the atom boundaries (Casey and Lecolinet 1996, "A survey of methods and strategies
in character segmentation", section 4: over-segmentation with recognition-based choice of the
path).

:func:`candidate_features` describes every candidate by the ensemble's confidence and its
geometry relative to the line (:data:`FEATURES`): the inputs of the "one character" model of
:mod:`handocr.segment.verifier`. The search over the lattice is :mod:`handocr.segment.search`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.labels import Charset
from handocr.result import Box
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig

__all__ = [
    "FEATURES",
    "Atom",
    "Lattice",
    "Lines",
    "Starts",
    "build_lattice",
    "candidate_features",
    "cut_columns",
]

Lines = list[list[Piece]]
"""The pieces of each line, left to right."""
Starts = list[list[bool]]
"""Per line, one flag per piece: True where a word begins."""

FEATURES = (
    "log_p1",
    "margin",
    "aspect",
    "aspect_sq",
    "class_aspect",
    "height",
    "offset",
    "atoms",
    "parts",
    "cut_ink_left",
    "cut_ink_right",
    "gap",
    "ink_share",
    "whole",
    "parent_aspect",
    "parent_log_p1",
    "parent_fit",
)
"""The verifier's inputs, in order (see :func:`candidate_features`)."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A slice of one layout candidate between two cuts (or the candidate's edges).

    Attributes
    ----------
    part : int
        Index of the layout candidate in its line.
    x0, x1 : int
        Columns of the slice in the candidate's mask, ``0 <= x0 < x1 <= width``.
    ink_left, ink_right : float
        Ink in the cut column at each edge as a share of the line height; 0.0 at the
        candidate's own edges.
    """

    part: int
    x0: int
    x1: int
    ink_left: float
    ink_right: float


@dataclass(frozen=True, slots=True)
class Lattice:
    """The candidates of one line.

    Attributes
    ----------
    atoms : list of Atom
    spans : list of (int, int)
        Candidate ``k`` covers atoms ``spans[k][0] .. spans[k][1] - 1``.
    pieces : list of Piece
        Candidate ``k``'s box and ink.
    word_of : list of int
        Per atom, the index of its word in the line.
    boxes : list of Box
        The layout candidates' boxes (``Atom.part`` indexes them).
    height : float
        The line's median candidate height, pixels.
    centre : float
        The line's median candidate centre, page row.
    """

    atoms: list[Atom]
    spans: list[tuple[int, int]]
    pieces: list[Piece]
    word_of: list[int]
    boxes: list[Box]
    height: float
    centre: float


def cut_columns(mask: NDArray[np.uint8], h_line: float, cfg: SegmentConfig) -> list[int]:
    """Return the over-segmentation cuts of a candidate: minima of its vertical projection.

    Parameters
    ----------
    mask : ndarray of uint8, shape (H, W)
        The candidate's own ink (255).
    h_line : float
        The line's median candidate height, pixels (> 0).
    cfg : SegmentConfig
        ``cut_width`` (candidates narrower than this many line heights are not cut),
        ``cut_spacing`` (least distance between cuts and from the edges, line heights) and
        ``cut_ink`` (a cut column holds at most this share of the line height in ink).

    Returns
    -------
    list of int
        Sorted columns ``0 < c < W``: atoms are ``[0, c0), [c0, c1), ..., [c_last, W)``.
    """
    w = mask.shape[1]
    if w < cfg.cut_width * h_line or w < 4:
        return []
    proj = (mask > 0).sum(0).astype(np.float64)
    smooth = np.convolve(proj, np.ones(3) / 3, mode="same")
    space = max(2, round(cfg.cut_spacing * h_line))
    inner = np.arange(space, w - space + 1)
    if len(inner) == 0:
        return []
    left = np.r_[np.inf, smooth[:-1]]
    right = np.r_[smooth[1:], np.inf]
    is_min = (smooth[inner] <= left[inner]) & (smooth[inner] <= right[inner])
    ok = inner[is_min & (proj[inner] <= cfg.cut_ink * h_line)]
    chosen: list[int] = []
    for c in sorted(ok.tolist(), key=lambda c: (smooth[c], c)):  # least ink first
        if all(abs(c - d) >= space for d in chosen):
            chosen.append(int(c))
    return sorted(chosen)


def _slice(piece: Piece, x0: int, x1: int) -> Piece | None:
    """Columns ``x0:x1`` of a piece, trimmed to their ink; None when they hold none."""
    sub = piece.mask[:, x0:x1]
    ys, xs = np.nonzero(sub)
    if len(ys) == 0:
        return None
    y0, y1, a, b = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    bx = piece.box
    return Piece(
        Box(bx.x0 + x0 + a, bx.y0 + y0, bx.x0 + x0 + b, bx.y0 + y1),
        np.ascontiguousarray(sub[y0:y1, a:b]),
    )


def build_lattice(
    row: Sequence[Piece],
    starts: Sequence[bool],
    cfg: SegmentConfig,
    fixed: Sequence[bool] | None = None,
) -> Lattice:
    """Over-segment one line and list its candidates.

    Parameters
    ----------
    row : sequence of Piece
        The layout's candidates of the line, left to right (non-empty).
    starts : sequence of bool
        Word-start flags of ``row``; no candidate crosses a word start.
    cfg : SegmentConfig
        ``cut_width``, ``cut_spacing``, ``cut_ink`` (:func:`cut_columns`), ``max_span``,
        ``max_char_width`` and ``join_gap``.
    fixed : sequence of bool, optional
        Per candidate of ``row``: True keeps it as it stands (not cut, not joined), e.g. a
        candidate the verifier already reads confidently as one character whole.

    Returns
    -------
    Lattice
        Every layout candidate uncut is always among the candidates (the first ``len(row)``), so
        the layout's own path is always possible.
    """
    h = float(np.median([p.box.height for p in row]))
    centre = float(np.median([(p.box.y0 + p.box.y1) / 2 for p in row]))
    atoms: list[Atom] = []
    word_of: list[int] = []
    word = -1
    fixed = fixed if fixed is not None else [False] * len(row)
    for k, piece in enumerate(row):
        word += 1 if starts[k] or k == 0 else 0
        w = piece.box.width
        cuts = [] if fixed[k] else cut_columns(piece.mask, h, cfg)
        ink = (piece.mask > 0).sum(0)
        edges = [0, *cuts, w]
        for a, b in pairwise(edges):
            atoms.append(
                Atom(
                    k,
                    a,
                    b,
                    float(ink[a]) / h if a > 0 else 0.0,
                    float(ink[b]) / h if b < w else 0.0,
                )
            )
            word_of.append(word)
    spans: list[tuple[int, int]] = []
    pieces: list[Piece] = []
    n = len(atoms)
    first = 0
    for k, piece in enumerate(row):  # each layout candidate whole: the layout's own path
        end = first
        while end < n and atoms[end].part == k:
            end += 1
        spans.append((first, end))
        pieces.append(piece)
        first = end
    whole = set(spans)
    boxes = [p.box for p in row]
    for i in range(n):
        if fixed[atoms[i].part]:
            continue
        for j in range(i + 1, min(n, i + cfg.max_span) + 1):
            prev, last = atoms[j - 2], atoms[j - 1]
            if j - i > 1 and prev.part != last.part:
                gap = boxes[last.part].x0 - boxes[prev.part].x1
                if word_of[j - 1] != word_of[i] or fixed[last.part] or gap > cfg.join_gap * h:
                    break
            if (i, j) in whole:
                continue
            made = _span_piece(row, atoms[i:j])
            if made is None:
                continue
            if made.box.width > cfg.max_char_width * h:
                break
            spans.append((i, j))
            pieces.append(made)
    return Lattice(atoms, spans, pieces, word_of, boxes, h, centre)


def _span_piece(row: Sequence[Piece], atoms: Sequence[Atom]) -> Piece | None:
    """Return the candidate of consecutive atoms, or None when a slice holds no ink."""
    parts: list[Piece] = []
    k = 0
    while k < len(atoms):
        part = atoms[k].part
        m = k
        while m + 1 < len(atoms) and atoms[m + 1].part == part:
            m += 1
        piece = row[part]
        if atoms[k].x0 == 0 and atoms[m].x1 == piece.box.width:
            parts.append(piece)
        else:
            cut = _slice(piece, atoms[k].x0, atoms[m].x1)
            if cut is None:
                return None
            parts.append(cut)
        k = m + 1
    out = parts[0]
    for p in parts[1:]:
        out = out.join(p)
    return out


def _top2(p: NDArray[np.float32], charset: Charset | None) -> tuple[NDArray, NDArray, NDArray]:
    """Best and second-best log-probabilities and the best class, per row."""
    if charset is not None:
        p = charset.restrict(p, normalize=False)
    order = np.argsort(-p, axis=1)
    rows = np.arange(len(p))
    p1 = p[rows, order[:, 0]].astype(np.float64)
    p2 = p[rows, order[:, 1]].astype(np.float64)
    return np.log(p1 + 1e-12), np.log(p2 + 1e-12), order[:, 0]


def candidate_features(
    lattice: Lattice,
    probs: NDArray[np.float32],
    charset: Charset | None = None,
    class_aspect: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Return the verifier's inputs (:data:`FEATURES`) for every candidate of a line.

    Parameters
    ----------
    lattice : Lattice
    probs : ndarray of float32, shape (C, 47)
        The voted probabilities of the ``C`` candidates.
    charset : Charset, optional
        Read the best classes within the charset (unnormalised, as the search scores them).
    class_aspect : ndarray of float64, shape (47,), optional
        Typical width/line-height of each class (the verifier's); ``class_aspect`` is the
        candidate's aspect minus that of its best class (0 when not given).

    Returns
    -------
    ndarray of float64, shape (C, len(FEATURES))
        ``log_p1``: best log-probability; ``margin``: its lead over the second; ``aspect``: width
        over line height, and its square; ``height``: height over line height; ``offset``: distance
        of the centre from the line's centre, in line heights; ``atoms``/``parts``: atoms and layout
        candidates spanned; ``cut_ink_left/right``: ink in the cut at each edge over line height (0
        at a natural edge); ``gap``: widest gap bridged over line height (negative for overlap);
        ``ink_share``: ink over box area; ``whole``: 1 for a layout candidate as it stands;
        ``parent_aspect``: width over line height of the widest layout candidate the candidate takes
        ink from; ``parent_log_p1``: the least ``log_p1`` among those layout candidates read whole
        (a confident whole candidate is rarely two characters); ``parent_fit``: that candidate's
        aspect minus the typical aspect of the class it is read as (an ``m`` as wide as an ``m`` is
        rarely ``nn``).
    """
    h = lattice.height
    lp1, lp2, best = _top2(probs, charset)
    out = np.zeros((len(lattice.spans), len(FEATURES)))
    for k, ((i, j), piece) in enumerate(zip(lattice.spans, lattice.pieces, strict=True)):
        box = piece.box
        aspect = box.width / h
        part_ids = {a.part for a in lattice.atoms[i:j]}
        parts = len(part_ids)
        gap = max(
            (
                (lattice.boxes[b.part].x0 - lattice.boxes[a.part].x1) / h
                for a, b in pairwise(lattice.atoms[i:j])
                if a.part != b.part
            ),
            default=0.0,
        )
        ca = class_aspect[best[k]] if class_aspect is not None else aspect
        out[k] = (
            lp1[k],
            lp1[k] - lp2[k],
            aspect,
            aspect * aspect,
            aspect - ca,
            box.height / h,
            abs((box.y0 + box.y1) / 2 - lattice.centre) / h,
            j - i,
            parts,
            lattice.atoms[i].ink_left,
            lattice.atoms[j - 1].ink_right,
            gap,
            float((piece.mask > 0).mean()),
            float(k < len(lattice.boxes)),
            max(lattice.boxes[q].width for q in part_ids) / h,
            min(lp1[q] for q in part_ids),
            min(
                lattice.boxes[q].width / h
                - (class_aspect[best[q]] if class_aspect is not None else 0)
                for q in part_ids
            ),
        )
    return out
