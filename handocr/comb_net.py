"""The comb-cell network: each non-empty cell of a comb field read whole, its lines included.

A comb field's cells are its segmentation (:mod:`handocr.segment.comb`). The character
ensemble reads each cell's ink with the comb's rules and walls erased
(:func:`handocr.segment.comb.cell_pieces`); in cells under 20 px the erasing takes strokes that
lie on a line, and what is left is often a fragment. This network instead reads a window
around the cell, its walls and rules still in it: :func:`cell_window` cuts from the comb's
levelled crop the cell from a little beyond each wall and each rule (:data:`SIDE`,
:data:`OVER`), as ink darkness, resized to 28 x 28. It is handocr's custom CNN
(:class:`handocr.models.cnn.CharCNN`, the 47 EMNIST Balanced classes) fine-tuned on such
windows of generated comb fields (:mod:`handocr.train.combnet`); its probabilities join the
ensemble's vote on the cell by soft voting with the weight stored beside it
(:data:`COMB_FILE`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import WeightsError

if TYPE_CHECKING:
    from handocr.segment.comb import CombField

__all__ = ["COMB_FILE", "NET_FILE", "OVER", "SIDE", "CombNet", "cell_window", "load_comb_net"]

SIDE = 0.2
"""Columns beyond each wall's centre in the window, as a share of the cell pitch."""

OVER = 0.3
"""Rows beyond each rule's centre in the window, as a share of the cell height."""

WINDOW = 28
"""The window's side in pixels (the network's input, as EMNIST's)."""

NET_FILE = "combnet.onnx"
"""The network's ONNX graph in the weights folder."""

COMB_FILE = "combnet.json"
"""Its record in the weights folder: sha256 of the graph, the soft-voting weight, how it was
trained and what it measured."""


def cell_window(comb: CombField, cell: int) -> NDArray[np.float32]:
    """Cut cell ``cell`` of ``comb`` with its walls and rules as the network reads it.

    Parameters
    ----------
    comb : CombField
        A comb found by :func:`handocr.segment.comb.find_combs` (its gray levels
        :attr:`~handocr.segment.comb.CombField.soft` when it has them, else its binary ink).
    cell : int
        The cell's index, ``0 <= cell < len(comb.cells)``.

    Returns
    -------
    ndarray of float32, shape (28, 28)
        Ink darkness in ``[0, 1]`` (1 = the window's darkest ink, 0 = paper), the window from
        :data:`SIDE` pitches left of the cell's left wall to as far right of its right wall and
        :data:`OVER` cell heights above the top rule to as far below the bottom one (paper
        outside the crop), resized without keeping its aspect.

    Raises
    ------
    IndexError
        ``cell`` is not a cell of ``comb``.
    """
    import cv2

    if not 0 <= cell < len(comb.cells):
        raise IndexError(f"cell {cell} of a comb of {len(comb.cells)}")
    src = comb.soft if comb.soft is not None else comb.ink
    left = sum(comb.walls[cell]) / 2
    right = sum(comb.walls[cell + 1]) / 2
    top, bottom = sum(comb.rules[0]) / 2, sum(comb.rules[1]) / 2
    pitch, height = max(right - left, 1.0), max(bottom - top, 1.0)
    x0, x1 = round(left - SIDE * pitch), round(right + SIDE * pitch)
    y0, y1 = round(top - OVER * height), round(bottom + OVER * height)
    h, w = src.shape
    win = np.zeros((y1 - y0, x1 - x0), np.float32)
    ya, yb, xa, xb = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if yb > ya and xb > xa:
        win[ya - y0 : yb - y0, xa - x0 : xb - x0] = src[ya:yb, xa:xb]
    out = cv2.resize(win, (WINDOW, WINDOW), interpolation=cv2.INTER_AREA)
    top_ink = float(out.max())
    return np.asarray(out / top_ink if top_ink > 0 else out, np.float32)


@dataclass(frozen=True, slots=True)
class CombNet:
    """The comb-cell network in ONNX Runtime and its soft-voting weight.

    Attributes
    ----------
    weight : float
        In ``[0, 1]``: a cell's probabilities are ``(1 - weight) * ensemble + weight * net``.
    record : dict
        :data:`COMB_FILE` as read (training command, data and measurements).
    session : onnxruntime.InferenceSession
        Input ``(N, 1, 28, 28)`` float32, output ``(N, 47)`` probabilities.
    """

    weight: float
    record: dict[str, Any]
    session: Any = field(repr=False, compare=False)

    def probs(self, windows: NDArray[np.float32], batch: int = 512) -> NDArray[np.float32]:
        """Return the 47 class probabilities of each window, shape ``(N, 47)``.

        Parameters
        ----------
        windows : ndarray of float32, shape (N, 28, 28)
            From :func:`cell_window`.

        Raises
        ------
        ModelOutputError
            The graph returned output of the wrong shape or non-finite values.
        """
        from handocr.errors import ModelOutputError
        from handocr.labels import NUM_CLASSES

        name = self.session.get_inputs()[0].name
        out = []
        for start in range(0, len(windows), batch):
            x = np.ascontiguousarray(windows[start : start + batch, None], np.float32)
            out.append(np.asarray(self.session.run(None, {name: x})[0], np.float32))
        p = np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)
        if p.shape != (len(windows), NUM_CLASSES) or not np.isfinite(p).all():
            raise ModelOutputError(f"comb network returned {p.shape}, expected {len(windows)}x47")
        return p


def load_comb_net(folder: Path | None = None) -> CombNet | None:
    """Load the comb-cell network of a weights folder; None when it has none.

    Parameters
    ----------
    folder : Path, optional
        Default: the shipped weights folder.

    Raises
    ------
    WeightsError
        :data:`COMB_FILE` is unreadable, or the graph is missing or differs from its sha256.
    """
    from handocr.models.manifest import weights_dir
    from handocr.models.runtime import onnx_session
    from handocr.models.weights import file_sha256

    folder = folder or weights_dir()
    record_path, graph = folder / COMB_FILE, folder / NET_FILE
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        weight = float(record["weight"])
        sha = str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WeightsError(f"{record_path.name}: unreadable ({err})") from err
    if not 0.0 <= weight <= 1.0:
        raise WeightsError(f"{record_path.name}: weight {weight} outside [0, 1]")
    if not graph.is_file() or file_sha256(graph) != sha:
        raise WeightsError(f"{graph.name}: missing or its sha256 differs from {COMB_FILE}")
    return CombNet(weight, record, onnx_session(graph))
