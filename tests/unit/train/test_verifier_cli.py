"""``handocr fit-verifier`` writes the verifier and lists it in the folder's manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from handocr.models.loader import load_verifier
from handocr.models.manifest import VERIFIER_FILE, load_manifest
from handocr.models.weights import file_sha256
from tests.conftest import point_weights


@pytest.mark.slow
def test_fit_verifier_lists_the_file_with_its_members(
    tiny_weights: Path,
    emnist_sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from handocr_cli.fit import fit_verifier

    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    point_weights(folder, monkeypatch)
    fit_verifier(data=emnist_sample, split="pool47", pages=3, val_pages=2, boxes=None, hidden=0)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = load_manifest(folder)
    entry = manifest.verifier
    assert entry is not None and entry.file == VERIFIER_FILE
    assert entry.sha256 == file_sha256(folder / VERIFIER_FILE)
    assert entry.members == manifest.default_ensemble and entry.report == report
    assert entry.command is not None and entry.command.startswith("handocr ")
    assert load_verifier(manifest=manifest) is not None
