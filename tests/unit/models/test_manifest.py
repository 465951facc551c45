"""MANIFEST.json as typed objects: parsing, lookups, the cache, and malformed files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from handocr.errors import WeightsError
from handocr.models.manifest import (
    WEIGHTS_ENV,
    FittedCascade,
    GraphEntry,
    Manifest,
    WeightsEntry,
    load_manifest,
    split_name,
    weights_dir,
)
from tests.helpers import WEIGHTS

RAW = {
    "schema": 1,
    "default_ensemble": ["cnn.a", "resnet10t.b"],
    "default_tags": {"cnn": "cnn.a", "resnet10t": "resnet10t.b"},
    "weights": {
        "cnn.a": {
            "file": "cnn.a.safetensors",
            "sha256": "aa",
            "metrics": {"temperature": 1.5},
            "graph": {"file": "cnn.a.onnx", "sha256": "ga", "bytes": 123},
        },
        "resnet10t.b": {"file": "resnet10t.b.safetensors", "sha256": None},
    },
    "voting_weights": {"cnn.a": 0.25, "resnet10t.b": 0.75},
    "cascade": {"members": ["cnn.a", "resnet10t.b"], "first": "cnn.a", "margin": 0.3},
}


def _write(folder: Path, raw: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MANIFEST.json").write_text(json.dumps(raw))
    return folder


def test_manifest_parses_into_typed_immutable_entries(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path / "w", RAW))
    assert isinstance(m, Manifest) and m.folder == tmp_path / "w"
    assert m.default_ensemble == ("cnn.a", "resnet10t.b")
    assert m.voting_weights == {"cnn.a": 0.25, "resnet10t.b": 0.75}
    a = m.weights["cnn.a"]
    assert isinstance(a, WeightsEntry) and a.arch == "cnn" and a.metrics["temperature"] == 1.5
    assert a.graph == GraphEntry("cnn.a.onnx", "ga", 123)
    assert m.weights["resnet10t.b"].graph is None and m.weights["resnet10t.b"].sha256 is None
    assert m.path(a) == tmp_path / "w" / "cnn.a.safetensors"
    assert m.path(a.graph) == tmp_path / "w" / "cnn.a.onnx"
    assert m.cascade == FittedCascade(
        ("cnn.a", "resnet10t.b"), (("cnn.a",), ("resnet10t.b",)), (0.3,), m.cascade.fit
    )
    assert m.cascade.fit["margin"] == 0.3
    with pytest.raises(TypeError):
        m.weights["x"] = a  # type: ignore[index]


def test_entry_lookup_by_arch_or_name(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path / "w", RAW))
    assert m.entry("cnn") is m.weights["cnn.a"] and m.entry("cnn.a") is m.weights["cnn.a"]
    with pytest.raises(WeightsError, match=r"no shipped weights for cnn\.b; have: cnn\.a"):
        m.entry("cnn.b")
    with pytest.raises(WeightsError, match="no shipped weights for vgg"):
        m.entry("vgg")


def test_a_multistage_cascade_and_a_bare_manifest(tmp_path: Path) -> None:
    staged = {
        **RAW,
        "cascade": {
            "members": ["cnn.a", "resnet10t.b"],
            "stages": [["resnet10t.b"], ["cnn.a"]],
            "margins": [0.2],
        },
    }
    m = load_manifest(_write(tmp_path / "s", staged))
    assert m.cascade.stages == (("resnet10t.b",), ("cnn.a",)) and m.cascade.margins == (0.2,)
    bare = load_manifest(_write(tmp_path / "b", {"weights": {}}))
    assert bare.default_ensemble == () and bare.cascade is None and dict(bare.voting_weights) == {}


def test_the_parsed_manifest_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    folder = _write(tmp_path / "w", RAW)
    first = load_manifest(folder)
    assert load_manifest(folder) is first  # read once
    path = folder / "MANIFEST.json"
    changed = {**RAW, "default_ensemble": ["cnn.a"]}
    path.write_text(json.dumps(changed))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later write
    again = load_manifest(folder)
    assert again is not first and again.default_ensemble == ("cnn.a",)
    assert load_manifest(folder) is again


@pytest.mark.parametrize(
    "raw",
    [
        {"weights": {"cnn.a": {"sha256": "aa"}}},  # no file
        {"weights": {"cnn.a": {"file": "f", "graph": {"file": "g"}}}},  # graph without sha256
        {"weights": {"cnn.a": "cnn.a.safetensors"}},  # an entry that is no object
        {"voting_weights": {"cnn.a": "heavy"}},
        {"cascade": {"members": ["cnn.a"], "margin": 0.3}},  # no first
        ["not", "an", "object"],
    ],
)
def test_malformed_manifest_is_a_weights_error(tmp_path: Path, raw: object) -> None:
    with pytest.raises(WeightsError, match="malformed manifest"):
        load_manifest(_write(tmp_path / "w", raw))


def test_missing_and_unreadable_manifests(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=rf"MANIFEST\.json not found \(is {WEIGHTS_ENV} set"):
        load_manifest(tmp_path)
    (tmp_path / "MANIFEST.json").write_text("{not json")
    with pytest.raises(WeightsError, match="unreadable manifest"):
        load_manifest(tmp_path)


def test_weights_dir_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    assert weights_dir() == tmp_path
    shutil.copy(WEIGHTS / "MANIFEST.json", tmp_path / "MANIFEST.json")
    assert load_manifest().folder == tmp_path
    monkeypatch.delenv(WEIGHTS_ENV)
    assert (weights_dir() / "MANIFEST.json").is_file()  # the packaged weights


def test_split_name() -> None:
    assert split_name("cnn.emnist47-v3") == ("cnn", "emnist47-v3")
    assert split_name("resnet18") == ("resnet18", None)
    assert split_name("cnn.") == ("cnn", None)
