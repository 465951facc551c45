"""``--line-models`` and ``handocr fit-fusion`` with the shipped members."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr import Document, ExitCode, recognize
from tests.helpers import draw_text_page

runner = CliRunner()
pytestmark = pytest.mark.weights


@pytest.fixture(autouse=True)
def _shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDOCR_WEIGHTS", raising=False)
    from handocr import api

    api._cached.cache_clear()


@pytest.fixture
def fields(tmp_path: Path) -> Path:
    folder = tmp_path / "fields"
    folder.mkdir()
    rows = []
    for k, text in enumerate(["AB-12", "HELLO", "2024", "C/D", "XYZ"]):
        cv2.imwrite(str(folder / f"f{k}.png"), draw_text_page([text]))
        rows.append(f"f{k}.png\t{text}")
    (folder / "truth.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_line_models_none_reads_with_the_characters_alone(fields: Path) -> None:
    page = fields / "f0.png"
    res = runner.invoke(app, ["read", "-f", "json", "--line-models", "none", str(page)])
    assert res.exit_code == 0, res.output
    doc = Document.from_json(res.stdout)
    assert doc == Document.from_json(recognize(page, line_models="none").to_json())
    assert all(m.name != "ppocrv5-rec" for m in doc.models)
    fused = Document.from_json(runner.invoke(app, ["read", "-f", "json", str(page)]).stdout)
    assert "ppocrv5-rec" in [m.name for m in fused.models]
    voters = {v[0] for c in fused.pages[0].lines[0].all_chars() for v in c.votes}
    assert "ppocrv5-rec.mobile" in voters


def test_an_unknown_line_member_is_a_usage_error(fields: Path) -> None:
    res = runner.invoke(app, ["read", "--line-models", "nope.x", str(fields / "f0.png")])
    assert res.exit_code == ExitCode.USAGE
    assert res.stderr.startswith("handocr: --line-models: there are no line members named 'nope.x'")
    assert "crnn.lines-v1, ppocrv5-rec.mobile" in res.stderr and "Traceback" not in res.output


@pytest.mark.slow
def test_fit_fusion_reports_held_out_figures_without_writing(fields: Path) -> None:
    manifest = Path(__file__).parents[2] / "weights" / "MANIFEST.json"
    before = manifest.read_bytes()
    res = runner.invoke(
        app, ["fit-fusion", str(fields), "--dates", "0", "--rounds", "1", "--holdout", "0.4"]
    )
    assert res.exit_code == 0, res.output
    entry = json.loads(res.stdout)
    assert {"segment", "char", "line", "temperature", "report", "command"} <= set(entry)
    held = entry["report"]["default"]["held_out"]["fields"]
    assert {"cer_fused", "cer_characters", "cer_ppocrv5-rec.mobile"} <= set(held)
    assert manifest.read_bytes() == before  # only --write touches the manifest


def test_fit_fusion_needs_truth(tmp_path: Path) -> None:
    res = runner.invoke(app, ["fit-fusion", str(tmp_path), "--dates", "0"])
    assert res.exit_code == ExitCode.USAGE and "truth.tsv" in res.stderr
