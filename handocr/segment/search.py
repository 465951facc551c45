"""Recognition-based segmentation as a best-path search over each line's candidate lattice.

Each line's lattice of candidates (:mod:`handocr.segment.lattice`: over-segmentation at
the minima of the vertical projection, spans of consecutive atoms) is classified (one batch
per page; the classifier is passed in as :data:`Classify`) and every candidate is scored by a
:class:`~handocr.segment.verifier.Verifier`: the log-odds that it is exactly one character.
The best segmentation of each word is the path from its first to its last boundary that
maximises the sum of the candidates' log-odds plus :attr:`SegmentConfig.char_bonus` per
character (dynamic programming, the Viterbi algorithm on a DAG); the letter/digit and case
context then act on the chosen candidates in :mod:`handocr.decode`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig
from handocr.segment.lattice import Lattice, Lines, Starts, build_lattice, candidate_features

if TYPE_CHECKING:
    from handocr.labels import Charset
    from handocr.segment.verifier import Verifier

__all__ = [
    "Classify",
    "LineSearch",
    "best_path",
    "confident_candidates",
    "layout_searches",
    "path_word_starts",
    "read_lattices",
    "search_lattices",
    "search_lines",
    "searched_lines",
]

Classify = Callable[[Sequence[Piece]], NDArray[np.float32]]
"""``classify(pieces) -> (N, K, 47) float32``: voted probabilities in ``[:, 0]`` (the other
``K - 1`` columns travel along, e.g. each member's own vote)."""


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
        Per line, per layout candidate: keep it as it stands (:func:`build_lattice`).

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
        cp[: len(row)] = probs[k0 : k0 + len(row)]  # the layout candidates, already read
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
        The layout's candidates and word starts.
    probs : ndarray of float32, shape (N, K, 47)
        The layout candidates' classifier output, one row per candidate in reading order
        (reused for the lattice candidates that are a whole layout candidate).
    classify : Classify
        Scores the other candidates, in one batch.
    verifier : Verifier
    charset : Charset, optional
    cfg : SegmentConfig, optional
        Lattice bounds, ``keep_log_odds`` and ``char_bonus``.

    Returns
    -------
    (lines, starts, probs)
        The chosen candidates, their word starts and their ``(N', K, 47)`` stack.

    Notes
    -----
    A layout candidate whose log-odds as one character reach
    :attr:`SegmentConfig.keep_log_odds` is kept as it stands (neither cut nor joined): most
    candidates of a clean page are, so their lattice is not built and not classified.
    """
    found = search_lattices(
        lines, starts, probs, classify, verifier=verifier, charset=charset, cfg=cfg
    )
    return searched_lines(found, probs)


def searched_lines(
    found: Sequence[LineSearch | None], probs: NDArray[np.float32]
) -> tuple[Lines, Starts, NDArray[np.float32]]:
    """Return the chosen candidates, word starts and probability stack of searched lines.

    ``probs`` gives the stack's trailing shape when no line has candidates.
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
    fixed = confident_candidates(lines, starts, probs, verifier, charset, cfg)
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
    """Return the layout's own candidates as one-path lattices (no search), scored 0.

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


def confident_candidates(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    verifier: Verifier,
    charset: Charset | None,
    cfg: SegmentConfig,
) -> list[list[bool]]:
    """Return, per line and layout candidate, whether it stands as one character.

    True where the verifier's log-odds of the candidate as it stands reach
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
