"""The typer app: thin commands over the library. Results on stdout, diagnostics on stderr."""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from handocr.errors import ExitCode, HandocrError, OptionError, OutputError
from handocr.options import ReadOptions

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from handocr.result import Document, Page

__all__ = ["app", "main"]

log = logging.getLogger("handocr.cli")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Read handprinted block letters and digits from scanned pages.",
)


class VotingRule(str, Enum):
    """How the ensemble's members vote (:func:`handocr.ensemble.combine_votes`)."""

    WEIGHTED = "weighted"
    SOFT = "soft"
    HARD = "hard"


class OutputFormat(str, Enum):
    """Output formats of ``handocr read``."""

    TEXT = "text"
    JSON = "json"
    HOCR = "hocr"
    TSV = "tsv"
    ALTO = "alto"
    PAGE = "page"
    PDF = "pdf"
    CSV = "csv"


def configure_cli_logging(verbose: int, *, quiet: bool = False) -> None:
    """Send log records to stderr: warnings by default, info with -v, debug with -vv."""
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("handocr: %(message)s"))
    root = logging.getLogger("handocr")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _fail(err: HandocrError, verbose: int) -> typer.Exit:
    log.error("%s", err, exc_info=verbose > 0)
    return typer.Exit(code=int(err.exit_code))


def _progress_bar(
    total_hint: str, *, enabled: bool = True
) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """Return a rich progress bar on stderr when it is a terminal, else a no-op."""
    if not enabled or not sys.stderr.isatty():
        return (lambda done, total: None), (lambda: None)
    from rich.console import Console
    from rich.progress import Progress

    prog = Progress(console=Console(stderr=True), transient=True)
    task = prog.add_task(total_hint, total=None)
    prog.start()

    def update(done: int, total: int) -> None:
        prog.update(task, completed=done, total=total)

    return update, prog.stop


def _options(**given: Any) -> ReadOptions:
    """Build the reading options from parsed arguments; a bad value ends with USAGE (2)."""
    try:
        return ReadOptions.of(**given)
    except OptionError as err:
        log.error("%s", err)
        raise typer.Exit(code=int(err.exit_code)) from None


TrainingData = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(help="EMNIST IDX folder (default: the training one, then $HANDOCR_DATA)"),
]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")]
_D = ReadOptions()  # every reading option's default, from its one owner
_VOTING = VotingRule(_D.voting)

CharsetOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="restrict output: digits, upper, letters, alnum, or explicit characters"),
]
Binarize = Annotated[
    str, typer.Option(help="otsu (global, with hysteresis) or sauvola (local threshold)")
]
Deskew = Annotated[bool, typer.Option(help="level skewed multi-line pages before segmentation")]
LetterPrior = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="weight of the English letter-frequency prior: 1 Bayes' rule, 0 off (codes, "
        "serial numbers, alphabets)",
    ),
]
VotingOpt = Annotated[
    VotingRule,
    typer.Option(help="weighted (fitted weights), soft (equal weights) or hard (majority)"),
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        help="auto (ONNX Runtime on a CPU-only machine when graphs are shipped), onnx or torch",
    ),
]
CascadeOpt = Annotated[
    str,
    typer.Option(
        "--cascade",
        help="auto/fitted (cheap member first, the others only where it is unsure), off "
        "(every member reads every character), or a margin in [0, 1]",
    ),
]
Models = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional here on Python 3.10
    typer.Option("--model", "-m", help="member name[.tag]; repeat for several (default: shipped)"),
]
LineModels = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--line-models",
        help="line members (CTC readers of whole lines) fused with the character members, "
        "comma-separated arch.tag names; none: the character members read alone "
        "(default: the shipped ones)",
    ),
]


Inputs = Annotated[
    list[str], typer.Argument(help="image or PDF files, directories, or - for standard input")
]
Format = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="text, json, hocr, tsv, alto (ALTO 4.4), page (PAGE XML, one file per page) or "
        "pdf (the page images with an invisible text layer; images taken at --dpi)",
    ),
]
Output = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--output", "-o", help="write the result here instead of stdout"),
]
OutputDir = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(help="write one result per input into this folder (<name>.<format>)"),
]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="also read sub-directories")]
PageRanges = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--pages", help="pages of multi-page inputs, e.g. 1-3,7"),
]
Dpi = Annotated[int, typer.Option(min=1, help="PDF rendering resolution")]
Overlay = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(help="write one PNG per page with boxes and characters into this folder"),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="errors only on stderr")]
TemplateOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--template",
        help="read a form's fields by this template (JSON): output json (a line per page), "
        "csv (a row per page) or text",
    ),
]


@app.command()
def read(
    pages: Inputs,
    fmt: Format = OutputFormat.TEXT,
    output: Output = None,
    output_dir: OutputDir = None,
    recursive: Recursive = False,
    page_ranges: PageRanges = None,
    dpi: Dpi = _D.dpi,
    models: Models = None,
    line_models: LineModels = None,
    voting: VotingOpt = _VOTING,
    charset: CharsetOpt = None,
    deskew: Deskew = _D.deskew,
    binarize: Binarize = _D.binarize,
    overlay: Overlay = None,
    template: TemplateOpt = None,
    device: Device = _D.device,
    backend: BackendOpt = _D.backend,
    cascade: CascadeOpt = str(_D.cascade),
    letter_prior: LetterPrior = _D.letter_prior,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Read PAGES and print or write the text found (pages separated by a form feed).

    A file that cannot be read is reported on stderr and every other input is still read and
    written. Exit codes: 0 all read, 6 some inputs failed (the rest was written), 3 no input
    could be read, 4 weights unusable, 7 a result could not be written (docs/errors.md).
    """
    configure_cli_logging(verbose, quiet=quiet)
    from handocr.api import Recognizer
    from handocr.errors import exit_code_for
    from handocr.formats import NEEDS_IMAGES, output_files, render_bytes
    from handocr.io import expand_inputs, write_bytes_atomic
    from handocr.result import Document

    if output is not None and output_dir is not None:
        log.error("use either --output or --output-dir, not both")
        raise typer.Exit(code=int(ExitCode.USAGE))
    options = _options(
        models=tuple(models) if models else None, device=device, backend=backend,
        voting=voting.value, cascade=cascade, dpi=dpi, pages=page_ranges, binarize=binarize,
        deskew=deskew, charset=charset, letter_prior=letter_prior, line_models=line_models,
    )  # fmt: skip
    rec = Recognizer(options)
    if template is not None:
        _read_template(
            rec, template, pages, fmt.value, output, recursive=recursive, verbose=verbose
        )
        return
    if fmt.value == "csv":
        log.error("--format csv is the row-per-page output of --template")
        raise typer.Exit(code=int(ExitCode.USAGE))
    errors: list[HandocrError] = []
    docs: list[Document] = []
    kept = _PageImages(fmt.value in NEEDS_IMAGES)
    used_names: set[str] = set()
    images: list[bytes] = []
    update, stop = _progress_bar("reading", enabled=not quiet)
    try:
        inputs = expand_inputs(pages, recursive=recursive)
        hooks = [h for h in (_overlay_writer(overlay), kept.hook) if h is not None]
        for result in rec.read_inputs(
            inputs, errors="report", on_page=_chain(hooks), progress=update
        ):
            if result.error is not None:
                if not any(e is result.error for e in errors):  # a model error fails many
                    log.error("%s", result.error, exc_info=verbose > 0)
                errors.append(result.error)
                continue
            if result.document is None:
                continue
            page_images = kept.take(result.document)
            if output_dir is not None:
                name = "stdin" if result.source == "-" else Path(result.source).name
                if name in used_names:  # scans/2023/001.png and scans/2024/001.png
                    base, k = name, 2
                    while f"{base}~{k}" in used_names:
                        k += 1
                    name = f"{base}~{k}"
                    log.warning(
                        "%s: written as %s (another input has its name)", result.source, name
                    )
                used_names.add(name)
                for file, data in output_files(
                    result.document, fmt.value, name, page_images, dpi=dpi
                ):
                    write_bytes_atomic(output_dir / file, data)
            else:
                docs.append(result.document)
                images += page_images or []
        if output_dir is None and (docs or not errors):
            data = render_bytes(
                Document.concat(docs, rec.loaded_models), fmt.value, images, dpi=dpi
            )
            if output is not None:
                write_bytes_atomic(output, data)
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
    except HandocrError as err:
        raise _fail(err, verbose) from None
    finally:
        stop()
    code = exit_code_for(errors, succeeded=len(inputs) - len(errors))
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


@app.command()
def batch(
    inputs: Inputs,
    output_dir: Annotated[Path, typer.Option(help="folder of rows, page results and summary")],
    engine: Annotated[str, typer.Option(help="local (a process pool) or ray (Ray Data)")] = "local",
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="worker processes or Ray actors (default: the CPU count)"),
    ] = None,
    address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Ray cluster address (default: start a local Ray instance)"),
    ] = None,
    recursive: Recursive = False,
    page_ranges: PageRanges = None,
    dpi: Dpi = _D.dpi,
    charset: CharsetOpt = None,
    line_models: LineModels = None,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Read many files page by page into OUTPUT_DIR: a JSON row per page and a summary.

    Rows go to OUTPUT_DIR/rows/ as each page is read, then all of them to results.jsonl and
    the counts to summary.json (printed); a file that cannot be read is an error row. A re-run
    skips every page already written (resume). Exit codes: 0 all read, 6 some rows are errors,
    3 none could be read, 8 --engine ray without Ray (docs/errors.md).
    """
    configure_cli_logging(verbose, quiet=quiet)
    from dataclasses import asdict

    from handocr.batch import run_batch

    options = _options(dpi=dpi, pages=page_ranges, charset=charset, line_models=line_models)
    update, stop = _progress_bar("files", enabled=not quiet)
    try:
        summary = run_batch(
            inputs,
            output_dir,
            engine=engine,
            workers=workers,
            address=address,
            options=options,
            recursive=recursive,
            progress=update,
        )
    except HandocrError as err:
        raise _fail(err, verbose) from None
    finally:
        stop()
    typer.echo(json.dumps(asdict(summary)))
    if summary.errors:
        code = ExitCode.PARTIAL if summary.pages else ExitCode.BAD_INPUT
        raise typer.Exit(code=int(code))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes, each with its models")] = 1,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="largest upload, MB")] = 20.0,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="seconds per reading before 503")
    ] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="readings at once per process")] = 2,
    verbose: Verbose = 0,
) -> None:
    """Serve the web page and the HTTP API (POST /v1/read, GET /v1/models, GET /healthz).

    OpenAPI documentation at /docs. Needs the serve extra: pip install "handocr[serve]".
    """
    configure_cli_logging(verbose)
    import os

    _need_extra("handocr serve", verbose, ("fastapi", "multipart", "uvicorn"), "serve")
    import uvicorn

    os.environ["HANDOCR_MAX_UPLOAD_MB"] = str(max_upload_mb)
    os.environ["HANDOCR_TIMEOUT"] = str(timeout)
    os.environ["HANDOCR_CONCURRENCY"] = str(concurrency)
    uvicorn.run(
        "handocr.service:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning" if verbose == 0 else "info",
    )


@app.command()
def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="folder of the report")],
    data: TrainingData = None,
    split: Annotated[str, typer.Option(help="EMNIST split")] = "pool47",
    models: Models = None,
    pages: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="page sets (as eval-pages) for CER and an error gallery"),
    ] = None,
    history: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(help="history.csv of a training run (repeatable): its curves"),
    ] = None,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="evaluate at most this many test images"),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Write one HTML page (OUTPUT/index.html) with every plot of the members' quality.

    Data, training curves, per-class precision/recall/F1, confusion matrix, most-confused
    pairs, ROC and precision-recall curves with AUC, reliability before and after temperature
    scaling, member agreement, and with --pages each set's CER and its worst images.
    """
    configure_cli_logging(max(verbose, 1))
    _need_extra("handocr report", verbose, ("sklearn", "matplotlib", "jinja2"))
    from handocr.train.report import build_report

    try:
        index = build_report(
            output,
            data=str(data) if data else None,
            split=split,
            models=tuple(models) if models else None,
            pages=pages,
            histories=list(history or []),
            limit=limit,
        )
    except HandocrError as err:
        raise _fail(err, verbose) from None
    typer.echo(str(index))


def _need_extra(
    what: str,
    verbose: int,
    modules: tuple[str, ...] = ("torch", "timm", "sklearn"),
    extra: str = "train",
) -> None:
    """Exit with ``MISSING_EXTRA`` and the install hint when an extra's modules are missing."""
    from handocr.errors import require_extra

    try:
        require_extra(what, modules, extra)
    except HandocrError as err:
        raise _fail(err, verbose) from None


def _read_template(
    rec: Any,
    path: Path,
    pages: list[str],
    fmt: str,
    output: Path | None,
    *,
    recursive: bool,
    verbose: int,
) -> None:
    """``handocr read --template``: every page's fields as JSON lines, CSV rows or text."""
    from handocr.errors import exit_code_for
    from handocr.io import expand_inputs, write_text_atomic
    from handocr.template import forms_to_csv, load_template, read_forms

    if fmt not in ("json", "csv", "text"):
        log.error("--template writes json, csv or text, not %s", fmt)
        raise typer.Exit(code=int(ExitCode.USAGE))
    try:
        form = load_template(path)
        inputs = expand_inputs(pages, recursive=recursive)
        results = list(read_forms(rec, inputs, form))
    except HandocrError as err:
        raise _fail(err, verbose) from None
    errors = [r.error for r in results if r.error is not None]
    for failure in errors:
        log.error("%s", failure)
    if fmt == "csv":
        text = forms_to_csv(results, form)
    elif fmt == "json":
        text = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in results)
    else:
        text = "".join(
            f"{r.source}#{r.page + 1}\t{name}\t{f.text}\n"
            for r in results
            if r.fields
            for name, f in r.fields.items()
        )
    try:
        if output is not None:
            write_text_atomic(output, text)
        else:
            sys.stdout.write(text)
    except HandocrError as err:
        raise _fail(err, verbose) from None
    code = exit_code_for(errors, succeeded=len(results) - len(errors))
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


class _PageImages:
    """Keeps each page's image as PNG for the formats that embed them (``pdf``)."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.pending: dict[tuple[str | None, int], list[bytes]] = {}

    @property
    def hook(self) -> Callable[[Page, np.ndarray], None] | None:
        if not self.wanted:
            return None

        def keep(page: Page, image: np.ndarray) -> None:
            from handocr.formats.pdf import encode_page_image

            key = (page.source, page.index)
            self.pending.setdefault(key, []).append(encode_page_image(image))

        return keep

    def take(self, doc: Document) -> list[bytes] | None:
        """Return the images of ``doc``'s pages, in order (None when not kept)."""
        if not self.wanted:
            return None
        return [self.pending[p.source, p.index].pop(0) for p in doc.pages]


def _chain(
    hooks: list[Callable[[Page, np.ndarray], None]],
) -> Callable[[Page, np.ndarray], None] | None:
    """One ``on_page`` hook calling each of ``hooks`` in turn (None for none)."""
    if not hooks:
        return None

    def call(page: Page, image: np.ndarray) -> None:
        for hook in hooks:
            hook(page, image)

    return call


def _overlay_writer(folder: Path | None) -> Callable[[Page, np.ndarray], None] | None:
    """Return an ``on_page`` hook writing overlays into ``folder`` (a failed write warns)."""
    if folder is None:
        return None
    from handocr.overlay import write_overlay

    def write(page: Page, image: np.ndarray) -> None:
        try:
            write_overlay(folder, image, page)
        except OutputError as err:
            log.warning("%s", err)

    return write


@app.command()
def train(
    arch: Annotated[str, typer.Option(help="registered architecture, e.g. cnn or resnet18")],
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="EMNIST IDX folder (default: $HANDOCR_DATA)"),
    ] = None,
    split: Annotated[str, typer.Option(help="EMNIST split: pool47, balanced, bymerge...")] = (
        "pool47"
    ),
    out: Annotated[Path, typer.Option(help="output folder")] = Path("runs/train"),
    tag: Annotated[str, typer.Option(help="weights tag")] = "emnist47-v1",
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    lr: Annotated[float, typer.Option(help="peak OneCycle learning rate")] = 3e-3,
    weight_decay: Annotated[float, typer.Option(help="AdamW decoupled weight decay")] = 5e-4,
    label_smoothing: Annotated[float, typer.Option(help="in [0, 1)")] = 0.05,
    val_fraction: Annotated[
        float, typer.Option(help="share of train held out (stratified) for validation")
    ] = 0.05,
    ema: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="export an EMA of the weights with this decay, e.g. 0.999"),
    ] = None,
    patience: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="stop after this many epochs without a validation gain"),
    ] = None,
    seed: int = 0,
    time_budget: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="seconds; fewer epochs are run to fit it"),
    ] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads")] = None,  # noqa: UP045
    max_train: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="use at most this many training images"),
    ] = None,
    resume: Annotated[bool, typer.Option(help="continue from OUT/checkpoint.pt")] = False,
    precision: Annotated[
        str, typer.Option(help="auto, fp32 or bf16 (autocast for the training forward pass)")
    ] = "auto",
    init: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="fine-tune: start from these weights (.safetensors, same arch)"),
    ] = None,
    lowres: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="share of crops re-rendered at low resolution"),
    ] = 0.0,
    real: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            help="also train on real handprint in this folder (boxes.tsv, a folder per class, "
            "or images + truth.tsv aligned by handocr itself); repeatable"
        ),
    ] = None,
    real_share: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="share of each epoch drawn from --real crops")
    ] = 0.25,
    real_holdout: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="share of --real images held out and scored")
    ] = 0.1,
    min_agreement: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="weak labels: least share of glyphs agreeing"),
    ] = 0.5,
    synth_pages: Annotated[
        int,
        typer.Option(min=0, help="pages of pipeline-matched synthetic crops (EMNIST train glyphs)"),
    ] = 0,
    device: Device = "auto",
    classes: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="train on these classes only (a charset: digits, upper, letters...)"),
    ] = None,
    lines: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            help="--arch crnn: a folder of line images with truth.tsv (filename<TAB>text), "
            "e.g. your own writers; repeatable (--real folders are read the same way)"
        ),
    ] = None,
    steps: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="--arch crnn: optimiser steps (default: 500 per --epochs)"),
    ] = None,
    checkpoint_every: Annotated[
        int, typer.Option(min=1, help="--arch crnn: steps between validations and checkpoints")
    ] = 250,
    verbose: Verbose = 0,
) -> None:
    """Train one member on EMNIST (and real handprint) and write OUT/<arch>.<tag>.safetensors.

    With ``--arch crnn`` it trains the CTC line member instead, on synthetic EMNIST lines and
    the line folders of ``--real``/``--lines``, and also writes OUT/crnn.<tag>.onnx and .json.
    """
    configure_cli_logging(max(verbose, 1))
    _need_extra("handocr train", verbose)
    from handocr.models.crnn import LINE_ARCHS

    if arch in LINE_ARCHS:
        _train_line_member(
            arch=arch,
            data=data,
            split=split,
            out=out,
            tag="lines-v1" if tag == "emnist47-v1" else tag,
            steps=steps or 500 * epochs,
            batch_size=32 if batch_size == 256 else batch_size,
            lr=lr,
            weight_decay=weight_decay,
            seed=seed,
            folders=[*(real or ()), *(lines or ())],
            real_share=real_share,
            real_holdout=real_holdout,
            checkpoint_every=checkpoint_every,
            time_budget=time_budget,
            device=device,
            threads=threads,
            init=init,
            resume=resume,
            verbose=verbose,
        )
        return
    if lines or steps:
        raise _fail(OptionError("--lines and --steps are for line members (--arch crnn)"), verbose)
    from handocr.train.config import TrainConfig
    from handocr.train.fit import fit

    try:
        cfg = TrainConfig(
            arch=arch,
            data=str(data) if data else None,
            split=split,
            out_dir=str(out),
            tag=tag,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            label_smoothing=label_smoothing,
            val_fraction=val_fraction,
            ema=ema,
            patience=patience,
            seed=seed,
            time_budget_s=time_budget,
            device=device,
            threads=threads,
            max_train=max_train,
            precision=precision,
            init=str(init) if init else None,
            lowres=lowres,
            real=tuple(str(r) for r in real or ()),
            real_share=real_share,
            real_holdout=real_holdout,
            min_agreement=min_agreement,
            synth_pages=synth_pages,
            classes=classes,
        )
        update, stop = _progress_bar(f"training {arch}")
        try:
            result = fit(cfg, resume=resume, progress=update)
        finally:
            stop()
    except HandocrError as err:  # OptionError (exit 2) for a bad value, DataError, ...
        raise _fail(err, verbose) from None
    typer.echo(
        json.dumps({"weights": str(result.weights), "sha256": result.sha256, **result.metrics})
    )


def _train_line_member(
    *,
    arch: str,
    folders: list[Path],
    out: Path,
    data: Path | None,
    init: Path | None,
    resume: bool,
    verbose: int,
    **options: Any,
) -> None:
    """``handocr train --arch crnn``: train the CTC line member (:mod:`handocr.train.linefit`)."""
    from handocr.train.linefit import LineTrainConfig, fit_lines

    try:
        cfg = LineTrainConfig(
            arch=arch,
            data=str(data) if data else None,
            out_dir=str(out),
            lines=tuple(str(f) for f in folders),
            init=str(init) if init else None,
            time_budget_s=options.pop("time_budget"),
            **options,
        )
        update, stop = _progress_bar(f"training {arch}")
        try:
            result = fit_lines(cfg, resume=resume, progress=update)
        finally:
            stop()
    except HandocrError as err:
        raise _fail(err, verbose) from None
    typer.echo(
        json.dumps(
            {
                "weights": str(result.weights),
                "sha256": result.sha256,
                "onnx": str(result.graph),
                "onnx_sha256": result.graph_sha256,
                "json": str(result.description),
                **result.metrics,
            }
        )
    )


@app.command()
def calibrate(
    weights: Annotated[Path, typer.Argument(help="a .safetensors file written by train")],
    data: TrainingData = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="write here instead of replacing WEIGHTS"),
    ] = None,
    device: Device = "cpu",
    verbose: Verbose = 0,
) -> None:
    """Fit a member's temperature on its validation split (Guo et al. 2017) and store it."""
    configure_cli_logging(max(verbose, 1))
    _need_extra("handocr calibrate", verbose)
    from handocr.train.calibrate import calibrate_weights

    try:
        result = calibrate_weights(
            weights, data=str(data) if data else None, out=out, device=device
        )
    except HandocrError as err:
        raise _fail(err, verbose) from None
    typer.echo(json.dumps(result))


@app.command("fit-ensemble")
def fit_ensemble(
    members: Annotated[list[str], typer.Argument(help="arch.tag names of the members")],
    data: TrainingData = None,
    write: Annotated[
        bool,
        typer.Option(help="make MEMBERS the default ensemble with these weights in MANIFEST.json"),
    ] = False,
    device: Device = "cpu",
    verbose: Verbose = 0,
) -> None:
    """Fit the voting weights and the cascade of MEMBERS on their validation split.

    Weights minimise the log-loss; the cascade is the cheapest within 0.1 point of the full
    ensemble's accuracy.
    """
    configure_cli_logging(max(verbose, 1))
    _need_extra("handocr fit-ensemble", verbose)
    from handocr.models.manifest import weights_dir
    from handocr.models.weights import refresh_manifest, write_manifest
    from handocr.train.ensemble import fit_ensemble as fit

    try:
        refresh_manifest(weights_dir())  # members copied in since the manifest was written
        result = fit(list(members), data=str(data) if data else None, device=device)
        if write:
            write_manifest(
                weights_dir(), list(members), result["voting_weights"], result.get("cascade")
            )
            log.info("wrote %s", weights_dir() / "MANIFEST.json")
    except HandocrError as err:
        raise _fail(err, verbose) from None
    typer.echo(json.dumps(result))


@app.command("fit-verifier")
def fit_verifier(
    data: TrainingData = None,
    split: Annotated[
        str, typer.Option(help="EMNIST split whose train glyphs are laid out")
    ] = "pool47",
    pages: Annotated[int, typer.Option(min=1, help="synthetic pages to fit on")] = 150,
    val_pages: Annotated[
        int, typer.Option(min=1, help="synthetic pages to tune the bonus on")
    ] = 50,
    boxes: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(help="folder of scans with boxes.tsv (e.g. the ORAND-CAR train split)"),
    ] = None,
    boxes_charset: Annotated[
        str, typer.Option(help="charset the --boxes scans are read with")
    ] = "digits",
    holdout: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="share of --boxes images kept out (as train --real-holdout)"
        ),
    ] = 0.1,
    hidden: Annotated[int, typer.Option(min=0, help="hidden units (0: logistic regression)")] = 32,
    seed: int = 0,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="file to write (default: the weights folder's)"),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Fit the segmentation search's verifier ("is this candidate one character?").

    Synthetic pages of EMNIST train glyphs (and optional box-labelled scans) are read with the
    shipped ensemble up to each line's lattice of candidate glyphs; candidates matching a true
    box are positives, the rest negatives. Prints the fitting report as JSON.
    """
    configure_cli_logging(max(verbose, 1))
    _need_extra("handocr fit-verifier", verbose, ("sklearn",))
    from handocr.api import Recognizer
    from handocr.models.manifest import weights_dir
    from handocr.segment.search import VERIFIER_FILE
    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.verifier import fit_from_sources

    try:
        emnist = load_emnist(data, split, "train")
        verifier, report = fit_from_sources(
            Recognizer(device="cpu", line_models=()),
            emnist.images,
            to_label_space(emnist),
            pages=pages,
            val_pages=val_pages,
            boxes=list(boxes or []),
            boxes_charset=boxes_charset or None,
            holdout=holdout,
            hidden=hidden,
            seed=seed,
            progress=lambda name, n: log.debug("%s: %d pages", name, n),
        )
        path = output or weights_dir() / VERIFIER_FILE
        verifier.save(path, json.dumps(report))
        log.info("wrote %s", path)
    except HandocrError as err:
        raise _fail(err, verbose) from None
    typer.echo(json.dumps(report))


@app.command("fit-fusion")
def fit_fusion_cmd(
    fields: Annotated[
        list[Path],
        typer.Argument(help="folders of labelled line images (truth.tsv), e.g. the train splits"),
    ],
    charset: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="SET=CHARSET: read that folder with a charset (orand_car_a=digits)"),
    ] = None,
    captioned: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="folder names whose images begin with text the truth leaves out"),
    ] = None,
    dates: Annotated[
        int,
        typer.Option(
            min=0, help="generated date fields (EMNIST train digits, drawn / - .), default fit"
        ),
    ] = 300,
    data: TrainingData = None,
    holdout: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="share of each folder kept out and scored")
    ] = 0.2,
    rounds: Annotated[int, typer.Option(min=1, help="gather-and-fit rounds")] = 1,
    seed: int = 0,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="at most this many images per folder"),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="store the weights in the weights folder's manifest")
    ] = False,
    verbose: Verbose = 0,
) -> None:
    """Fit the weights that fuse the line members with the character members.

    Every image is read with the shipped members; the weights minimise the expected errors of
    the chosen reading (handocr.train.fusion). Prints the report as JSON (held-out CER of the
    fused reading, the character members alone and each line member alone).
    """
    configure_cli_logging(max(verbose, 1))
    _need_extra("handocr fit-fusion", verbose, ("scipy",))
    from handocr.models.manifest import weights_dir
    from handocr.models.weights import set_manifest_entry
    from handocr.train.fusion import FitSet, fit_fusion

    per_set = dict(spec.partition("=")[::2] for spec in charset or [])
    sets = [FitSet(f, per_set.get(f.name) or None, f.name in set(captioned or [])) for f in fields]
    for f in fields:
        if not (f / "truth.tsv").is_file():
            log.error("%s has no truth.tsv", f)
            raise typer.Exit(code=int(ExitCode.USAGE))
    try:
        if dates:
            import numpy as np

            from handocr.train.data import load_emnist, to_label_space
            from handocr.train.synthfields import date_fields, digits_by_value

            emnist = load_emnist(data, "pool47", "train")
            digits = digits_by_value(emnist.images, to_label_space(emnist))
            items = tuple(date_fields(np.random.default_rng(seed), digits, dates))
            sets.append(FitSet(Path("dates"), None, False, items))
        entry, report = fit_fusion(sets, rounds=rounds, limit=limit, holdout=holdout)
    except HandocrError as err:
        raise _fail(err, verbose) from None
    except ValueError as err:
        log.error("%s", err)
        raise typer.Exit(code=int(ExitCode.USAGE)) from None
    entry |= {"report": report, "command": "handocr " + " ".join(sys.argv[1:])}
    if write:
        set_manifest_entry(weights_dir(), "fusion", entry)
        log.info("wrote the fusion weights into %s", weights_dir() / "MANIFEST.json")
    typer.echo(json.dumps(entry, indent=2, default=float))


@app.command("export-onnx")
def export_onnx(
    members: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="arch.tag names (default: every weights file of the folder)"),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Export ONNX graphs for ONNX Runtime inference, check parity, update MANIFEST.json.

    Each graph (arch.tag.onnx, written beside its weights) references the tensors inside the
    safetensors file, so the weights stay in one place. A graph is kept only if its
    probabilities match the torch model's within 1e-4 on random crops.
    """
    configure_cli_logging(max(verbose, 1))
    _need_extra("handocr export-onnx", verbose)
    from handocr.models.manifest import load_manifest, weights_dir
    from handocr.models.weights import refresh_manifest, write_manifest
    from handocr.train.export import PARITY_ATOL, export_member

    try:
        refresh_manifest(weights_dir())  # files added since the manifest was written
        manifest = load_manifest()
        names = list(members or manifest.weights)
        for name in names:
            diff = export_member(name)
            log.info("%s: graph written, max |p_onnx - p_torch| = %.2e", name, diff)
        write_manifest(manifest.folder, list(manifest.default_ensemble))
    except HandocrError as err:
        raise _fail(err, verbose) from None
    typer.echo(json.dumps({"exported": names, "parity_atol": PARITY_ATOL}))


@app.command("eval")
def eval_(
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="EMNIST IDX folder (default: $HANDOCR_DATA)"),
    ] = None,
    split: Annotated[str, typer.Option(help="EMNIST split")] = "pool47",
    models: Models = None,
    voting: VotingOpt = _VOTING,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable summary")] = False,
    confusion: Annotated[Path, typer.Option(help="confusion-matrix PNG to write")] = Path(
        "confusion_matrix.png"
    ),
    device: Device = _D.device,
    backend: BackendOpt = _D.backend,
    cascade: CascadeOpt = str(_D.cascade),
    classes: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="score only the test images of these classes (digits, upper, ...)"),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Classifier accuracy on an EMNIST test split: every member, the ensemble and its cascade."""
    configure_cli_logging(verbose)
    _need_extra("handocr eval", verbose, ("sklearn", "matplotlib"))
    from sklearn.metrics import classification_report

    from handocr.ensemble import Ensemble
    from handocr.evaluate import FOLDED_GROUPS, confusion_png, evaluate_classifier
    from handocr.labels import LABELS
    from handocr.train.data import load_emnist, select_classes, to_label_space

    try:
        test = load_emnist(data, split, "test")
        images, labels = select_classes((test.images, to_label_space(test)), classes)
        ens = Ensemble.from_names(
            models, voting=voting.value, device=device, backend=backend, cascade=cascade
        )
        report = evaluate_classifier(ens, images, labels)
    except HandocrError as err:  # OptionError too: a bad --backend or --cascade
        raise _fail(err, verbose) from None
    confusion_png(report.y_true, report.y_pred, LABELS, confusion)
    log.info("wrote %s", confusion)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    typer.echo(f"{'model':<32}{'top-1':>8}{'top-2':>8}{'folded':>8}{'ECE':>8}{'NLL':>8}")
    rows = [*report.members.items(), ("ensemble", report.ensemble)]
    if report.cascade is not None:
        rows.append(("cascade", report.cascade))
    for name, sc in rows:
        typer.echo(
            f"{name:<32}{sc.top1:>8.4f}{sc.top2:>8.4f}{sc.folded:>8.4f}{sc.ece:>8.4f}{sc.nll:>8.4f}"
        )
    typer.echo(
        f"n = {report.n}; folded: {' '.join('{' + ','.join(g) + '}' for g in FOLDED_GROUPS)}"
    )
    if len(report.members) > 1:
        typer.echo(
            f"members agree on {report.agreement:.4f}; oracle (any member right) "
            f"{report.oracle:.4f}"
        )
    if report.cascade is not None:
        stages = " > ".join(
            "+".join(ens.members[k].info.key for k in stage) for stage in ens.cascade_stages
        )
        margins = ", ".join(f"{m:g}" for m in ens.cascade_margins)
        typer.echo(
            f"cascade: {stages} (margins {margins}); {report.escalated:.4f} of the characters "
            "went past the first stage"
        )
    typer.echo(
        "most confused (truth -> prediction: count): "
        + ", ".join(f"{t}->{p}: {c}" for t, p, c in report.most_confused())
    )
    typer.echo("")
    typer.echo(
        classification_report(
            report.y_true,
            report.y_pred,
            labels=list(range(len(LABELS))),
            target_names=list(LABELS),
            digits=4,
            zero_division=0,
        )
    )
    typer.echo(f"confusion matrix: {confusion}")


@app.command("eval-pages")
def eval_pages(
    root: Annotated[Path, typer.Argument(help="folder of sets (sub-folders with truth.tsv)")],
    models: Models = None,
    line_models: LineModels = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    rows: Annotated[bool, typer.Option(help="include per-image rows in --json")] = False,
    voting: VotingOpt = _VOTING,
    charset: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            help="restrict output of every set (digits, upper, ...), or of one set with "
            "SET=CHARSET (e.g. orand_car_a=digits); repeatable"
        ),
    ] = None,
    deskew: Deskew = _D.deskew,
    binarize: Binarize = _D.binarize,
    device: Device = _D.device,
    backend: BackendOpt = _D.backend,
    cascade: CascadeOpt = str(_D.cascade),
    letter_prior: LetterPrior = _D.letter_prior,
    verbose: Verbose = 0,
) -> None:
    """Score every set under ROOT with the CER rule of the development data."""
    configure_cli_logging(verbose)
    _need_extra("handocr eval-pages", verbose, ("scipy",))
    from handocr.api import Recognizer
    from handocr.evaluate import evaluate_page_sets

    per_set = dict(spec.rpartition("=")[::2] for spec in charset or [])
    default_charset = per_set.pop("", None)
    options = _options(
        models=tuple(models) if models else None, device=device, backend=backend,
        voting=voting.value, cascade=cascade, binarize=binarize, deskew=deskew,
        charset=default_charset, letter_prior=letter_prior, line_models=line_models,
    )  # fmt: skip
    update, stop = _progress_bar("evaluating")
    try:
        results = evaluate_page_sets(Recognizer(options), root, charsets=per_set, progress=update)
    except HandocrError as err:
        raise _fail(err, verbose) from None
    finally:
        stop()
    for name, s in results.items():
        for f in s.failures:
            log.warning("%s: %s", name, f)
    if as_json:
        typer.echo(json.dumps({k: v.to_dict(rows=rows) for k, v in results.items()}, indent=2))
        return
    typer.echo(f"{'set':<18}{'images':>7}{'CER':>8}{'exact':>8}{'s/image':>9}  95% CI of CER")
    for name, s in results.items():
        notes = ["digits only"] if s.digits_only else []
        notes += [f"--charset {s.charset}"] if s.charset else []
        note = f"  ({', '.join(notes)})" if notes else ""
        typer.echo(
            f"{name:<18}{s.images:>7}{s.cer:>8.3f}{s.exact:>8.3f}{s.seconds_per_image:>9.3f}"
            f"  {s.cer_low:.3f}-{s.cer_high:.3f}{note}"
        )


def main() -> None:
    """Entry point of the ``handocr`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("handocr: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
