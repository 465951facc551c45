"""ONNX Runtime inference on CPU, without importing torch.

A member's ONNX file (``arch.tag.onnx`` beside ``arch.tag.safetensors``) holds only the network's
graph. Its tensors are ONNX *external data* that point at the byte ranges of the very same
tensors inside the safetensors file, so the weights exist once, in safetensors, and are checked
by their sha256 before ONNX Runtime reads them; the float16 tensors are cast to float32 by
``Cast`` nodes that ONNX Runtime folds away when the session starts (as it folds batch norm into
the convolutions). Nothing is unpickled.

``handocr export-onnx`` writes the graphs (:mod:`handocr.train.export`: it needs torch and the
``onnx`` package); reading needs only ``onnxruntime``, and this module only runs them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import WeightsError

__all__ = [
    "GRAPH_INPUT",
    "GRAPH_OUTPUT",
    "OnnxNet",
    "cpu_threads",
    "onnx_session",
    "onnxruntime_available",
]

log = logging.getLogger(__name__)

GRAPH_INPUT = "x"
"""Name of a member graph's input: ``(N, 1, 28, 28)`` float32 crops."""
GRAPH_OUTPUT = "logits"
"""Name of a member graph's output: ``(N, 47)`` float32 logits."""


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def cpu_threads() -> int:
    """CPUs this process may run on (``HANDOCR_THREADS`` overrides), at least 1."""
    env = os.environ.get("HANDOCR_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def onnx_session(graph: Path, *, threads: int | None = None) -> Any:
    """Open an ONNX Runtime session on the CPU, sequential, without spin-waiting threads.

    Parameters
    ----------
    graph : Path
        The ``.onnx`` file (the caller checks its sha256 first).
    threads : int, optional
        Intra-op threads; default :func:`cpu_threads`.

    Returns
    -------
    onnxruntime.InferenceSession

    Raises
    ------
    WeightsError
        onnxruntime is not installed, or the graph or its tensors cannot be loaded.
    """
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise WeightsError("the onnx backend needs onnxruntime (pip install onnxruntime)") from err
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or cpu_threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    # Several members' sessions take turns on the same cores: threads that spin-wait
    # after a run would steal the CPU from the next member's run.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(graph), so, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise WeightsError(f"{graph.name}: ONNX Runtime cannot load it ({err})") from err


class OnnxNet:
    """One member's network in an ONNX Runtime session on the CPU.

    Parameters
    ----------
    graph : Path
        The ``.onnx`` graph; its external tensors are read from files in the same folder (the
        caller checks their sha256 first).
    threads : int, optional
        Intra-op threads; default :func:`cpu_threads` (one per usable CPU, no
        oversubscription).

    Raises
    ------
    WeightsError
        onnxruntime is not installed, or the graph or its tensors cannot be loaded.
    """

    def __init__(self, graph: Path, *, threads: int | None = None) -> None:
        self.session = onnx_session(graph, threads=threads)
        self.graph = graph

    def __call__(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Logits of a batch.

        Parameters
        ----------
        x : ndarray of float32, shape (N, 1, 28, 28)
            Normalised crops.

        Returns
        -------
        ndarray of float32, shape (N, 47)
        """
        feed = {GRAPH_INPUT: np.ascontiguousarray(x, np.float32)}
        out = self.session.run([GRAPH_OUTPUT], feed)[0]
        return np.asarray(out, np.float32)
