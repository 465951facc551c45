"""A line member's files: fp16 safetensors with JSON metadata, and its ONNX graph.

:func:`save_line_weights` and :func:`load_line_weights` follow
:func:`handocr.models.weights.save_weights` (one JSON string under the key ``"handocr"``) with
their own ``format`` (:data:`LINE_FORMAT`); :func:`export_line_onnx` writes the self-contained
graph that reading runs in ONNX Runtime (:mod:`handocr.models.line`) and checks it against
torch (:func:`line_parity`). Training is :mod:`handocr.train.linefit`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from handocr.errors import WeightsError
from handocr.models.crnn import ALPHABET, LINE_HEIGHT, frames

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "GRAPH_INPUT",
    "GRAPH_OUTPUT",
    "LINE_FORMAT",
    "PARITY_ATOL",
    "export_line_onnx",
    "line_parity",
    "load_line_weights",
    "save_line_weights",
]

LINE_FORMAT = "handocr-line-weights-1"
"""``format`` of a line member's safetensors metadata (not a crop member's file)."""
GRAPH_INPUT = "x"
"""Name of the graph's input, ``(N, 1, 32, W)`` float32."""
GRAPH_OUTPUT = "log_probs"
"""Name of the graph's output, ``(N, ceil(W / 4), V)`` float32."""
OPSET = 18
PARITY_ATOL = 1e-4
"""Largest absolute difference of any log-probability allowed between ONNX and torch."""


def save_line_weights(net: nn.Module, path: Path, meta: dict[str, Any]) -> str:
    """Write a line member's state dict as fp16 safetensors with JSON metadata.

    The metadata follows :func:`handocr.models.weights.save_weights` (one JSON string under the
    key ``"handocr"``) with ``format`` :data:`LINE_FORMAT`, ``arch``, ``tag``, ``alphabet``,
    ``input``, ``train`` and ``metrics``. Returns the file's sha256.
    """
    import torch
    from safetensors.torch import save_file

    from handocr.io import atomic_path
    from handocr.models.weights import file_sha256

    state = {}
    for k, v in net.state_dict().items():
        t = v.detach().cpu()
        state[k] = (t.to(torch.float16) if t.is_floating_point() else t).contiguous()
    with atomic_path(path) as tmp:  # the mode every output gets (safetensors makes 0600)
        save_file(state, str(tmp), metadata={"handocr": json.dumps(meta, sort_keys=True)})
    return file_sha256(path)


def load_line_weights(net: nn.Module, path: Path) -> dict[str, Any]:
    """Load a file written by :func:`save_line_weights` into ``net``; return its metadata.

    Raises
    ------
    WeightsError
        Missing or unreadable file, another format or alphabet, or tensors that do not fit.
    """
    import torch
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = json.loads((fh.metadata() or {})["handocr"])
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    except (SafetensorError, OSError, ValueError, KeyError) as err:
        raise WeightsError(f"{path.name}: not a line member's safetensors file ({err})") from err
    if meta.get("format") != LINE_FORMAT or meta.get("alphabet") != ALPHABET:
        raise WeightsError(f"{path.name}: not a line member of this alphabet ({LINE_FORMAT})")
    own = net.state_dict()
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    missing = sorted(set(own) - set(state))
    if bad or missing:
        raise WeightsError(f"{path.name} does not fit: missing={missing[:5]} other={bad[:5]}")
    with torch.no_grad():
        net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return dict(meta)


def export_line_onnx(net: nn.Module, out_path: Path, *, example_width: int = 96) -> float:
    """Export a line member to a self-contained ONNX graph and check it against torch.

    The graph takes ``x``: ``(N, 1, 32, W)`` float32 (dynamic ``N`` and ``W``) and gives
    ``log_probs``: ``(N, ceil(W / 4), V)`` float32; its weights are embedded (float32), so the
    file's sha256 covers everything.

    Returns
    -------
    float
        Largest absolute difference of the log-probabilities between ONNX Runtime and torch
        on random lines of several widths (:func:`line_parity`).

    Raises
    ------
    WeightsError
        The exporter failed or the parity is worse than :data:`PARITY_ATOL`.
    """
    import torch

    net = net.eval().float().cpu()
    n, w = torch.export.Dim("n", min=1), torch.export.Dim("w", min=1)
    # The exporter swaps in a while-loop LSTM (any number of frames) by editing the op's
    # kernels, but a kernel cached by an earlier call (a previous export or training step in
    # this process) would win and fix the width; clear the cache before and after.
    lstm_op = torch.ops.aten.lstm.input
    try:
        lstm_op._dispatch_cache.clear()
        prog = torch.onnx.export(
            net,
            (torch.zeros(2, 1, LINE_HEIGHT, example_width),),
            dynamo=True,
            input_names=[GRAPH_INPUT],
            output_names=[GRAPH_OUTPUT],
            dynamic_shapes=({0: n, 3: w},),
            opset_version=OPSET,
            verbose=False,
        )
    except Exception as err:
        raise WeightsError(f"ONNX export of the line member failed: {err}") from err
    finally:
        lstm_op._dispatch_cache.clear()
    if prog is None:
        raise WeightsError("torch.onnx.export returned no program")
    model = prog.model_proto
    for node in model.graph.node:  # drop the exporter's per-node provenance
        del node.metadata_props[:]
        node.doc_string = ""
    model.doc_string = "handocr line member (CRNN + CTC); weights embedded"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(out_path)
    try:
        worst = line_parity(net, out_path)
    except Exception as exc:
        if isinstance(exc, WeightsError):
            raise
        raise WeightsError(f"{out_path.name} does not run on any width: {exc}") from exc
    if worst > PARITY_ATOL:
        raise WeightsError(f"{out_path.name}: ONNX differs from torch by {worst:.2e}")
    return worst


def line_parity(
    net: nn.Module, graph: Path, *, widths: tuple[int, ...] = (1, 7, 33, 150, 401), seed: int = 0
) -> float:
    """Largest absolute log-probability difference between ``net`` and ``graph``.

    Parameters
    ----------
    net : torch.nn.Module
    graph : Path
    widths : tuple of int
        Input widths tried (batches of 3 random lines, half of them thresholded like ink).
    seed : int
    """
    import onnxruntime as ort
    import torch

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for w in widths:
        x = rng.random((3, 1, LINE_HEIGHT, w), dtype=np.float32)
        x[1] = (x[1] > 0.7).astype(np.float32)
        with torch.inference_mode():
            ref = net.eval()(torch.from_numpy(x)).numpy()
        (out,) = sess.run([GRAPH_OUTPUT], {GRAPH_INPUT: x})
        if out.shape != ref.shape or out.shape[1] != frames(w):
            raise WeightsError(f"{graph.name}: output {out.shape} for width {w}, torch {ref.shape}")
        worst = max(worst, float(np.abs(out - ref).max()))
    return worst
