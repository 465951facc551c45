"""Loading ensemble members from the weights folder: backend and device choice, checks.

A :class:`Member` is a network plus what its weights file says about its input and its
calibration. ONNX Runtime members (:class:`handocr.models.runtime.OnnxNet`) need no torch; torch
members are built by :mod:`handocr.models.factory`. Both check every file's sha256 against the
manifest (:mod:`handocr.models.manifest`) before reading it, and so does
:func:`load_verifier` for the segmentation search's verifier.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from handocr.errors import OptionError, WeightsError
from handocr.models.manifest import Manifest, WeightsEntry, load_manifest, split_name
from handocr.result import ModelInfo

if TYPE_CHECKING:
    from torch import nn

    from handocr.models.runtime import OnnxNet
    from handocr.segment.verifier import Verifier

__all__ = ["BACKENDS", "Member", "load_members", "load_verifier", "resolve_device", "use_onnx"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "torch")
"""Inference backends: ``onnx`` (ONNX Runtime, CPU), ``torch``, or ``auto`` (ONNX Runtime on CPU
when every member has a graph and onnxruntime is installed, else torch)."""


@dataclass(frozen=True, slots=True, eq=False)
class Member:
    """One classifier of the ensemble.

    Attributes
    ----------
    info : ModelInfo
        Name, tag and sha256 of its weights.
    net : torch.nn.Module or handocr.models.runtime.OnnxNet
        Maps ``(N, 1, 28, 28)`` float32 to ``(N, 47)`` logits: a torch module in eval mode, or
        an ONNX Runtime session (numpy in, numpy out; no torch needed).
    mean, std : float
        Input normalisation ``(x - mean) / std``.
    temperature : float
        Logits are divided by it before the softmax (1.0 = none).
    """

    info: ModelInfo
    net: nn.Module | OnnxNet
    mean: float = 0.0
    std: float = 1.0
    temperature: float = 1.0


def resolve_device(device: str) -> str:
    """Map ``"auto"`` to ``"cuda"`` when torch sees a GPU, else ``"cpu"``; others pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver is loaded (Linux), checked without importing torch."""
    return Path("/proc/driver/nvidia/version").exists()


def _torch_installed() -> bool:
    """Whether torch and timm can be imported (checked without importing them)."""
    from handocr.errors import MissingExtraError, require_extra

    try:
        require_extra("")
    except MissingExtraError:
        return False
    return True


def use_onnx(names: Sequence[str], *, backend: str, device: str, manifest: Manifest) -> bool:
    """Whether these members run in ONNX Runtime.

    ``onnx`` always; ``torch`` never; ``auto`` when torch is not installed (a reading install),
    or when the device is the CPU (``auto`` counts as CPU on a machine without an NVIDIA
    driver), onnxruntime is installed and every member has an exported graph.

    Raises
    ------
    OptionError
        Unknown ``backend``.
    """
    from handocr.models.runtime import onnxruntime_available

    if backend not in BACKENDS:
        raise OptionError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend != "auto":
        return backend == "onnx"
    if not _torch_installed():  # a reading install: ONNX Runtime is all there is
        return True
    if device != "cpu" and not (device == "auto" and not _nvidia_driver()):
        return False
    try:
        graphs = all(manifest.entry(n).graph is not None for n in names)
    except WeightsError:  # e.g. a name without shipped weights: torch reports it properly
        return False
    return graphs and onnxruntime_available()


def load_members(
    names: Sequence[str], *, backend: str = "auto", device: str = "auto"
) -> tuple[list[Member], str, Manifest]:
    """Load members by name from the weights folder.

    Parameters
    ----------
    names : sequence of str
        ``"arch"`` or ``"arch.tag"`` names.
    backend : {"auto", "onnx", "torch"}
        See :func:`use_onnx`.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        Torch device of torch members (ONNX Runtime members run on the CPU).

    Returns
    -------
    (members, device, manifest)
        The members in order, the device they run on, and the manifest they came from.

    Raises
    ------
    OptionError
        Unknown backend.
    UnknownModelError
        An architecture is not registered (torch backend).
    WeightsError
        Weights or graphs are missing, corrupt, or do not fit; ``backend="onnx"`` without
        onnxruntime or without a graph for a member.
    """
    manifest = load_manifest()
    onnx = use_onnx(names, backend=backend, device=device, manifest=manifest)
    if not onnx:
        from handocr.errors import require_extra

        require_extra("the torch backend")
    dev = "cpu" if onnx else resolve_device(device)
    members = [
        _onnx_member(manifest, manifest.entry(n)) if onnx else _torch_member(manifest, n, dev)
        for n in names
    ]
    return members, dev, manifest


def _torch_member(manifest: Manifest, name: str, device: str) -> Member:
    """Load a member for the torch backend.

    Raises
    ------
    MissingExtraError
        torch or timm is not installed.
    """
    from handocr.errors import require_extra

    require_extra("the torch backend")
    from handocr.models.factory import model_spec
    from handocr.models.weights import load_weights

    arch, _ = split_name(name)
    net = model_spec(arch).build()  # an unknown arch fails here, before the weights lookup
    entry = manifest.entry(name)
    info = load_weights(net, (manifest.path(entry), entry.sha256))
    net = net.to(device).eval()
    temperature = float(info.metrics.get("temperature", 1.0))
    return Member(
        ModelInfo(arch, info.tag, entry.sha256 or ""), net, info.mean, info.std, temperature
    )


def _onnx_member(manifest: Manifest, entry: WeightsEntry) -> Member:
    """Load a member for ONNX Runtime; its graph and weights are checked by sha256 first."""
    from handocr.models.runtime import OnnxNet
    from handocr.models.weights import file_sha256, read_weights_info

    path = manifest.path(entry)
    info = read_weights_info(path, entry.sha256)
    if entry.graph is None:
        raise WeightsError(
            f"{path.name} has no ONNX graph (run `handocr export-onnx {info.name}`, "
            "or use --backend torch)"
        )
    gpath = manifest.path(entry.graph)
    if not gpath.is_file() or file_sha256(gpath) != entry.graph.sha256:
        raise WeightsError(f"{gpath.name}: missing, or sha256 mismatch (corrupt or replaced)")
    temperature = float(info.metrics.get("temperature", 1.0))
    return Member(
        ModelInfo(entry.arch, info.tag, entry.sha256 or ""),
        OnnxNet(gpath),
        info.mean,
        info.std,
        temperature,
    )


def load_verifier(
    members: Sequence[str] | None = None, *, manifest: Manifest | None = None
) -> Verifier | None:
    """Load the segmentation search's verifier listed in the manifest, checked by sha256.

    Parameters
    ----------
    members : sequence of str, optional
        The character members read with (``"arch"`` or ``"arch.tag"``; default the manifest's
        default ensemble). When they differ from those the verifier was fitted for, a message
        says so (at INFO level) and the verifier is still returned.
    manifest : Manifest, optional
        Default :func:`~handocr.models.manifest.load_manifest` of the weights folder.

    Returns
    -------
    Verifier or None
        None when the manifest lists no verifier (the search is then skipped and the layout's
        glyphs stand).

    Raises
    ------
    WeightsError
        The listed file is missing, its sha256 differs from the manifest's, or it cannot be
        read as a verifier.
    """
    from handocr.models.weights import file_sha256
    from handocr.segment.verifier import Verifier

    manifest = manifest or load_manifest()
    entry = manifest.verifier
    if entry is None:
        log.debug("%s lists no verifier: no segmentation search", manifest.folder)
        return None
    path = manifest.path(entry)
    if not path.is_file():
        raise WeightsError(f"verifier file not found: {path} (listed in the manifest)")
    if file_sha256(path) != entry.sha256:
        raise WeightsError(f"{path.name}: sha256 mismatch; the file is corrupt or was replaced")
    _check_verifier_members(manifest, entry.members, members)
    return Verifier.load(path)


def _check_verifier_members(
    manifest: Manifest, fitted: Sequence[str], members: Sequence[str] | None
) -> None:
    """Say (INFO) when the members read with are not those the verifier was fitted for."""
    try:
        names = (
            manifest.default_ensemble
            if members is None
            else tuple(manifest.entry(n).name for n in members)
        )
    except WeightsError:  # an unknown member is reported where the members are loaded
        return
    if set(names) != set(fitted):
        log.info("the verifier was fitted for %s, reading with %s", list(fitted), list(names))
