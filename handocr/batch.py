"""Batch reading of many files into an output folder, on a process pool or on Ray Data.

The work is one unit per input file (its pages read in order); results come back per page and
the driver writes each page's row atomically as it arrives:

- ``rows/<key>.json`` (``rows/<key>.err.json`` for an error): one row per page,
  ``{"source", "page", "text", "confidence", "result", "error"}`` (``page`` 1-based;
  ``result`` the path, relative to the output folder, of the page's full result as JSON,
  ``pages/<key>.json``, in the schema of
  docs/result-schema.md); a file or page that cannot be read is a row whose ``error`` is
  ``{"code", "type", "message"}`` (the exit code of docs/errors.md), never a failed job;
- at the end ``results.jsonl`` (every row, in input and page order) and ``summary.json``
  (counts, seconds, pages per second, engine, workers), both written atomically.

A re-run with the same output folder skips every page whose row already exists (resume after a
crash or a kill: finished pages are not read again; a file's error row is retried). ``key`` is
the first 16 hex digits of the SHA-256 of the input's absolute path (symbolic links not
resolved: two links to one file are two inputs), then the page number.

Engines: ``local``, a :class:`concurrent.futures.ProcessPoolExecutor` whose workers each hold
one :class:`handocr.Recognizer` (the models load once per worker); ``ray``, Ray Data (the
paths, ``from_items`` in the driver, so no read task waits for a CPU -> ``map_batches`` with a
callable class holding one ``Recognizer`` per actor and reading each file as the local workers
do, ``compute=ActorPoolStrategy``, one CPU per actor or an equal share when there are more
actors than CPUs), errors captured per row (extra ``handocr[ray]``). A Ray run that writes no
row for ``stall_s`` seconds is stopped with :class:`handocr.errors.BatchStalledError` (exit
code 9); its rows stay for a re-run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from handocr.errors import (
    BatchStalledError,
    HandocrError,
    MissingExtraError,
    OptionError,
    exit_code_for,
)
from handocr.options import ReadOptions

__all__ = ["DEFAULT_STALL_S", "ENGINES", "BatchSummary", "page_key", "read_file", "run_batch"]

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
"""Batch engines (``handocr batch --engine``)."""

Row = dict[str, Any]

DEFAULT_STALL_S = 600.0
"""Seconds a Ray batch may write no row before it stops (``run_batch(stall_s=...)``)."""

_RAY_GRACE_S = 30.0  # the driver's backstop waits this much longer than Ray's own timeout
_MAX_BLOCKS = 10_000  # Ray engine: input blocks at most (one file each below that)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a batch run did (written as ``summary.json``).

    Attributes
    ----------
    inputs : int
        Files given (after expanding folders).
    pages : int
        Page rows in ``results.jsonl`` (read now or in an earlier run).
    read : int
        Pages read by this run.
    skipped : int
        Pages skipped because an earlier run had written them.
    errors : int
        Error rows.
    seconds : float
        Wall time of this run.
    pages_per_second : float
        ``read / seconds``.
    engine : str
    workers : int
    exit_code : int
        The run's exit code from its error rows (:func:`handocr.errors.exit_code_for`): 0, 6
        when some rows are errors, 3 when every row is, or a model error's own code.
    """

    inputs: int
    pages: int
    read: int
    skipped: int
    errors: int
    seconds: float
    pages_per_second: float
    engine: str
    workers: int
    exit_code: int = 0


def page_key(source: str, page: int) -> str:
    """Return the file stem of a page's row: path hash and 1-based page number."""
    digest = hashlib.sha256(str(Path(source).absolute()).encode("utf-8")).hexdigest()[:16]
    return f"{digest}-p{page:05d}"


def _error(source: str, page: int, err: BaseException) -> Row:
    code = err.exit_code if isinstance(err, HandocrError) else 1
    return {
        "source": source,
        "page": page,
        "text": None,
        "confidence": None,
        "result": None,
        "error": {"code": int(code), "type": type(err).__name__, "message": str(err)},
    }


def read_file(
    recognizer: Any,
    source: str,
    data: bytes | None = None,
    done: frozenset[int] = frozenset(),
    on_row: Callable[[Row], None] | None = None,
) -> list[Row]:
    """Read every page of one file not in ``done``; one row per page (see the module docstring).

    Parameters
    ----------
    recognizer : Recognizer
    source : str
        The file's path (its label in the rows).
    data : bytes, optional
        The file's content, when already read; else the path is read.
    done : frozenset of int
        1-based pages already written, skipped.
    on_row : callable, optional
        Called with each row as soon as its page is read (then nothing is returned): the local
        engine's workers write each page's row at once, so a kill loses at most the pages in
        flight.

    Returns
    -------
    list of dict
        Rows with the page's full result under ``"page_result"`` (written to
        ``pages/<key>.json``); an unreadable file or page gives an error row at the page it
        stopped on, and the pages before it are still returned. Empty with ``on_row``.
    """
    from dataclasses import replace

    rows: list[Row] = []
    page, busy = 0, False  # the page last taken up, and whether it was being read

    def keep(row: Row) -> None:
        if on_row is not None:
            on_row(row)
        else:
            rows.append(row)

    try:
        records = recognizer.stream(
            [data if data is not None else source], errors="report", skip=done
        )
        for record in records:
            page, busy = record.number, True
            if record.error is not None:
                keep(_error(source, page, record.error))
                continue
            if record.page is None:  # no page of the file was selected
                continue
            # the row's page is the file's own page number (a page range may skip some)
            read = replace(record.page, index=page - 1, source=Path(source).name)
            chars = [c.confidence for line in read.lines for c in line.all_chars()]
            keep(
                {
                    "source": source,
                    "page": page,
                    "text": read.text,
                    "confidence": round(sum(chars) / len(chars), 4) if chars else None,
                    "result": None,
                    "error": None,
                    "page_result": read.to_dict(),
                }
            )
            busy = False
    except Exception as err:  # one bad file is a row, never a failed batch
        keep(_error(source, page if busy else page + 1, err))
    return rows


class _Writer:
    """Writes rows and page results atomically as they arrive; counts what it wrote."""

    def __init__(self, out: Path) -> None:
        self.out = out
        (out / "rows").mkdir(parents=True, exist_ok=True)
        (out / "pages").mkdir(parents=True, exist_ok=True)
        self.read = 0

    def done_pages(self, sources: Sequence[str]) -> dict[str, frozenset[int]]:
        """Per source, its pages with a row that is not an error (an error is retried).

        One pass over the row files' names (no file is opened: an error row's name ends in
        ``.err.json``), so resuming a large run costs one directory listing.
        """
        by_stem: dict[str, set[int]] = {}
        for path in (self.out / "rows").iterdir():
            name = path.name
            if name.endswith(".json") and not name.endswith(".err.json"):
                stem, _, page = name[: -len(".json")].rpartition("-p")
                if page.isdigit():
                    by_stem.setdefault(stem, set()).add(int(page))
        return {s: frozenset(by_stem.get(page_key(s, 1)[:16], ())) for s in sources}

    def write(self, row: Row) -> None:
        from handocr.io import write_text_atomic

        key = page_key(row["source"], int(row["page"]))
        result = row.pop("page_result", None)
        if result is not None:
            name = f"pages/{key}.json"
            write_text_atomic(self.out / name, json.dumps(result, ensure_ascii=False))
            row["result"] = name
            self.read += 1
        rows = self.out / "rows"
        if row.get("error") is None:
            write_text_atomic(rows / f"{key}.json", json.dumps(row, ensure_ascii=False))
            (rows / f"{key}.err.json").unlink(missing_ok=True)  # an earlier failure, now read
        else:
            write_text_atomic(rows / f"{key}.err.json", json.dumps(row, ensure_ascii=False))


_WORKER: dict[str, Any] = {}


def _init_worker(options: ReadOptions, out: Path) -> None:
    from handocr.api import Recognizer

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER["rec"] = Recognizer(options)
    _WORKER["writer"] = _Writer(out)


def _work(source: str, done: frozenset[int]) -> list[Row]:
    """Read one file in a worker, writing each page's row as it is read.

    Returns the rows without their page results (the driver only counts them).
    """
    written: list[Row] = []

    def write(row: Row) -> None:
        _WORKER["writer"].write(row)
        written.append(row)

    read_file(_WORKER["rec"], source, done=done, on_row=write)
    return written


def _local(
    todo: list[tuple[str, frozenset[int]]], options: ReadOptions, workers: int, out: Path
) -> Iterator[list[Row]]:
    if workers == 1:
        _init_worker(options, out)
        for source, done in todo:
            yield _work(source, done)
        return
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(options, out))
    try:
        futures = [pool.submit(_work, source, done) for source, done in todo]
        for future in as_completed(futures):
            yield future.result()
    finally:  # an error of the driver (a full disk) does not wait for the whole queue
        pool.shutdown(wait=True, cancel_futures=True)


class _RayReader:
    """Ray Data callable class: one Recognizer per actor; reads whole files, a row per page.

    The actor reads each file from its path, with the local engine's code, so its rows are
    the local engine's rows; relative paths resolve against the driver's working folder
    (which, like the inputs, every node must see).
    """

    def __init__(self, options: ReadOptions, done: dict[str, frozenset[int]], cwd: str) -> None:
        from handocr.api import Recognizer

        if Path(cwd).is_dir():  # this actor's own process
            os.chdir(cwd)
        self.rec = Recognizer(options)
        self.done = done

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        rows: list[str] = []
        for item in batch["source"]:
            source = str(item)
            out = read_file(self.rec, source, done=self.done.get(source, frozenset()))
            rows += [json.dumps(r, ensure_ascii=False) for r in out]
        return {"row": rows}


def _ray_session(address: str | None) -> Any:
    """Return the ``ray`` module, connected (to ``address``, unless it already was)."""
    try:
        import ray
    except ImportError as err:
        raise MissingExtraError('--engine ray needs Ray: pip install "handocr[ray]"') from err
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def _actor_cpus(ray: Any, workers: int) -> float:
    """CPUs each reading actor reserves: one, or an equal share of the cluster's if fewer.

    Nothing else in the dataset needs a CPU (:func:`_sources`), so ``workers`` actors up to
    the cluster's CPUs may take every CPU. A cluster that reports no CPUs yet
    (an autoscaling head) gets one per actor.
    """
    cpus = float(ray.cluster_resources().get("CPU", 0.0))
    if cpus <= 0 or workers <= cpus:
        return 1.0
    return int(cpus / workers * 1000) / 1000  # rounded down: the shares never exceed the CPUs


def _sources(ray: Any, todo: list[tuple[str, frozenset[int]]]) -> Any:
    """Return a dataset of ``{"source": path}``, one file per block (``_MAX_BLOCKS`` at most).

    The paths are the blocks, made in the driver: no read task waits for a CPU that the
    actors hold (``read_binary_files``' 1-CPU tasks did, ray-project/ray#44687: a 2-core
    machine with ``--workers 2`` hung). An actor returns a block's rows when it has read the
    whole block, so small blocks keep the rows (and the stall clock) moving.
    """
    import inspect

    make = ray.data.from_items
    blocks = min(len(todo), _MAX_BLOCKS)
    named = "override_num_blocks" in inspect.signature(make).parameters  # Ray >= 2.10
    return make(
        [{"source": s} for s, _ in todo],
        **({"override_num_blocks": blocks} if named else {"parallelism": blocks}),
    )


def _stalled(stall_s: float) -> BatchStalledError:
    return BatchStalledError(
        f"the Ray batch wrote no row for {stall_s:g} s and was stopped; the rows written are "
        "kept and the same command run again resumes. Check that the cluster has CPUs for "
        "the actors (`ray status`), or raise the stall timeout for files that take longer"
    )


def _watch(batches: Iterator[list[Row]], stall_s: float, wait_s: float) -> Iterator[list[Row]]:
    """Yield ``batches``, pulled in a thread; stop after ``wait_s`` seconds without one.

    The clock runs while the caller waits for the next batch, that is from the moment the
    previous rows were written. Ray Data's own no-progress timeout (``stall_s`` where Ray
    has it; then ``wait_s`` is a later backstop) raises ``ExecutionTimeoutError`` and ends
    Ray's work itself; it is turned into the stall error. The backstop cannot stop Ray's
    work (``ray.shutdown()`` beside a running iterator makes Ray Data start a new local Ray):
    the command line exits, which ends it; a Python caller may call ``ray.shutdown()``.

    Raises
    ------
    BatchStalledError
        No batch for ``wait_s`` seconds, or Ray's timeout.
    """
    import queue
    import threading

    items: queue.Queue[Any] = queue.Queue()
    end, closed = object(), threading.Event()

    def pump() -> None:
        try:
            for batch in batches:
                if closed.is_set():  # the caller stopped (an error): end Ray's work too
                    break
                items.put(batch)
            items.put(end)
        except BaseException as err:  # handed to the caller's thread
            items.put(err)
        finally:
            getattr(batches, "close", lambda: None)()  # Ray Data's iterator stops its executor

    threading.Thread(target=pump, name="handocr-ray-rows", daemon=True).start()
    try:
        while True:
            try:
                item = items.get(timeout=wait_s)
            except queue.Empty:
                raise _stalled(stall_s) from None
            if item is end:
                return
            if isinstance(item, BaseException):
                if type(item).__name__ == "ExecutionTimeoutError":  # Ray's no-progress timeout
                    raise _stalled(stall_s) from item
                raise item
            yield item
    finally:
        closed.set()


def _ray(
    todo: list[tuple[str, frozenset[int]]],
    options: ReadOptions,
    workers: int,
    address: str | None,
    stall_s: float,
) -> Iterator[list[Row]]:
    ray = _ray_session(address)
    if not todo:
        return
    rows = _sources(ray, todo).map_batches(
        _RayReader,
        fn_constructor_kwargs={"options": options, "done": dict(todo), "cwd": str(Path.cwd())},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=_actor_cpus(ray, workers),
    )
    context: Any = getattr(rows, "context", None)
    wait_s = stall_s
    if hasattr(context, "execution_no_progress_timeout_s"):  # Ray stops its own work
        context.execution_no_progress_timeout_s = stall_s
        wait_s += _RAY_GRACE_S
    batches = (  # each finished block's rows as soon as it is out
        [json.loads(r) for r in batch["row"]]
        for batch in rows.iter_batches(batch_size=None, batch_format="default")
    )
    yield from _watch(batches, stall_s, wait_s)


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    options: ReadOptions | None = None,
    recursive: bool = False,
    progress: Callable[[int, int], None] | None = None,
    stall_s: float = DEFAULT_STALL_S,
) -> BatchSummary:
    """Read files, folders and PDFs page by page into ``output_dir`` (module docstring).

    Parameters
    ----------
    inputs : sequence of path
        Files and folders (``handocr.io.expand_inputs``).
    output_dir : path
        Created if missing; an earlier run's rows there are kept and their pages skipped.
    engine : {"local", "ray"}
    workers : int, optional
        Worker processes or Ray actors (default: the CPU count, at most the number of files).
    address : str, optional
        Ray cluster address (``ray.init(address=...)``); default a local Ray instance.
    options : ReadOptions, optional
        How pages are read (as ``handocr read``).
    recursive : bool
        Also read sub-folders.
    progress : callable, optional
        ``progress(files_done, files_total)``.
    stall_s : float, default 600
        Ray engine: stop after this many seconds without a row written (Ray returns a
        file's rows when the whole file is read, so give it more than the slowest file's
        time; model loading and actor start-up count too).

    Returns
    -------
    BatchSummary

    Raises
    ------
    OptionError
        Unknown engine or workers < 1.
    MissingExtraError
        ``engine="ray"`` without Ray installed.
    InputImageError
        No input files at all.
    OutputError
        The output folder cannot be written.
    BatchStalledError
        Ray engine: no row for ``stall_s`` seconds (Ray's work is stopped; the rows written
        stay for a re-run to resume from).
    """
    from handocr.io import expand_inputs, write_text_atomic

    if engine not in ENGINES:
        raise OptionError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if workers is not None and workers < 1:
        raise OptionError(f"workers must be >= 1, not {workers}")
    if not stall_s > 0:
        raise OptionError(f"stall_s must be > 0 seconds, not {stall_s}")
    options = options or ReadOptions()
    t0 = time.perf_counter()
    sources = expand_inputs(inputs, recursive=recursive)
    out = Path(output_dir)
    writer = _Writer(out)
    done = writer.done_pages(sources)
    skipped = sum(len(d) for d in done.values())
    todo = [(s, done[s]) for s in sources]
    n = min(len(todo), workers or os.cpu_count() or 1)
    batches: Iterable[list[Row]] = (
        _local(todo, options, max(1, n), out)
        if engine == "local"
        else _ray(todo, options, max(1, n), address, stall_s)
    )
    for finished, rows in enumerate(batches, start=1):
        for row in rows:
            if engine == "local":  # the worker wrote it already
                writer.read += row.get("result") is not None
            else:
                writer.write(row)
        if progress is not None:
            progress(finished, len(todo))
    pages, codes = _write_results(out, sources)
    seconds = time.perf_counter() - t0
    summary = BatchSummary(
        inputs=len(sources),
        pages=pages,
        read=writer.read,
        skipped=skipped,
        errors=len(codes),
        seconds=round(seconds, 3),
        pages_per_second=round(writer.read / seconds, 3) if seconds > 0 else 0.0,
        engine=engine,
        workers=max(1, n),
        exit_code=int(exit_code_for(codes, succeeded=pages)),
    )
    write_text_atomic(out / "summary.json", json.dumps(asdict(summary), indent=1) + "\n")
    return summary


@contextlib.contextmanager
def _atomic_lines(target: Path) -> Iterator[Any]:
    """Yield a text file written beside ``target`` and renamed into place when the block ends.

    Raises
    ------
    OutputError
        It cannot be written.
    """
    import tempfile

    from handocr.errors import OutputError
    from handocr.io import file_mode

    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as err:
        raise OutputError(f"{target}: cannot write ({err})") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        Path(tmp).chmod(file_mode())
        Path(tmp).replace(target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write ({err})") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_results(out: Path, sources: Sequence[str]) -> tuple[int, list[int]]:
    """Write ``results.jsonl`` from the row files; return the page rows and the error codes."""
    pages, codes = 0, []
    with _atomic_lines(out / "results.jsonl") as fh:  # streamed: rows are never all in memory
        for row in _collect(out, sources):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            if row.get("error") is None:
                pages += 1
            else:
                codes.append(int(row["error"]["code"]))
    return pages, codes


def _collect(out: Path, sources: Sequence[str]) -> Iterator[Row]:
    """Every row of these sources, in input order then page order (one listing of rows/)."""
    files: dict[str, list[Path]] = {}
    for path in (out / "rows").iterdir():
        if path.name.endswith(".json"):
            files.setdefault(path.name[:16], []).append(path)
    for source in dict.fromkeys(sources):  # an input given twice is one set of rows
        found = [
            json.loads(p.read_text(encoding="utf-8"))
            for p in files.get(page_key(source, 1)[:16], [])
        ]
        yield from sorted(found, key=lambda r: (int(r["page"]), r.get("error") is not None))
