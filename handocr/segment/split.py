"""Candidate cuts of touching characters (the geometry half of recognition-based segmentation).

A glyph much wider than high is likely two or more touching characters. For ``k`` pieces, a cut
is placed near each ``i * width / k`` at the column of least ink in a window around it (vertical
projection minimum). Which option wins (no cut, 2, 3 or 4 pieces) is decided by the classifier's
confidence in :func:`handocr.segment.refine.split_touching`.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box
from handocr.segment.components import Piece
from handocr.segment.config import SegmentConfig

__all__ = ["split_candidates"]


def _trim(box: Box, mask: NDArray[np.uint8]) -> Piece | None:
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    return Piece(
        Box(box.x0 + x0, box.y0 + y0, box.x0 + x1, box.y0 + y1),
        np.ascontiguousarray(mask[y0:y1, x0:x1]),
    )


def split_candidates(piece: Piece, cfg: SegmentConfig | None = None) -> list[list[Piece]]:
    """Return the ways to cut a wide glyph into 2..``max_pieces`` pieces.

    Parameters
    ----------
    piece : Piece
        The glyph.
    cfg : SegmentConfig, optional
        ``split_aspect``, ``piece_aspect`` and ``max_pieces``.

    Returns
    -------
    list of list of Piece
        One list per option, pieces left to right; empty for a glyph narrower than
        ``split_aspect`` heights. Options whose pieces would be empty or lower than a fifth of
        the glyph's height are left out.
    """
    cfg = cfg or SegmentConfig()
    h, w = piece.mask.shape
    if h == 0 or w < cfg.split_aspect * h:
        return []
    proj = (piece.mask > 0).sum(0).astype(np.float64)
    proj = np.convolve(proj, np.ones(3) / 3, mode="same")
    k_max = min(cfg.max_pieces, max(2, int(w / (cfg.piece_aspect * h))))
    options = []
    for k in range(2, k_max + 1):
        step = w / k
        cuts = [0]
        for i in range(1, k):
            lo = max(cuts[-1] + 1, int(i * step - 0.3 * step))
            hi = min(w - 1, int(i * step + 0.3 * step))
            if hi <= lo:
                break
            window = proj[lo:hi]
            cuts.append(lo + int(np.argmin(window)))
        else:
            cuts.append(w)
            pieces = [
                _trim(
                    Box(piece.box.x0 + a, piece.box.y0, piece.box.x0 + b, piece.box.y1),
                    piece.mask[:, a:b],
                )
                for a, b in pairwise(cuts)
            ]
            if all(p is not None and p.box.height >= h / 5 for p in pieces):
                options.append([p for p in pieces if p is not None])
    return options
