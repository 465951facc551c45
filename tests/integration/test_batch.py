"""``handocr batch``: rows per page, error rows, resume, the local and the Ray engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr import ExitCode, recognize
from handocr.batch import page_key, run_batch


@pytest.fixture
def folder(tmp_path: Path, emnist_sample: Path) -> Path:
    """Six synthetic pages, a two-page TIFF and two corrupt files."""
    from PIL import Image

    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.synth import PageStyle, render_page

    s = load_emnist(emnist_sample, "pool47", "test")
    inputs = tmp_path / "in"
    inputs.mkdir()
    pages = []
    for k in range(6):
        page = render_page(s.images, to_label_space(s), PageStyle(lines=2), seed=k).image
        cv2.imwrite(str(inputs / f"p{k}.png"), page)
        pages.append(Image.fromarray(page))
    pages[0].save(inputs / "two.tif", save_all=True, append_images=pages[1:2])
    (inputs / "bad.png").write_bytes(b"not an image")
    (inputs / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    return inputs


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_local_batch_writes_a_row_per_page_and_an_error_row_per_bad_file(
    use_tiny_weights: Path, folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["batch", str(folder), "--output-dir", str(out), "--workers", "2", "-q"]
    )
    assert res.exit_code == ExitCode.PARTIAL, res.output
    summary = json.loads(res.stdout)
    assert (summary["inputs"], summary["pages"], summary["errors"], summary["read"]) == (9, 8, 2, 8)
    rows = rows_of(out)
    errors = [r for r in rows if r["error"]]
    assert sorted(Path(r["source"]).name for r in errors) == ["bad.pdf", "bad.png"]
    assert all(r["error"]["code"] == ExitCode.BAD_INPUT for r in errors)
    for r in rows:
        if r["error"] is None:  # the text of `handocr read` of that page
            doc = recognize(r["source"])
            assert r["text"] == doc.pages[r["page"] - 1].text
            page = json.loads((out / r["result"]).read_text())
            assert page["index"] == r["page"] - 1
    assert [r["page"] for r in rows if r["source"].endswith("two.tif")] == [1, 2]
    assert json.loads((out / "summary.json").read_text()) == summary


def test_a_killed_run_resumes_without_reading_finished_pages_again(
    use_tiny_weights: Path, folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = run_batch([folder], out, workers=1)
    assert first.read == 8
    lost = [page_key(str(folder / "p3.png"), 1), page_key(str(folder / "two.tif"), 2)]
    for key in lost:  # as if the run had died before writing these pages
        (out / "rows" / f"{key}.json").unlink()
    kept = out / "rows" / f"{page_key(str(folder / 'p0.png'), 1)}.json"
    before = kept.stat().st_mtime_ns
    again = run_batch([folder], out, workers=1)
    assert (again.read, again.skipped, again.pages) == (2, 6, 8)
    assert kept.stat().st_mtime_ns == before
    assert len(rows_of(out)) == 10


def test_bad_engine_and_workers_are_usage_errors(tmp_path: Path) -> None:
    from handocr.errors import OptionError

    with pytest.raises(OptionError, match="engine"):
        run_batch([tmp_path], tmp_path / "o", engine="spark")
    with pytest.raises(OptionError, match="workers"):
        run_batch([tmp_path], tmp_path / "o", workers=0)
    with pytest.raises(OptionError, match="stall_s"):
        run_batch([tmp_path], tmp_path / "o", engine="ray", stall_s=0)


def test_the_driver_s_watch_stops_a_stream_that_goes_quiet() -> None:
    """The backstop behind Ray's own no-progress timeout (and the stall check of older Rays)."""
    import threading

    from handocr.batch import _watch
    from handocr.errors import BatchStalledError

    release, closed = threading.Event(), threading.Event()

    def stream() -> Iterator[list[dict]]:
        try:
            yield [{"page": 1}]
            release.wait()  # a cluster that never returns the next file
            yield [{"page": 2}]
            yield [{"page": 3}]
        finally:
            closed.set()

    rows = _watch(stream(), 0.2, 0.2)
    assert next(rows) == [{"page": 1}]
    with pytest.raises(BatchStalledError, match=r"no row for 0\.2 s") as err:
        next(rows)
    assert err.value.exit_code == ExitCode.STALLED
    rows.close()
    release.set()  # the stream, when it moves again, is closed rather than read on
    assert closed.wait(5)


@pytest.fixture(scope="module")
def ray_2cpus(tiny_weights: Path) -> Iterator[Any]:
    """A local Ray instance with 2 logical CPUs (a 2-core machine), the tiny weights in its
    workers; shut down after this module's tests."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"HANDOCR_WEIGHTS": str(tiny_weights)}},
    )
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_with_as_many_actors_as_cpus_gives_the_local_engine_s_rows(
    ray_2cpus: Any, use_tiny_weights: Path, folder: Path, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    run_batch([folder], local, workers=1)
    # two actors on two CPUs: the read tasks reserve none, else they would wait forever
    summary = run_batch([folder], tmp_path / "ray", engine="ray", workers=2, stall_s=120)
    assert (summary.pages, summary.errors, summary.engine, summary.workers) == (8, 2, "ray", 2)
    assert rows_of(tmp_path / "ray") == rows_of(local)
    for row in rows_of(local):
        if row["result"] is not None:  # the same full result per page
            assert (tmp_path / "ray" / row["result"]).read_text() == (
                local / row["result"]
            ).read_text()


@pytest.mark.slow
def test_a_ray_batch_without_progress_stops_and_keeps_its_rows(
    ray_2cpus: Any, use_tiny_weights: Path, folder: Path, tmp_path: Path
) -> None:
    from handocr.errors import BatchStalledError

    out = tmp_path / "out"
    run_batch([folder / "p0.png"], out, workers=1)  # a row from an earlier run
    kept = out / "rows" / f"{page_key(str(folder / 'p0.png'), 1)}.json"
    before = kept.read_bytes()

    class Hog:  # holds every CPU, as other jobs on a busy cluster would
        def ready(self) -> bool:
            return True

    hog = ray_2cpus.remote(num_cpus=2)(Hog).remote()
    ray_2cpus.get(hog.ready.remote())
    try:
        with pytest.raises(BatchStalledError, match="no row for 3 s") as err:
            run_batch([folder], out, engine="ray", workers=2, stall_s=3)
    finally:
        ray_2cpus.kill(hog)
    assert err.value.exit_code == ExitCode.STALLED == 9
    assert kept.read_bytes() == before
    again = run_batch([folder], out, engine="ray", workers=2, stall_s=120)  # resumes
    assert (again.skipped, again.read, again.pages) == (1, 7, 8)


def test_a_failed_file_is_retried_and_its_error_row_replaced(
    use_tiny_weights: Path, folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run_batch([folder], out, workers=1).errors == 2
    fixed = folder / "p0.png"
    (folder / "bad.png").write_bytes(fixed.read_bytes())  # the file was repaired
    again = run_batch([folder], out, workers=1)
    assert (again.read, again.errors, again.pages) == (1, 1, 9)
    key = page_key(str(folder / "bad.png"), 1)
    assert (out / "rows" / f"{key}.json").is_file()
    assert not (out / "rows" / f"{key}.err.json").exists()
    assert len(rows_of(out)) == 10  # 9 pages and the PDF that is still broken


def test_rows_carry_the_page_s_own_number_under_a_page_range(
    use_tiny_weights: Path, folder: Path, tmp_path: Path
) -> None:
    from handocr.options import ReadOptions

    out = tmp_path / "out"
    run_batch([folder / "two.tif"], out, workers=1, options=ReadOptions(pages="2"))
    assert [r["page"] for r in rows_of(out)] == [2]
    again = run_batch([folder / "two.tif"], out, workers=1)  # page 1 is still to read
    assert again.read == 1 and [r["page"] for r in rows_of(out)] == [1, 2]


def test_batch_kind_option_reaches_the_reading(
    use_tiny_weights: Path, folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["batch", str(folder / "p0.png"), "--output-dir", str(out), "--kind", "printed", "-q"]
    res = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert res.exit_code == ExitCode.OK, res.output
    (row,) = rows_of(out)
    assert row["text"] == ""  # every word is handwritten until the classifier marks some printed
    assert json.loads((out / row["result"]).read_text())["lines"] == []
