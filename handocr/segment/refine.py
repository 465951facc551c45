"""Recognition-based segmentation: join broken characters and cut touching ones.

The geometry (:mod:`handocr.segment.layout`) proposes one glyph per group of overlapping
components; here the classifier decides where the geometry was wrong. A cut or a join is kept
only when the classifier is clearly (by :attr:`SegmentConfig.split_margin` /
:attr:`SegmentConfig.merge_margin`, natural log) more confident in the result than in the
glyphs it replaces. The classifier is passed in as a function, so this stage never imports the
ensemble.

Lines are lists of :class:`~handocr.segment.components.Piece`; ``probs`` stacks hold one row per
piece in reading order, shape ``(N, K, 47)``, whose ``[:, 0]`` are the voted probabilities the
decisions use (the other ``K - 1`` columns travel along, e.g. each member's own vote).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.labels import Charset
from handocr.result import Box
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig
from handocr.segment.split import split_candidates

__all__ = ["Classify", "Lines", "Starts", "merge_broken", "refine_lines", "split_touching"]

Lines = list[list[Piece]]
"""The pieces of each line, left to right."""
Starts = list[list[bool]]
"""Per line, one flag per piece: True where a word begins."""
Classify = Callable[[Sequence[Piece]], NDArray[np.float32]]
"""``classify(pieces) -> (N, K, 47) float32``: voted probabilities in ``[:, 0]``."""

_Edit = tuple[int, list[Piece], NDArray[np.float32]]


def _best_of(charset: Charset | None) -> Callable[[NDArray[np.float32]], NDArray[np.float32]]:
    """Each row's best probability, among the charset's classes (unnormalised) if given."""

    def best(p: NDArray[np.float32]) -> NDArray[np.float32]:
        if charset is not None:
            p = charset.restrict(p, normalize=False)
        top: NDArray[np.float32] = p.max(1)
        return top

    return best


def _log(p: NDArray[np.float32]) -> NDArray[np.float32]:
    out: NDArray[np.float32] = np.log(p + 1e-12)  # float32, as the margins were measured
    return out


def refine_lines(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    classify: Classify,
    *,
    charset: Charset | None = None,
    cfg: SegmentConfig | None = None,
    join: bool = True,
    split: bool = True,
) -> tuple[Lines, Starts, NDArray[np.float32]]:
    """Join broken characters (:func:`merge_broken`), then cut touching ones.

    Cuts are :func:`split_touching`'s.

    Parameters
    ----------
    lines, starts : see :data:`Lines`, :data:`Starts`
    probs : ndarray of float32, shape (N, K, 47)
        One row per piece in reading order, as ``classify`` returns them.
    classify : Classify
        Scores new candidates.
    charset : Charset, optional
        Compare the best classes of the set (the probability folded onto it, not renormalised),
        so that two touching zeros, a confident ``W`` as a whole, are a poor digit and their
        pieces good ones.
    cfg : SegmentConfig, optional
    join, split : bool, default True
        Run each step.

    Returns
    -------
    (lines, starts, probs)
        The new lines and word starts, and their ``(N', K, 47)`` stack.
    """
    cfg = cfg or SegmentConfig()
    if join:
        lines, starts, probs = merge_broken(
            lines, starts, probs, classify, charset=charset, cfg=cfg
        )
    if split:
        lines, starts, probs = split_touching(
            lines, starts, probs, classify, charset=charset, cfg=cfg
        )
    return lines, starts, probs


def merge_broken(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    classify: Classify,
    *,
    charset: Charset | None = None,
    cfg: SegmentConfig | None = None,
) -> tuple[Lines, Starts, NDArray[np.float32]]:
    r"""Recognition-based joining of a character broken into two neighbouring glyphs.

    Two neighbours of a line at most ``merge_gap`` median heights apart, together at most
    ``merge_width`` times as wide as high, are classified as one glyph; they become one when
    its best log-probability beats the mean of the parts' by ``merge_margin`` (a ``Y`` drawn as
    ``\`` and ``/``, a ``K`` whose bar stands apart). Joins are taken by gain, each glyph
    joining at most once. Arguments and result as :func:`refine_lines`.
    """
    cfg = cfg or SegmentConfig()
    best = _best_of(charset)
    logp = _log(best(probs[:, 0]))
    pairs: list[tuple[int, Piece]] = []  # (flat index of the left part, joined glyph)
    k = 0
    for row in lines:
        if len(row) > 1:
            h = float(np.median([p.box.height for p in row]))
            for j, (a, b) in enumerate(pairwise(row)):
                gap = b.box.x0 - a.box.x1
                joined = Box.enclosing([a.box, b.box])
                # the joined glyph's log-probability is at most 0: pairs whose parts' mean
                # already reaches -merge_margin can never join (exact pruning)
                hopeless = (logp[k + j] + logp[k + j + 1]) / 2 + cfg.merge_margin >= 0
                wide = joined.width > cfg.merge_width * max(h, joined.height)
                if gap <= cfg.merge_gap * h and not wide and not hopeless:
                    pairs.append((k + j, a.join(b)))
        k += len(row)
    if not pairs:
        return lines, starts, probs
    joined_probs = classify([p for _, p in pairs])
    whole = _log(best(joined_probs[:, 0]))
    gains = []
    for n, (flat, _) in enumerate(pairs):
        gain = float(whole[n]) - (logp[flat] + logp[flat + 1]) / 2
        if gain > cfg.merge_margin:
            gains.append((gain, n))
    taken: dict[int, int] = {}  # flat index of the left part -> pair number
    used: set[int] = set()
    for _, n in sorted(gains, reverse=True):
        flat = pairs[n][0]
        if flat not in used and flat + 1 not in used:
            used |= {flat, flat + 1}
            taken[flat] = n
    if not taken:
        return lines, starts, probs
    edits = {k: (2, [pairs[n][1]], joined_probs[n : n + 1]) for k, n in taken.items()}
    return _rebuild(lines, starts, probs, edits)


def split_touching(
    lines: Lines,
    starts: Starts,
    probs: NDArray[np.float32],
    classify: Classify,
    *,
    charset: Charset | None = None,
    cfg: SegmentConfig | None = None,
) -> tuple[Lines, Starts, NDArray[np.float32]]:
    """Recognition-based segmentation of wide glyphs into touching characters.

    Each wide glyph's cut options (:func:`handocr.segment.split.split_candidates`) are
    classified in one batch; an option replaces the glyph when the mean log-probability of its
    pieces' best classes beats the glyph's own by ``split_margin``. Arguments and result as
    :func:`refine_lines`.
    """
    cfg = cfg or SegmentConfig()
    best = _best_of(charset)
    own = _log(best(probs[:, 0]))
    options: dict[int, list[list[Piece]]] = {}
    # A cut must beat the glyph's log-probability by split_margin, and the pieces' mean
    # log-probability is at most 0: glyphs read with more than exp(-split_margin) can never
    # be cut, so their candidates are not even classified (exact pruning).
    k = 0
    for row in lines:
        for piece in row:
            found = split_candidates(piece, cfg) if own[k] + cfg.split_margin < 0 else []
            if found:
                options[k] = found
            k += 1
    if not options:
        return lines, starts, probs
    batch = [p for opts in options.values() for opt in opts for p in opt]
    batch_probs = classify(batch)
    chosen: dict[int, tuple[list[Piece], NDArray[np.float32]]] = {}
    pos = 0
    for i, opts in options.items():
        bar = float(own[i]) + cfg.split_margin
        for opt in opts:
            pp = batch_probs[pos : pos + len(opt)]
            pos += len(opt)
            score = float(_log(best(pp[:, 0])).mean())
            if score > bar:
                bar, chosen[i] = score, (opt, pp)
    if not chosen:
        return lines, starts, probs
    edits = {k: (1, pieces, pp) for k, (pieces, pp) in chosen.items()}
    return _rebuild(lines, starts, probs, edits)


def _rebuild(
    lines: Lines, starts: Starts, probs: NDArray[np.float32], edits: dict[int, _Edit]
) -> tuple[Lines, Starts, NDArray[np.float32]]:
    """Apply cuts and joins to the lines of glyphs.

    ``edits[k] = (n, pieces, their probs)`` replaces the ``n`` glyphs from flat index ``k`` on
    (within one line) by ``pieces``; the first piece keeps glyph ``k``'s word start.
    """
    new_lines, new_starts, new_probs = [], [], []
    k = 0
    for row, row_starts in zip(lines, starts, strict=True):
        out_row: list[Piece] = []
        out_starts: list[bool] = []
        j = 0
        while j < len(row):
            n, pieces, pp = edits.get(k + j, (1, [row[j]], probs[k + j : k + j + 1]))
            out_row += pieces
            out_starts += [row_starts[j]] + [False] * (len(pieces) - 1)
            new_probs.append(pp)
            j += n
        k += len(row)
        new_lines.append(out_row)
        new_starts.append(out_starts)
    return new_lines, new_starts, np.concatenate(new_probs)
