"""ONNX export of trained members, for ONNX Runtime inference without torch.

A member's ONNX file (``arch.tag.onnx`` beside ``arch.tag.safetensors``) holds only the network's
graph. Its tensors are ONNX *external data* that point at the byte ranges of the very same
tensors inside the safetensors file, so the weights exist once, in safetensors, and are checked
by their sha256 before ONNX Runtime reads them (:mod:`handocr.models.runtime`); the float16
tensors are cast to float32 by ``Cast`` nodes that ONNX Runtime folds away when the session
starts. Parity with the torch model is checked on export (:data:`PARITY_ATOL`). Needs torch,
``onnx`` and ``onnxscript`` (the ``export`` extra).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from handocr.crops import INPUT_SHAPE
from handocr.errors import WeightsError
from handocr.models.runtime import GRAPH_INPUT, GRAPH_OUTPUT, OnnxNet

if TYPE_CHECKING:
    from torch import nn

__all__ = ["GRAPH_SUFFIX", "OPSET", "PARITY_ATOL", "export_graph", "export_member", "parity"]

GRAPH_SUFFIX = ".onnx"
OPSET = 18
"""ONNX opset of exported graphs."""

PARITY_ATOL = 1e-4
"""Largest absolute difference of any class probability allowed between the ONNX Runtime and
the torch outputs of a member (checked by :func:`export_member` and the tests)."""

_ST_DTYPES = {"F16": 10, "F32": 1, "BF16": 16}  # safetensors dtype -> onnx TensorProto enum


def _safetensors_layout(path: Path) -> tuple[int, dict[str, Any]]:
    """Return the byte offset of the data section and the JSON header of a safetensors file."""
    with path.open("rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header: dict[str, Any] = json.loads(fh.read(n))
    header.pop("__metadata__", None)
    return 8 + n, header


def export_graph(net: nn.Module, weights_path: Path, out_path: Path) -> int:
    """Export ``net``'s graph to ONNX with its tensors referencing ``weights_path``.

    Parameters
    ----------
    net : torch.nn.Module
        A member loaded from ``weights_path`` (:func:`handocr.models.weights.load_weights`),
        mapping ``(N, 1, 28, 28)`` float32 to ``(N, 47)`` logits.
    weights_path : Path
        Its safetensors file; the graph must be written to the same folder.
    out_path : Path
        Where to write the graph (``arch.tag.onnx``).

    Returns
    -------
    int
        Number of graph tensors that reference the safetensors file.

    Raises
    ------
    WeightsError
        ``out_path`` is not beside ``weights_path``, or a parameter of the graph differs from
        the tensor of that name in the file (the net was not loaded from it).
    """
    import onnx_ir as ir
    import torch
    from onnx import TensorProto, helper, numpy_helper
    from onnxscript import optimizer
    from safetensors.torch import load_file

    if out_path.parent.resolve() != weights_path.parent.resolve():
        raise WeightsError(f"{out_path} must be in the folder of {weights_path.name}")
    data_start, header = _safetensors_layout(weights_path)
    net = net.eval().float()
    prog = torch.onnx.export(
        net,
        (torch.zeros(2, *INPUT_SHAPE),),
        dynamo=True,
        input_names=[GRAPH_INPUT],
        output_names=[GRAPH_OUTPUT],
        dynamic_shapes=({0: torch.export.Dim("n", min=1)},),
        opset_version=OPSET,
        optimize=False,  # its optimiser folds batch norm into the weights; we keep the file's
        verbose=False,
    )
    if prog is None:
        raise WeightsError("torch.onnx.export returned no program")
    # Fold only shape computations (e.g. the zero bias of bias-free convolutions), which
    # otherwise run at every call; parameters stay as they are (checked below).
    optimizer.fold_constants(prog.model)
    optimizer.remove_unused_nodes(prog.model)
    model = ir.serde.serialize_model(prog.model)
    state = load_file(str(weights_path))  # each linked graph tensor must equal the file's
    kept, casts = [], []
    linked = 0
    for t in model.graph.initializer:
        entry = header.get(t.name)
        if entry is None or t.name not in state or list(entry["shape"]) != list(t.dims):
            kept.append(t)
            continue
        stored = state[t.name].detach().cpu().float().numpy()
        if not np.array_equal(numpy_helper.to_array(t).astype(np.float32), stored):
            raise WeightsError(f"graph tensor {t.name} differs from {weights_path.name}")
        ref = TensorProto()
        ref.name = f"{t.name}::stored"
        ref.data_type = _ST_DTYPES[entry["dtype"]]
        ref.dims.extend(t.dims)
        ref.data_location = TensorProto.EXTERNAL
        start, stop = entry["data_offsets"]
        for key, value in (
            ("location", weights_path.name),
            ("offset", str(data_start + start)),
            ("length", str(stop - start)),
        ):
            kv = ref.external_data.add()
            kv.key, kv.value = key, value
        kept.append(ref)
        casts.append(helper.make_node("Cast", [ref.name], [t.name], to=t.data_type))
        linked += 1
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    nodes = casts + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    for node in model.graph.node:  # drop the exporter's per-node provenance (stack traces)
        del node.metadata_props[:]
        node.doc_string = ""
    del model.graph.value_info[:]
    del model.metadata_props[:]
    model.doc_string = f"handocr graph; tensors in {weights_path.name}"
    tmp_out = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp_out.write_bytes(model.SerializeToString())
    tmp_out.replace(out_path)
    return linked


def parity(net: nn.Module, graph: Path, *, n: int = 256, seed: int = 0) -> float:
    """Largest absolute difference between the softmax outputs of ``net`` and of ``graph``.

    Parameters
    ----------
    net : torch.nn.Module
        The torch member the graph was exported from.
    graph : Path
        Its ONNX graph.
    n : int
        Random crops (uniform in [0, 1]) compared; half are thresholded to 0/1 like ink.
    seed : int

    Returns
    -------
    float
        ``max |p_onnx - p_torch|`` over crops and classes.
    """
    import torch

    rng = np.random.default_rng(seed)
    x = rng.random((n, *INPUT_SHAPE), dtype=np.float32)
    x[: n // 2] = (x[: n // 2] > 0.7).astype(np.float32)
    with torch.inference_mode():
        ref = torch.softmax(net.eval().float()(torch.from_numpy(x)), 1).numpy()
    z = OnnxNet(graph, threads=1)(x).astype(np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    return float(np.abs(e / e.sum(1, keepdims=True) - ref).max())


def export_member(name: str) -> float:
    """Export the graph of a shipped member beside its weights and check its parity.

    Parameters
    ----------
    name : str
        ``"arch.tag"`` (or ``"arch"`` for its default tag) in the weights folder.

    Returns
    -------
    float
        The parity figure (:func:`parity`), at most :data:`PARITY_ATOL`.

    Raises
    ------
    WeightsError
        Unknown or unusable weights, or a parity above :data:`PARITY_ATOL` (the graph is
        then deleted).
    """
    from handocr.models.factory import model_spec
    from handocr.models.manifest import split_name
    from handocr.models.weights import find_weights, load_weights

    arch, tag = split_name(name)
    net = model_spec(arch).build()
    path, sha = find_weights(arch, tag)
    load_weights(net, (path, sha))
    graph = path.with_suffix(GRAPH_SUFFIX)
    export_graph(net, path, graph)
    diff = parity(net, graph)
    if not diff <= PARITY_ATOL:
        graph.unlink(missing_ok=True)
        raise WeightsError(f"{graph.name}: ONNX and torch outputs differ by {diff:.2e}")
    return diff
