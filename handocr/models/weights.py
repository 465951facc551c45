"""Weight files: safetensors with JSON metadata, checked against ``weights/MANIFEST.json``.

The format follows kraken (safetensors + JSON metadata) and timm's safety rule: inference never
unpickles. The metadata is one JSON string stored under the key ``"handocr"``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handocr.crops import INPUT_SHAPE
from handocr.errors import WeightsError
from handocr.labels import LABELS
from handocr.models.manifest import (
    MANIFEST,
    VERIFIER_FILE,
    WEIGHTS_ENV,
    VerifierEntry,
    load_manifest,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "WeightsInfo",
    "file_sha256",
    "find_weights",
    "load_weights",
    "read_weights_info",
    "refresh_manifest",
    "save_weights",
    "set_manifest_entry",
    "set_verifier_entry",
    "write_manifest",
]

log = logging.getLogger(__name__)

FORMAT = "handocr-weights-1"


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightsInfo:
    """Metadata stored with every weight file.

    Attributes
    ----------
    arch : str
        Registered architecture name.
    tag : str
        Weight variant, e.g. ``"emnist47-v1"``.
    labels : tuple of str
        Class index -> character; must equal :data:`handocr.labels.LABELS`.
    input_size : tuple of int
        ``(channels, height, width)``.
    mean, std : float
        Input normalisation applied before the network: ``(x - mean) / std`` on ``[0, 1]`` crops.
    train : dict
        Training provenance: config, data sha256, seed, git commit, command line.
    metrics : dict
        Measured metrics, e.g. ``{"val_accuracy": 0.9, "test_accuracy": 0.89}``.
    """

    arch: str
    tag: str
    labels: tuple[str, ...] = LABELS
    input_size: tuple[int, int, int] = INPUT_SHAPE
    mean: float = 0.0
    std: float = 1.0
    train: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    @property
    def name(self) -> str:
        """``"arch.tag"``."""
        return f"{self.arch}.{self.tag}"

    def to_metadata(self) -> dict[str, str]:
        """Return the safetensors metadata dict (``{"handocr": json}``)."""
        return {"handocr": json.dumps(asdict(self), sort_keys=True)}

    @classmethod
    def from_metadata(cls, meta: dict[str, str] | None, *, source: str) -> WeightsInfo:
        """Parse and validate metadata written by :meth:`to_metadata`.

        Raises
        ------
        WeightsError
            Missing or malformed metadata, an unknown format, or a label map other than handocr's.
        """
        try:
            raw = json.loads((meta or {})["handocr"])
            info = cls(
                arch=str(raw["arch"]),
                tag=str(raw["tag"]),
                labels=tuple(raw["labels"]),
                input_size=tuple(raw["input_size"]),  # type: ignore[arg-type]
                mean=float(raw["mean"]),
                std=float(raw["std"]),
                train=dict(raw.get("train", {})),
                metrics=dict(raw.get("metrics", {})),
                format=str(raw["format"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise WeightsError(f"{source}: missing or malformed handocr metadata ({err})") from err
        if info.format != FORMAT:
            raise WeightsError(f"{source}: unknown weights format {info.format!r}")
        if info.labels != LABELS:
            raise WeightsError(f"{source}: its label map differs from handocr's 47 EMNIST classes")
        return info


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_weights(arch: str, tag: str | None = None) -> tuple[Path, str | None]:
    """Locate the weights of ``arch`` (and ``tag``, or the manifest's default tag for it).

    Returns
    -------
    (Path, str or None)
        The file and the sha256 the manifest records for it.

    Raises
    ------
    WeightsError
        No weights of that name are listed.
    """
    manifest = load_manifest()
    entry = manifest.entry(f"{arch}.{tag}" if tag else arch)
    return manifest.path(entry), entry.sha256


def read_weights_info(path: Path, sha256: str | None = None) -> WeightsInfo:
    """Check a weights file and read its metadata, without torch.

    Parameters
    ----------
    path : Path
        A file written by :func:`save_weights`.
    sha256 : str, optional
        Expected digest; checked before anything is parsed.

    Raises
    ------
    WeightsError
        Missing file, sha256 mismatch, unreadable safetensors or bad metadata.
    """
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (is {WEIGHTS_ENV} set?)")
    if sha256 is not None and file_sha256(path) != sha256:
        raise WeightsError(f"{path.name}: sha256 mismatch; the file is corrupt or was replaced")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            return WeightsInfo.from_metadata(fh.metadata(), source=path.name)
    except (SafetensorError, OSError, ValueError) as err:
        if isinstance(err, WeightsError):
            raise
        raise WeightsError(f"{path.name}: not a readable safetensors file ({err})") from err


def save_weights(model: nn.Module, path: Path, info: WeightsInfo, *, fp16: bool = True) -> str:
    """Write ``model``'s state dict as safetensors with ``info`` as metadata.

    Floating-point tensors are stored as float16 when ``fp16`` (halves the file; the loader
    casts back to the model's dtype). The file is written beside ``path`` and renamed into
    place, with the mode of every file handocr writes (:func:`handocr.io.atomic_path`).
    Returns the file's sha256.

    Raises
    ------
    OutputError
        The file cannot be written (exit code 7).
    """
    import torch
    from safetensors.torch import save_file

    from handocr.io import atomic_path

    state = {}
    for k, v in model.state_dict().items():
        t = v.detach().cpu()
        if fp16 and t.is_floating_point():
            t = t.to(torch.float16)
        state[k] = t.contiguous()
    with atomic_path(path) as tmp:  # the mode every output gets (safetensors makes it 0600)
        save_file(state, str(tmp), metadata=info.to_metadata())
    return file_sha256(path)


def load_weights(
    model: nn.Module, where: Path | tuple[Path, str | None], *, sha256: str | None = None
) -> WeightsInfo:
    """Load a file written by :func:`save_weights` into ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        A freshly built model of the file's architecture.
    where : Path or (Path, sha256)
        The file, or the pair that :func:`find_weights` returns.
    sha256 : str, optional
        Expected digest; checked before anything is parsed.

    Raises
    ------
    WeightsError
        Missing file, sha256 mismatch, unreadable safetensors, bad metadata, or tensors that do not
        fit ``model`` (names or shapes).
    """
    import torch
    from safetensors import SafetensorError, safe_open

    path, expected = where if isinstance(where, tuple) else (where, sha256)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (is {WEIGHTS_ENV} set?)")
    if expected is not None and file_sha256(path) != expected:
        raise WeightsError(f"{path.name}: sha256 mismatch; the file is corrupt or was replaced")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            info = WeightsInfo.from_metadata(fh.metadata(), source=path.name)
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    except (SafetensorError, OSError, ValueError) as err:
        if isinstance(err, WeightsError):
            raise
        raise WeightsError(f"{path.name}: not a readable safetensors file ({err})") from err
    own = model.state_dict()
    bad_shape = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected or bad_shape:
        raise WeightsError(
            f"{path.name} does not fit {type(model).__name__}: "
            f"missing={missing[:5]} unexpected={unexpected[:5]} wrong shape={bad_shape[:5]}"
        )
    with torch.no_grad():
        model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    log.debug("loaded %s (%s)", path.name, info.name)
    return info


def write_manifest(
    folder: Path,
    default_ensemble: list[str],
    voting_weights: dict[str, float] | None = None,
    cascade: dict[str, Any] | None = None,
    *,
    keep_available: bool = False,
) -> dict[str, Any]:
    """Rebuild ``MANIFEST.json`` of a weights folder from its files' own metadata.

    Every ``*.safetensors`` file is listed under its ``arch.tag`` with its sha256, size, metrics
    and training command, and with its ONNX graph (``arch.tag.onnx``, :mod:`handocr.models.runtime`)
    when there is one. The default tag of an arch is its member of ``default_ensemble``, else
    its first file in name order.

    Parameters
    ----------
    folder : Path
    default_ensemble : list of str
        ``arch.tag`` names of the default ensemble, in voting order.
    voting_weights : dict of str to float, optional
        Fitted voting weights of the default ensemble (``handocr fit-ensemble``); when omitted,
        those of the existing manifest are kept if they cover exactly ``default_ensemble``.
    cascade : dict, optional
        The fitted cascade of the default ensemble (``members``, ``first``, ``margin``, ...;
        :func:`handocr.train.calibrate.fit_cascade`); kept from the existing manifest like
        ``voting_weights`` when omitted.
    keep_available : bool, default False
        Drop default members whose file is gone instead of raising (with their fitted voting
        weights and cascade, which no longer cover the ensemble).

    Returns
    -------
    dict
        The manifest written.

    Raises
    ------
    WeightsError
        A file has no valid metadata, or a default member has no file.
    """
    from safetensors import safe_open

    entries: dict[str, Any] = {}
    defaults: dict[str, str] = {}
    for path in member_files(folder):
        with safe_open(str(path), framework="numpy") as fh:
            info = WeightsInfo.from_metadata(fh.metadata(), source=path.name)
        entries[info.name] = {
            "file": path.name,
            "sha256": file_sha256(path),
            "bytes": path.stat().st_size,
            "metrics": info.metrics,
            "command": info.train.get("config", {}).get("command"),
            "data_sha256": info.train.get("data_sha256"),
        }
        graph = path.with_suffix(".onnx")
        if graph.is_file():  # written by `handocr export-onnx` (handocr.models.runtime)
            entries[info.name]["graph"] = {
                "file": graph.name,
                "sha256": file_sha256(graph),
                "bytes": graph.stat().st_size,
            }
        defaults.setdefault(info.arch, info.name)
    missing = [n for n in default_ensemble if n not in entries]
    if missing and keep_available:
        log.warning("default ensemble members without a file, dropped: %s", missing)
        default_ensemble = [n for n in default_ensemble if n in entries]
    elif missing:
        raise WeightsError(f"default ensemble members without a file in {folder}: {missing}")
    for name in reversed(default_ensemble):  # a member of the default ensemble wins
        defaults[name.partition(".")[0]] = name
    old = load_manifest(folder) if (folder / MANIFEST).is_file() else None
    if voting_weights is None and old is not None:
        voting_weights = dict(old.voting_weights)
    if cascade is None and old is not None and old.cascade is not None:
        cascade = dict(old.cascade.fit)
    manifest: dict[str, Any] = {
        "schema": 1,
        "default_ensemble": list(default_ensemble),
        "default_tags": defaults,
        "weights": entries,
    }
    if voting_weights and set(voting_weights) == set(default_ensemble):
        manifest["voting_weights"] = {n: voting_weights[n] for n in default_ensemble}
    if cascade and set(cascade.get("members", [])) == set(default_ensemble):
        manifest["cascade"] = cascade
    manifest |= _kept_entries(folder, default_ensemble)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _kept_entries(folder: Path, default_ensemble: list[str]) -> dict[str, Any]:
    """Return the entries a manifest rewrite keeps as they are: line members, fusion, verifier.

    Warns when the verifier was fitted for members other than ``default_ensemble`` (it is kept:
    reading still uses it, but ``handocr fit-verifier`` should refit it).
    """
    if not (folder / MANIFEST).is_file():
        return {}
    raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    keys = ("line_members", "default_line_members", "fusion", "verifier")
    kept = {key: raw[key] for key in keys if key in raw}
    fitted_for = kept.get("verifier", {}).get("members")
    if fitted_for is not None and set(fitted_for) != set(default_ensemble):
        log.warning(
            "the verifier was fitted for %s, the default ensemble is now %s: run "
            "`handocr fit-verifier` to refit it",
            fitted_for,
            default_ensemble,
        )
    return kept


if __name__ == "__main__":  # python -m handocr.models.weights weights cnn.emnist47-v2 ...
    import sys

    write_manifest(Path(sys.argv[1]), sys.argv[2:])


def set_manifest_entry(folder: Path, key: str, value: Any) -> None:
    """Set one top-level entry of a folder's ``MANIFEST.json`` (e.g. ``fusion``), atomically.

    Raises
    ------
    WeightsError
        The manifest is missing or unreadable.
    """
    path = folder / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise WeightsError(f"{path}: unreadable manifest ({err})") from err
    raw[key] = value
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def set_verifier_entry(
    folder: Path,
    members: Sequence[str],
    *,
    report: dict[str, Any] | None = None,
    command: str | None = None,
    file: str = VERIFIER_FILE,
) -> VerifierEntry:
    """List the segmentation search's verifier in a folder's ``MANIFEST.json``.

    The entry ``verifier`` records the file, its sha256 and size, the character members it
    was fitted for, the fitting report and the command (``handocr fit-verifier`` writes it);
    :func:`handocr.models.loader.load_verifier` checks the file against it.

    Parameters
    ----------
    folder : Path
        The weights folder, holding ``file`` and ``MANIFEST.json``.
    members : sequence of str
        ``"arch.tag"`` names of the ensemble whose votes the verifier was fitted on.
    report : dict, optional
        The fitting report (JSON-ready).
    command : str, optional
        The command line that fitted it.
    file : str, default :data:`~handocr.models.manifest.VERIFIER_FILE`
        The verifier's file name inside ``folder``.

    Returns
    -------
    VerifierEntry
        The entry written.

    Raises
    ------
    WeightsError
        The file or the manifest is missing or unreadable, or ``members`` is empty.
    """
    path = folder / file
    if not path.is_file():
        raise WeightsError(f"verifier file not found: {path}")
    if not members:
        raise WeightsError("a verifier entry needs the members it was fitted for")
    entry = VerifierEntry(
        file,
        file_sha256(path),
        tuple(members),
        path.stat().st_size,
        dict(report or {}),
        command,
    )
    set_manifest_entry(folder, "verifier", entry.to_dict())
    return entry


def member_files(folder: Path) -> list[Path]:
    """Return the members' weights files of a folder, sorted by name.

    Every ``*.safetensors`` but the segmentation search's verifier
    (:data:`handocr.models.manifest.VERIFIER_FILE`).
    """
    return sorted(p for p in folder.glob("*.safetensors") if p.name != VERIFIER_FILE)


def refresh_manifest(folder: Path) -> bool:
    """List the weights files a folder holds now, keeping what still fits of the manifest.

    Run before fitting or exporting a member that was copied into the folder after the manifest
    was written (``handocr fit-ensemble``, ``handocr export-onnx`` do): the default ensemble
    keeps its members whose files are still there, and its voting weights and cascade when
    every member is. Nothing is written when the manifest already lists exactly the folder's
    weights files.

    Returns
    -------
    bool
        Whether ``MANIFEST.json`` was rewritten.

    Raises
    ------
    WeightsError
        A file has no valid metadata.
    """
    old = load_manifest(folder) if (folder / MANIFEST).is_file() else None
    files = {p.name for p in member_files(folder)}
    if old is not None and files == {e.file for e in old.weights.values()}:
        return False
    members = list(old.default_ensemble) if old is not None else []
    write_manifest(folder, members, keep_available=True)
    return True
