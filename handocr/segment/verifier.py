"""The search's verifier: a small model of "this candidate is exactly one character".

Every candidate of a line's lattice (:mod:`handocr.segment.lattice`) is scored by a
:class:`Verifier`: a neural (or, without hidden layers, logistic) model over the ensemble's
confidence and the candidate's geometry relative to the line's height (width, height, the ink
that a cut crosses, the gaps it bridges, its offset from the line's centre:
:data:`handocr.segment.lattice.FEATURES`), fitted on lattices of synthetic pages whose true
character boxes are known (:mod:`handocr.train.verifier`). It is stored as safetensors
(numpy arrays; :meth:`Verifier.save`, :meth:`Verifier.load`); the shipped one is listed in
``weights/MANIFEST.json`` and loaded by :func:`handocr.models.loader.load_verifier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from handocr.errors import WeightsError
from handocr.segment.lattice import FEATURES

__all__ = ["Verifier"]


class Verifier:
    """A small neural model of "this candidate is exactly one character".

    ``log_odds(x)``: the features are standardised (``(x - mean) / scale``), pass through the
    hidden layers (ReLU) and a last linear layer whose single output is the log-odds; with no
    hidden layer it is a logistic regression.

    Parameters
    ----------
    mean, scale : ndarray of float64, shape (F,)
        Standardisation of :data:`~handocr.segment.lattice.FEATURES`.
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

        from handocr.io import atomic_path

        tensors = {"mean": self.mean, "scale": self.scale, "class_aspect": self.class_aspect}
        tensors |= {f"layer{k}": np.ascontiguousarray(w) for k, w in enumerate(self.weights)}
        meta = {"features": ",".join(FEATURES), "report": report}
        with atomic_path(path) as tmp:  # the mode every output gets (safetensors makes 0600)
            save_file(tensors, str(tmp), metadata=meta)

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
