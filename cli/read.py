"""``handocr read`` and ``handocr batch``: pages in, results out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from handocr_cli.common import (
    DEFAULT_VOTING,
    DEFAULTS,
    BackendOpt,
    Binarize,
    CascadeOpt,
    CharsetOpt,
    Combs,
    Deskew,
    Device,
    Dpi,
    FormatOpt,
    Inputs,
    KindOpt,
    LetterPrior,
    LexiconOpt,
    LineModels,
    Models,
    Output,
    OutputDir,
    Overlay,
    PageRanges,
    Quiet,
    Recursive,
    RejectBelow,
    TemplateOpt,
    Verbose,
    VotingOpt,
    configure_cli_logging,
    fail,
    log,
    progress_bar,
    read_options,
)

from handocr.batch import DEFAULT_STALL_S
from handocr.errors import ExitCode, HandocrError, OutputError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from handocr.result import Document, Page


def read(
    pages: Inputs,
    fmt: FormatOpt = "text",
    output: Output = None,
    output_dir: OutputDir = None,
    recursive: Recursive = False,
    page_ranges: PageRanges = None,
    dpi: Dpi = DEFAULTS.dpi,
    models: Models = None,
    line_models: LineModels = None,
    voting: VotingOpt = DEFAULT_VOTING,
    charset: CharsetOpt = None,
    deskew: Deskew = DEFAULTS.deskew,
    combs: Combs = DEFAULTS.combs,
    binarize: Binarize = DEFAULTS.binarize,
    kind: KindOpt = DEFAULTS.kind,
    reject_below: RejectBelow = None,
    lexicon: LexiconOpt = None,
    overlay: Overlay = None,
    template: TemplateOpt = None,
    device: Device = DEFAULTS.device,
    backend: BackendOpt = DEFAULTS.backend,
    cascade: CascadeOpt = str(DEFAULTS.cascade),
    letter_prior: LetterPrior = DEFAULTS.letter_prior,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Read each INPUT and print or write the text found (pages separated by a form feed).

    A file that cannot be read is reported on stderr and every other input is still read and
    written. Exit codes: 0 all read, 6 some inputs failed (the rest was written), 3 no input
    could be read, 4 weights unusable, 7 a result could not be written (docs/errors.md).
    """
    configure_cli_logging(verbose, quiet=quiet)
    from handocr.api import Recognizer
    from handocr.errors import exit_code_for
    from handocr.formats import FORMATS, output_files, render_bytes
    from handocr.io import expand_inputs, write_bytes_atomic
    from handocr.result import Document

    if output is not None and output_dir is not None:
        log.error(
            "--output and --output-dir were both given; use --output FILE for one file with "
            "every result, or --output-dir DIR for one file per input"
        )
        raise typer.Exit(code=int(ExitCode.USAGE))
    options = read_options(
        models=tuple(models) if models else None, device=device, backend=backend,
        voting=voting, cascade=cascade, dpi=dpi, pages=page_ranges, binarize=binarize,
        deskew=deskew, charset=charset, letter_prior=letter_prior, line_models=line_models,
        kind=kind, combs=combs, reject_below=reject_below, lexicon=lexicon,
    )  # fmt: skip
    rec = Recognizer(options)
    if template is not None:
        _read_template(rec, template, pages, fmt, output, recursive=recursive, verbose=verbose)
        return
    if fmt not in FORMATS:  # csv
        log.error(
            "--format %s writes a form's fields and needs --template FILE; without a template, "
            "use one of %s",
            fmt,
            ", ".join(FORMATS),
        )
        raise typer.Exit(code=int(ExitCode.USAGE))
    errors: list[HandocrError] = []
    docs: list[Document] = []
    used_names: set[str] = set()
    images: list[bytes] = []
    update, stop = progress_bar("reading", enabled=not quiet)
    try:
        inputs = expand_inputs(pages, recursive=recursive)
        for result in rec.read_inputs(
            inputs,
            errors="report",
            on_page=_overlay_writer(overlay),
            images=FORMATS[fmt].needs_images,
            progress=update,
        ):
            if result.error is not None:
                if not any(e is result.error for e in errors):  # a model error fails many
                    log.error("%s", result.error, exc_info=verbose > 0)
                errors.append(result.error)
                continue
            if result.document is None:
                continue
            page_images = None if result.images is None else list(result.images)
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
                for file, data in output_files(result.document, fmt, name, page_images, dpi=dpi):
                    write_bytes_atomic(output_dir / file, data)
            else:
                docs.append(result.document)
                images += page_images or []
        if output_dir is None and (docs or not errors):
            data = render_bytes(Document.concat(docs, rec.loaded_models), fmt, images, dpi=dpi)
            if output is not None:
                write_bytes_atomic(output, data)
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
    except HandocrError as err:
        raise fail(err, verbose) from None
    finally:
        stop()
    code = exit_code_for(errors, succeeded=len(inputs) - len(errors))
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


def batch(
    inputs: Inputs,
    output_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="folder of rows, page results and summary")
    ],
    engine: Annotated[
        str,
        typer.Option(metavar="ENGINE", help="local (a process pool) or ray (Ray Data)"),
    ] = "local",
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            min=1, metavar="N", help="worker processes or Ray actors (default: the CPU count)"
        ),
    ] = None,
    address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="ADDRESS", help="Ray cluster address (default: start a local Ray instance)"
        ),
    ] = None,
    recursive: Recursive = False,
    page_ranges: PageRanges = None,
    dpi: Dpi = DEFAULTS.dpi,
    charset: CharsetOpt = None,
    kind: KindOpt = DEFAULTS.kind,
    line_models: LineModels = None,
    stall_timeout: Annotated[
        float,
        typer.Option(
            min=0.001,
            metavar="SECONDS",
            help="ray: stop when no row has been written for this long (exit 9; a re-run resumes)",
        ),
    ] = DEFAULT_STALL_S,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Read many files page by page into the --output-dir DIR: a JSON row per page and a summary.

    Rows go to DIR/rows/ as each page is read, then all of them to results.jsonl and
    the counts to summary.json (printed); a file that cannot be read is an error row. A re-run
    skips every page already written (resume). Exit codes: 0 all read, 6 some rows are errors,
    3 none could be read, 8 --engine ray without Ray, 9 a Ray run stalled (docs/errors.md).
    """
    configure_cli_logging(verbose, quiet=quiet)
    from dataclasses import asdict

    from handocr.batch import run_batch

    options = read_options(
        dpi=dpi, pages=page_ranges, charset=charset, kind=kind, line_models=line_models
    )
    update, stop = progress_bar("files", enabled=not quiet)
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
            stall_s=stall_timeout,
        )
    except HandocrError as err:
        raise fail(err, verbose) from None
    finally:
        stop()
    typer.echo(json.dumps(asdict(summary)))
    if summary.exit_code != ExitCode.OK:
        raise typer.Exit(code=summary.exit_code)


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
        log.error(
            "--template writes a form's fields as json, csv or text, not %s; use -f json, "
            "-f csv or -f text",
            fmt,
        )
        raise typer.Exit(code=int(ExitCode.USAGE))
    try:
        form = load_template(path)
        inputs = expand_inputs(pages, recursive=recursive)
        results = list(read_forms(rec, inputs, form))
    except HandocrError as err:
        raise fail(err, verbose) from None
    errors = [r.error for r in results if r.error is not None]
    for failure in errors:
        log.error("%s", failure)
    if fmt == "csv":
        text = forms_to_csv(results, form)
    elif fmt == "json":
        text = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in results)
    else:
        text = "".join(
            f"{r.source}#{r.page}\t{name}\t{f.text}\n"
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
        raise fail(err, verbose) from None
    code = exit_code_for(errors, succeeded=len(results) - len(errors))
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


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
