"""The search's verifier in the manifest: written with its sha256 and members, checked on load."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from handocr import Recognizer
from handocr.errors import WeightsError
from handocr.models.loader import load_verifier
from handocr.models.manifest import MANIFEST, VERIFIER_FILE, load_manifest
from handocr.models.weights import file_sha256, member_files, set_verifier_entry, write_manifest
from handocr.segment import search
from handocr.segment.verifier import Verifier
from tests.conftest import point_weights
from tests.unit.segment.shapes import confidence_verifier


@pytest.fixture
def folder(tiny_weights: Path, tmp_path: Path) -> Path:
    """The tiny weights with a verifier file beside them (not yet listed)."""
    dst = tmp_path / "w"
    shutil.copytree(tiny_weights, dst)
    confidence_verifier(bias=1.0).save(dst / VERIFIER_FILE, '{"fitted": "test"}')
    return dst


def test_the_entry_records_the_file_its_sha256_and_members(folder: Path) -> None:
    entry = set_verifier_entry(
        folder, ["cnn.tiny", "cnn.tiny-b"], report={"val_f1": 0.5}, command="handocr fit-verifier"
    )
    manifest = load_manifest(folder)
    assert manifest.verifier == entry
    assert entry.sha256 == file_sha256(folder / VERIFIER_FILE)
    assert entry.members == ("cnn.tiny", "cnn.tiny-b") and entry.report == {"val_f1": 0.5}
    raw = json.loads((folder / MANIFEST).read_text())["verifier"]
    assert raw["file"] == VERIFIER_FILE and raw["bytes"] == (folder / VERIFIER_FILE).stat().st_size
    assert isinstance(load_verifier(manifest=manifest), Verifier)
    # rewriting the manifest keeps the entry; the verifier is never a member
    write_manifest(folder, ["cnn.tiny", "cnn.tiny-b"])
    assert load_manifest(folder).verifier == entry
    assert VERIFIER_FILE not in {p.name for p in member_files(folder)}


def test_a_tampered_or_missing_verifier_raises_weights_error(folder: Path) -> None:
    set_verifier_entry(folder, ["cnn.tiny"])
    confidence_verifier(bias=2.0).save(folder / VERIFIER_FILE)  # replaced after listing
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_verifier(manifest=load_manifest(folder))
    (folder / VERIFIER_FILE).unlink()
    with pytest.raises(WeightsError, match="not found"):
        load_verifier(manifest=load_manifest(folder))
    with pytest.raises(WeightsError, match="not found"):
        set_verifier_entry(folder, ["cnn.tiny"])


def test_a_malformed_entry_is_a_weights_error(folder: Path) -> None:
    set_verifier_entry(folder, ["cnn.tiny"])
    raw = json.loads((folder / MANIFEST).read_text())
    raw["verifier"]["members"] = []
    (folder / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(WeightsError, match="malformed manifest"):
        load_manifest(folder)
    with pytest.raises(WeightsError, match="members"):
        set_verifier_entry(folder, [])


def test_other_members_are_said_and_a_changed_default_ensemble_warns(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    set_verifier_entry(folder, ["cnn.tiny"])
    manifest = load_manifest(folder)
    with caplog.at_level(logging.INFO, logger="handocr.models.loader"):
        assert load_verifier(["cnn.tiny"], manifest=manifest) is not None
        assert not caplog.records
        assert load_verifier(["cnn.tiny-b"], manifest=manifest) is not None
    assert "fitted for ['cnn.tiny']" in caplog.text
    with caplog.at_level(logging.WARNING, logger="handocr.models.weights"):
        write_manifest(folder, ["cnn.tiny-b"])
    assert "fit-verifier" in caplog.text
    assert load_manifest(folder).verifier is not None  # kept: reading still finds it


def test_a_manifest_without_the_entry_reads_without_the_search(
    folder: Path, two_line_page: tuple[np.ndarray, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    page, _ = two_line_page
    point_weights(folder, monkeypatch)  # the file is there, the manifest does not list it
    assert load_manifest(folder).verifier is None and load_verifier() is None
    rec = Recognizer(device="cpu", line_models=())
    assert rec.verifier is None
    with mock.patch.object(search, "search_lattices", side_effect=AssertionError("searched")):
        text = rec.read(page).text
    assert text == rec.with_options(search=False).read(page).text
    # listed, the same file is loaded and searched with
    set_verifier_entry(folder, ["cnn.tiny"])
    point_weights(folder, monkeypatch)
    listed = Recognizer(device="cpu", line_models=())
    assert isinstance(listed.verifier, Verifier)
    with mock.patch.object(search, "search_lattices", wraps=search.search_lattices) as spy:
        listed.read(page)
    assert spy.called
