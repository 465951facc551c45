"""Recognition-based segmentation as a search over a lattice of candidate glyphs.

Each line is first **over-segmented**: every glyph of the layout (:mod:`handocr.segment.layout`)
wider than :attr:`SegmentConfig.cut_width` line heights is cut at the minima of its vertical
projection profile (the thin joins where touching characters meet; several cuts per glyph),
so that the line becomes a sequence of *atoms* that is finer than the true characters. A
*candidate* glyph is a span of 1 to :attr:`SegmentConfig.max_span` consecutive atoms of one
word, at most :attr:`SegmentConfig.max_char_width` line heights wide, whose neighbouring
pieces are at most :attr:`SegmentConfig.join_gap` heights apart; the candidates are the edges
of a graph whose nodes are the atom boundaries (Casey and Lecolinet 1996, "A survey of methods
and strategies in character segmentation", section 4: over-segmentation with recognition-based
choice of the path).

Every candidate is classified (one batch per page) and scored by a :class:`Verifier`: a
logistic model of "this candidate is exactly one character" over the ensemble's confidence
and the candidate's geometry relative to the line's height (width, height, the ink that a cut
crosses, the gaps it bridges, its offset from the line's centre), fitted on lattices of
synthetic pages whose true character boxes are known (:mod:`handocr.train.verifier`). The best
segmentation of each word is the path from its first to its last boundary that maximises the
sum of the candidates' log-odds plus :attr:`SegmentConfig.char_bonus` per character (dynamic
programming, the Viterbi algorithm on a DAG); the letter/digit and case context then act on
the chosen glyphs in :mod:`handocr.decode`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from handocr.errors import WeightsError
from handocr.labels import Charset
from handocr.result import Box
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig

__all__ = [
    "FEATURES",
    "Classify",
    "Lines",
    "Starts",
    "VERIFIER_FILE",
    "Atom",
    "Lattice",
    "LineSearch",
    "Verifier",
    "build_lattice",
    "confident_glyphs",
    "candidate_features",
    "cut_columns",
    "path_word_starts",
    "read_lattices",
    "layout_searches",
    "search_lattices",
    "search_lines",
]

Lines = list[list[Piece]]
"""The pieces of each line, left to right."""
Starts = list[list[bool]]
"""Per line, one flag per piece: True where a word begins."""
Classify = Callable[[Sequence[Piece]], NDArray[np.float32]]
"""``classify(pieces) -> (N, K, 47) float32``: voted probabilities in ``[:, 0]`` (the other
``K - 1`` columns travel along, e.g. each member's own vote)."""

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

VERIFIER_FILE = "verifier.safetensors"
"""The fitted verifier's file name in the weights folder."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A slice of one layout glyph between two cuts (or the glyph's edges).

    Attributes
    ----------
    part : int
        Index of the layout glyph in its line.
    x0, x1 : int
        Columns of the slice in the glyph's mask, ``0 <= x0 < x1 <= width``.
    ink_left, ink_right : float
        Ink in the cut column at each edge as a share of the line height; 0.0 at the glyph's
        own edges.
    """

    part: int
    x0: int
    x1: int
    ink_left: float
    ink_right: float


@dataclass(frozen=True, slots=True)
class Lattice:
    """The candidate glyphs of one line.

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
        The layout glyphs' boxes (``Atom.part`` indexes them).
    height : float
        The line's median glyph height, pixels.
    centre : float
        The line's median glyph centre, page row.
    """

    atoms: list[Atom]
    spans: list[tuple[int, int]]
    pieces: list[Piece]
    word_of: list[int]
    boxes: list[Box]
    height: float
    centre: float


@dataclass(frozen=True, slots=True)
class LineSearch:
    """One line's searched lattice: what the fusion with line members rescores.

    Attributes
    ----------
    lattice : Lattice
    probs : ndarray of float32, shape (C, K, 47)
        Every candidate's classifier output (voted in ``[:, 0]``, each member's after).
    score : ndarray of float64, shape (C,)
        Each candidate's segmentation score: the verifier's log-odds that it is one character
        plus :attr:`SegmentConfig.char_bonus` (0 for every candidate without a search).
    path : list of int
        The chosen candidates, left to right.
    """

    lattice: Lattice
    probs: NDArray[np.float32]
    score: NDArray[np.float64]
    path: list[int]


def cut_columns(mask: NDArray[np.uint8], h_line: float, cfg: SegmentConfig) -> list[int]:
    """Return the over-segmentation cuts of a glyph: minima of its vertical projection.

    Parameters
    ----------
    mask : ndarray of uint8, shape (H, W)
        The glyph's own ink (255).
    h_line : float
        The line's median glyph height, pixels (> 0).
    cfg : SegmentConfig
        ``cut_width`` (glyphs narrower than this many line heights are not cut),
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
    """Over-segment one line and list its candidate glyphs.

    Parameters
    ----------
    row : sequence of Piece
        The layout's glyphs of the line, left to right (non-empty).
    starts : sequence of bool
        Word-start flags of ``row``; no candidate crosses a word start.
    cfg : SegmentConfig
        ``cut_width``, ``cut_spacing``, ``cut_ink`` (:func:`cut_columns`), ``max_span``,
        ``max_char_width`` and ``join_gap``.
    fixed : sequence of bool, optional
        Per glyph of ``row``: True keeps it as it stands (not cut, not joined), e.g. a glyph
        the verifier already reads confidently as one character whole.

    Returns
    -------
    Lattice
        Every layout glyph uncut is always among the candidates (the first ``len(row)``), so
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
    for k, piece in enumerate(row):  # each layout glyph whole: the layout's own path
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
    """Return the candidate glyph of consecutive atoms, or None when a slice holds no ink."""
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
        ``log_p1``: best log-probability; ``margin``: its lead over the second; ``aspect``:
        width over line height, and its square; ``height``: height over line height;
        ``offset``: distance of the centre from the line's centre, in line heights;
        ``atoms``/``parts``: atoms and layout glyphs spanned; ``cut_ink_left/right``: ink in
        the cut at each edge over line height (0 at a natural edge); ``gap``: widest gap
        bridged over line height (negative for overlap); ``ink_share``: ink over box area;
        ``whole``: 1 for a layout glyph as it stands; ``parent_aspect``: width over line
        height of the widest layout glyph the candidate takes ink from; ``parent_log_p1``: the
        least ``log_p1`` among those layout glyphs read whole (a confident whole glyph is
        rarely two characters); ``parent_fit``: that glyph's aspect minus the typical aspect of
        the class it is read as (an ``m`` as wide as an ``m`` is rarely ``nn``).
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


class Verifier:
    """A small neural model of "this candidate glyph is exactly one character".

    ``log_odds(x)``: the features are standardised (``(x - mean) / scale``), pass through the
    hidden layers (ReLU) and a last linear layer whose single output is the log-odds; with no
    hidden layer it is a logistic regression.

    Parameters
    ----------
    mean, scale : ndarray of float64, shape (F,)
        Standardisation of :data:`FEATURES`.
    weights : list of ndarray of float64
        ``[W1, b1, W2, b2, ...]``; ``W1`` of shape (F, H1), the last ``W`` of shape (H, 1).
    class_aspect : ndarray of float64, shape (47,)
        Median width/line-height of each class among true candidates of the fitting pages.

    Raises
    ------
    WeightsError
        Shapes that do not chain from ``F`` features to one output.
    """

    def __init__(
        self,
        mean: NDArray[np.float64],
        scale: NDArray[np.float64],
        weights: Sequence[NDArray[np.float64]],
        class_aspect: NDArray[np.float64],
    ) -> None:
        f = len(FEATURES)
        ok = mean.shape == scale.shape == (f,) and class_aspect.shape == (47,)
        ok = ok and len(weights) >= 2 and len(weights) % 2 == 0
        width = f
        for w, b in zip(weights[::2], weights[1::2], strict=True):
            ok = ok and w.ndim == 2 and w.shape[0] == width and b.shape == (w.shape[1],)
            width = w.shape[1] if w.ndim == 2 else -1
        if not ok or width != 1:
            raise WeightsError(f"verifier needs {f} features, 47 class aspects and one output")
        self.mean, self.scale = mean, np.maximum(scale, 1e-9)
        self.weights = [np.asarray(w, np.float64) for w in weights]
        self.class_aspect = class_aspect

    def shifted(self, bonus: float) -> Verifier:
        """Return the same model with ``bonus`` added to every log-odds."""
        weights = [*self.weights[:-1], self.weights[-1] + bonus]
        return Verifier(self.mean, self.scale, weights, self.class_aspect)

    def log_odds(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Log-odds that each candidate is one character; ``x`` shape (C, F) -> (C,)."""
        z = (x - self.mean) / self.scale
        layers = list(zip(self.weights[::2], self.weights[1::2], strict=True))
        for w, b in layers[:-1]:
            z = np.maximum(z @ w + b, 0.0)
        w, b = layers[-1]
        out: NDArray[np.float64] = (z @ w + b)[:, 0]
        return out

    def save(self, path: Path, report: str = "") -> None:
        """Write the model as safetensors (float64 arrays).

        The feature names and ``report`` (e.g. the fitting report as JSON) go in the metadata.
        """
        from safetensors.numpy import save_file

        tensors = {"mean": self.mean, "scale": self.scale, "class_aspect": self.class_aspect}
        tensors |= {f"layer{k}": np.ascontiguousarray(w) for k, w in enumerate(self.weights)}
        meta = {"features": ",".join(FEATURES), "report": report}
        save_file(tensors, str(path), metadata=meta)

    @classmethod
    def load(cls, path: Path) -> Verifier:
        """Read a model written by :meth:`save`.

        Raises
        ------
        WeightsError
            The file is unreadable, incomplete or was fitted on other features.
        """
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                t = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except Exception as exc:  # safetensors raises several kinds
            raise WeightsError(f"cannot read verifier {path}: {exc}") from exc
        if meta.get("features") != ",".join(FEATURES):
            raise WeightsError(f"verifier {path} was fitted on other features")
        n = sum(1 for k in t if k.startswith("layer"))
        try:
            weights = [t[f"layer{k}"] for k in range(n)]
            return cls(t["mean"], t["scale"], weights, t["class_aspect"])
        except KeyError as exc:
            raise WeightsError(f"verifier {path} lacks {exc}") from exc


def read_lattices(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    classify: Classify,
    cfg: SegmentConfig,
    fixed: Sequence[Sequence[bool]] | None = None,
) -> list[tuple[Lattice, NDArray[np.float32]] | None]:
    """Build every line's lattice and classify its candidates (one batch for the page).

    Parameters
    ----------
    lines, starts, probs, classify, cfg
        As :func:`search_lines`.
    fixed : sequence of sequence of bool, optional
        Per line, per glyph: keep it as it stands (:func:`build_lattice`).

    Returns
    -------
    list
        Per line, ``(lattice, candidate probs of shape (C, K, 47))``, or None for an empty
        line.
    """
    out: list[tuple[Lattice, NDArray[np.float32]] | None] = []
    todo: list[Piece] = []
    where: list[tuple[int, int]] = []  # (line, candidate) of each piece in todo
    k0 = 0
    for li, (row, row_starts) in enumerate(zip(lines, starts, strict=True)):
        if not row:
            out.append(None)
            continue
        lat = build_lattice(row, row_starts, cfg, None if fixed is None else fixed[li])
        cp = np.zeros((len(lat.spans), *probs.shape[1:]), np.float32)
        cp[: len(row)] = probs[k0 : k0 + len(row)]  # the layout glyphs, already read
        for c in range(len(row), len(lat.spans)):
            todo.append(lat.pieces[c])
            where.append((li, c))
        out.append((lat, cp))
        k0 += len(row)
    if todo:
        new = classify(todo)
        for (li, c), p in zip(where, new, strict=True):
            out[li][1][c] = p  # type: ignore[index]
    return out


def search_lines(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    classify: Classify,
    *,
    verifier: Verifier,
    charset: Charset | None = None,
    cfg: SegmentConfig | None = None,
) -> tuple[Lines, Starts, NDArray[np.float32]]:
    """Choose each line's segmentation by a best-path search over its candidate lattice.

    Parameters
    ----------
    lines, starts : see :data:`Lines`, :data:`Starts`
        The layout's glyphs and word starts.
    probs : ndarray of float32, shape (N, K, 47)
        The layout glyphs' classifier output, one row per glyph in reading order (reused for
        the candidates that are a whole layout glyph).
    classify : Classify
        Scores the other candidates, in one batch.
    verifier : Verifier
    charset : Charset, optional
    cfg : SegmentConfig, optional
        Lattice bounds, ``keep_log_odds`` and ``char_bonus``.

    Returns
    -------
    (lines, starts, probs)
        The chosen glyphs, their word starts and their ``(N', K, 47)`` stack.

    Notes
    -----
    A layout glyph whose log-odds as one character reach :attr:`SegmentConfig.keep_log_odds`
    is kept as it stands (neither cut nor joined): most glyphs of a clean page are, so their
    lattice is not built and not classified.
    """
    found = search_lattices(
        lines, starts, probs, classify, verifier=verifier, charset=charset, cfg=cfg
    )
    return searched_lines(found, probs)


def searched_lines(
    found: Sequence[LineSearch | None], probs: NDArray[np.float32]
) -> tuple[Lines, Starts, NDArray[np.float32]]:
    """Return the chosen glyphs, word starts and probability stack of searched lines.

    ``probs`` gives the stack's trailing shape when no line has glyphs.
    """
    out_lines: Lines = []
    out_starts: Starts = []
    out_probs: list[NDArray[np.float32]] = []
    for read in found:
        if read is None:
            out_lines.append([])
            out_starts.append([])
            continue
        out_lines.append([read.lattice.pieces[c] for c in read.path])
        out_starts.append(path_word_starts(read.lattice, read.path))
        out_probs.append(read.probs[read.path])
    stack = np.concatenate(out_probs) if out_probs else probs[:0]
    return out_lines, out_starts, stack


def search_lattices(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    classify: Classify,
    *,
    verifier: Verifier,
    charset: Charset | None = None,
    cfg: SegmentConfig | None = None,
) -> list[LineSearch | None]:
    """Build, score and search every line's lattice (:func:`search_lines`, keeping them).

    Arguments as :func:`search_lines`.

    Returns
    -------
    list of LineSearch or None
        Per line, its lattice with the candidates' scores and the best path; None for an
        empty line.
    """
    cfg = cfg or SegmentConfig()
    fixed = confident_glyphs(lines, starts, probs, verifier, charset, cfg)
    out: list[LineSearch | None] = []
    for read in read_lattices(lines, starts, probs, classify, cfg, fixed):
        if read is None:
            out.append(None)
            continue
        lat, cp = read
        x = candidate_features(lat, cp[:, 0], charset, verifier.class_aspect)
        score = verifier.log_odds(x) + cfg.char_bonus
        out.append(LineSearch(lat, cp, score, best_path(len(lat.atoms), lat.spans, score)))
    return out


def layout_searches(
    lines: Lines, starts: Starts, probs: NDArray[np.float32], cfg: SegmentConfig | None = None
) -> list[LineSearch | None]:
    """Return the layout's own glyphs as one-path lattices (no search), scored 0.

    For the fusion with line members when the search is off or has no verifier.
    """
    cfg = cfg or SegmentConfig()
    out: list[LineSearch | None] = []
    k0 = 0
    for row, row_starts in zip(lines, starts, strict=True):
        if not row:
            out.append(None)
            continue
        lat = build_lattice(row, row_starts, cfg, [True] * len(row))
        cp = probs[k0 : k0 + len(row)]
        out.append(LineSearch(lat, cp, np.zeros(len(row)), list(range(len(row)))))
        k0 += len(row)
    return out


def confident_glyphs(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    verifier: Verifier,
    charset: Charset | None,
    cfg: SegmentConfig,
) -> list[list[bool]]:
    """Return, per line and layout glyph, whether it stands as one character.

    True where the verifier's log-odds of the glyph as it stands reach
    :attr:`SegmentConfig.keep_log_odds`. Arguments as :func:`search_lines`.
    """
    out: list[list[bool]] = []
    k0 = 0
    for row, row_starts in zip(lines, starts, strict=True):
        if not row:
            out.append([])
            continue
        lat = build_lattice(row, row_starts, cfg, [True] * len(row))
        x = candidate_features(lat, probs[k0 : k0 + len(row), 0], charset, verifier.class_aspect)
        out.append((verifier.log_odds(x) >= cfg.keep_log_odds).tolist())
        k0 += len(row)
    return out


def path_word_starts(lat: Lattice, path: Sequence[int]) -> list[bool]:
    """Word-start flags of a path's candidates (a candidate never crosses a word start)."""
    words = [lat.word_of[lat.spans[c][0]] for c in path]
    return [n == 0 or words[n] != words[n - 1] for n in range(len(path))]


def best_path(
    n_atoms: int, spans: Sequence[tuple[int, int]], score: NDArray[np.float64]
) -> list[int]:
    """Return the candidates of the highest-scoring path from boundary 0 to ``n_atoms``.

    Parameters
    ----------
    n_atoms : int
        Atoms of the line; the boundaries are ``0 .. n_atoms``.
    spans : sequence of (int, int)
        Each candidate's first atom and one past its last (:func:`build_lattice` guarantees
        that a path exists).
    score : ndarray of float64, shape (C,)
        Each candidate's score; the path maximises their sum.

    Returns
    -------
    list of int
        Candidate indices, left to right.

    Raises
    ------
    ValueError
        No path covers the line.
    """
    best = np.full(n_atoms + 1, -np.inf)
    back = np.full(n_atoms + 1, -1, np.int64)
    best[0] = 0.0
    ending: list[list[int]] = [[] for _ in range(n_atoms + 1)]
    for c, (_, j) in enumerate(spans):
        ending[j].append(c)
    for j in range(1, n_atoms + 1):
        for c in ending[j]:
            i = spans[c][0]
            s = best[i] + score[c]
            if s > best[j]:
                best[j], back[j] = s, c
    if not np.isfinite(best[n_atoms]):
        raise ValueError("no segmentation path covers the line")
    path = []
    j = n_atoms
    while j > 0:
        c = int(back[j])
        path.append(c)
        j = spans[c][0]
    return path[::-1]
