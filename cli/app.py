"""The typer app: thin commands over the library. Results on stdout, diagnostics on stderr."""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from handocr.errors import ExitCode, HandocrError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import numpy as np

    from handocr.api import Recognizer
    from handocr.io import LoadedPage
    from handocr.result import Page

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


def _recognizer(
    *,
    models: list[str] | None,
    device: str,
    charset: str | None,
    voting: VotingRule,
    deskew: bool = True,
    binarize: str = "otsu",
    backend: str = "auto",
    cascade: str = "auto",
    letter_prior: float = 1.0,
) -> Recognizer:
    from handocr.api import Recognizer

    try:
        return Recognizer(
            models=models,
            device=device,
            charset=charset,
            voting=voting.value,
            deskew=deskew,
            binarize=binarize,
            backend=backend,
            cascade=cascade,
            letter_prior=letter_prior,
        )
    except ValueError as err:  # a bad --charset, --backend or --cascade
        log.error("%s", err)
        raise typer.Exit(code=int(ExitCode.USAGE)) from None


TrainingData = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(help="EMNIST IDX folder (default: the training one, then $HANDOCR_DATA)"),
]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")]
Charset = Annotated[
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


SUFFIX = {"text": ".txt", "json": ".json", "hocr": ".hocr", "tsv": ".tsv"}


@app.command()
def read(
    pages: Annotated[
        list[str],
        typer.Argument(help="image or PDF files, directories, or - for standard input"),
    ],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="text, json, hocr or tsv")] = (
        OutputFormat.TEXT
    ),
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="write the result here instead of stdout"),
    ] = None,
    output_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="write one result per input into this folder (<name>.<format>)"),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="also read sub-directories")
    ] = False,
    page_ranges: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--pages", help="pages of multi-page inputs, e.g. 1-3,7"),
    ] = None,
    dpi: Annotated[int, typer.Option(min=1, help="PDF rendering resolution")] = 300,
    models: Models = None,
    voting: VotingOpt = VotingRule.WEIGHTED,
    charset: Charset = None,
    deskew: Deskew = True,
    binarize: Binarize = "otsu",
    overlay: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="write one PNG per page with boxes and characters into this folder"),
    ] = None,
    device: Device = "auto",
    backend: BackendOpt = "auto",
    cascade: CascadeOpt = "auto",
    letter_prior: LetterPrior = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="errors only on stderr")] = False,
    verbose: Verbose = 0,
) -> None:
    """Read PAGES and print or write the text found (pages separated by a form feed).

    A file that cannot be read is reported on stderr and every other input is still read and
    written. Exit codes: 0 all read, 6 some inputs failed (the rest was written), 3 no input
    could be read, 4 weights unusable (docs/errors.md).
    """
    configure_cli_logging(verbose, quiet=quiet)
    import itertools

    from handocr.api import batch_full
    from handocr.io import expand_inputs, iter_pages, parse_page_ranges
    from handocr.result import Document

    if output is not None and output_dir is not None:
        log.error("use either --output or --output-dir, not both")
        raise typer.Exit(code=int(ExitCode.USAGE))
    try:
        selection = parse_page_ranges(page_ranges) if page_ranges else None
    except ValueError as err:
        log.error("%s", err)
        raise typer.Exit(code=int(ExitCode.USAGE)) from None
    rec = _recognizer(
        models=models,
        device=device,
        charset=charset,
        voting=voting,
        deskew=deskew,
        binarize=binarize,
        backend=backend,
        cascade=cascade,
        letter_prior=letter_prior,
    )
    render = {
        OutputFormat.TEXT: lambda d: d.text + "\n",
        OutputFormat.JSON: lambda d: d.to_json() + "\n",
        OutputFormat.HOCR: lambda d: d.to_hocr(),
        OutputFormat.TSV: lambda d: d.to_tsv(),
    }[fmt]
    errors: list[HandocrError] = []
    try:
        inputs = expand_inputs(pages, recursive=recursive)
    except HandocrError as err:
        raise _fail(err, verbose) from None
    done: list[Page] = []
    n_ok = 0
    multi = len(inputs) > 1 or Path(inputs[0]).suffix.lower() in {".pdf", ".tif", ".tiff"}
    update, stop = _progress_bar("reading", enabled=multi and not quiet)
    # Single-page inputs wait in `pending` and are recognised together (one shared batch per
    # group, handocr.api.batch_pages); multi-page inputs are read page by page.
    pending: list[tuple[int, str, LoadedPage]] = []

    def finish(k: int, item: str, mine: list[Page]) -> None:
        nonlocal n_ok
        n_ok += 1
        if output_dir is not None:
            name = "stdin" if item == "-" else Path(item).name
            target = output_dir / (name + SUFFIX[fmt.value])
            _write_atomic(target, render(Document(tuple(mine), rec.loaded_models)))
        else:
            done.extend(mine)
        update(k + 1, len(inputs))

    def flush() -> None:
        if not pending:
            return
        first = 0 if output_dir is not None else len(done)
        indices = [0 if output_dir is not None else first + i for i in range(len(pending))]
        loaded_pages = [p for _, _, p in pending]
        pages = rec.read_pages(
            [p.image for p in loaded_pages],
            indices=indices,
            sources=[p.source for p in loaded_pages],
        )
        for (k, item, loaded), page in zip(pending, pages, strict=True):
            if overlay is not None:
                _write_overlay(overlay, loaded.image, page)
            finish(k, item, [page])
        pending.clear()

    def read_rest(k: int, item: str, head: list[LoadedPage], rest: Iterator[LoadedPage]) -> None:
        mine: list[Page] = []
        for loaded in itertools.chain(head, rest):
            index = len(mine) if output_dir is not None else len(done) + len(mine)
            page = rec.read_page(loaded.image, index=index, source=loaded.source)
            mine.append(page)
            if overlay is not None:
                _write_overlay(overlay, loaded.image, page)
            update(k, len(inputs))
        finish(k, item, mine)

    try:
        for k, item in enumerate(inputs):
            try:
                it = iter(iter_pages(item, pdf_dpi=dpi, pages=selection))
                head = list(itertools.islice(it, 2))
                if len(head) == 1:
                    pending.append((k, item, head[0]))
                    if batch_full(sum(p.image.size for _, _, p in pending), len(pending)):
                        flush()
                    continue
                flush()  # keep the inputs in order
                read_rest(k, item, head, it)
            except HandocrError as err:
                log.error("%s", err, exc_info=verbose > 0)
                errors.append(err)
                if err.exit_code != ExitCode.BAD_INPUT:
                    break  # weights or model errors affect every page
                continue
        else:
            try:
                flush()
            except HandocrError as err:
                log.error("%s", err, exc_info=verbose > 0)
                errors.append(err)
    finally:
        stop()
    if output_dir is None and (n_ok or not errors):
        text = render(Document(tuple(done), rec.loaded_models))
        if output is not None:
            _write_atomic(output, text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    if errors:
        fatal = [e for e in errors if e.exit_code != ExitCode.BAD_INPUT]
        code = fatal[0].exit_code if fatal else ExitCode.BAD_INPUT
        if not fatal and n_ok:
            code = ExitCode.PARTIAL
        raise typer.Exit(code=int(code))


def _write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``target``, then rename it into place.

    A reader never sees a half-written result. An unwritable target is logged as an
    :class:`handocr.errors.OutputError` and ends the command with exit code 7 (``BAD_OUTPUT``).
    """
    import os
    import tempfile

    from handocr.errors import OutputError

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        log.error("%s", OutputError(f"{target}: cannot write ({err.strerror or err})"))
        raise typer.Exit(code=int(ExitCode.BAD_OUTPUT)) from None
    log.info("wrote %s", target)


def _write_overlay(folder: Path, image: np.ndarray, page: Page) -> None:
    import cv2

    from handocr.overlay import draw_overlay

    folder.mkdir(parents=True, exist_ok=True)
    base, _, number = (page.source or f"page{page.index + 1}").partition("#")
    target = folder / (Path(base).stem + (f"-p{number}" if number else "") + ".png")
    if not cv2.imwrite(str(target), draw_overlay(image, page)):
        log.warning("could not write %s", target)
    else:
        log.info("wrote %s", target)


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
    device: Device = "auto",
    verbose: Verbose = 0,
) -> None:
    """Train one member on EMNIST and write OUT/<arch>.<tag>.safetensors plus curves."""
    configure_cli_logging(max(verbose, 1))
    from handocr.train.fit import TrainConfig, fit

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
        )
    except ValueError as err:
        log.error("%s", err)
        raise typer.Exit(code=int(ExitCode.USAGE)) from None
    update, stop = _progress_bar(f"training {arch}")
    try:
        result = fit(cfg, resume=resume, progress=update)
    except HandocrError as err:
        raise _fail(err, verbose) from None
    finally:
        stop()
    typer.echo(
        json.dumps({"weights": str(result.weights), "sha256": result.sha256, **result.metrics})
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
    from handocr.models.weights import weights_dir, write_manifest
    from handocr.train.calibrate import fit_ensemble as fit

    try:
        result = fit(list(members), data=str(data) if data else None, device=device)
        if write:
            write_manifest(
                weights_dir(), list(members), result["voting_weights"], result.get("cascade")
            )
            log.info("wrote %s", weights_dir() / "MANIFEST.json")
    except HandocrError as err:
        raise _fail(err, verbose) from None
    typer.echo(json.dumps(result))


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
    from handocr.models.weights import read_manifest, weights_dir, write_manifest
    from handocr.runtime import PARITY_ATOL, export_member

    try:
        manifest = read_manifest()
        names = list(members or manifest.get("weights", {}))
        for name in names:
            diff = export_member(name)
            log.info("%s: graph written, max |p_onnx - p_torch| = %.2e", name, diff)
        write_manifest(weights_dir(), list(manifest.get("default_ensemble", [])))
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
    voting: VotingOpt = VotingRule.WEIGHTED,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable summary")] = False,
    confusion: Annotated[Path, typer.Option(help="confusion-matrix PNG to write")] = Path(
        "confusion_matrix.png"
    ),
    device: Device = "auto",
    backend: BackendOpt = "auto",
    cascade: CascadeOpt = "auto",
    verbose: Verbose = 0,
) -> None:
    """Classifier accuracy on an EMNIST test split: every member, the ensemble and its cascade."""
    configure_cli_logging(verbose)
    from sklearn.metrics import classification_report

    from handocr.ensemble import Ensemble
    from handocr.evaluate import FOLDED_GROUPS, confusion_png, evaluate_classifier
    from handocr.labels import LABELS
    from handocr.train.data import load_emnist, to_label_space

    try:
        test = load_emnist(data, split, "test")
        ens = Ensemble.from_names(
            models, voting=voting.value, device=device, backend=backend, cascade=cascade
        )
        report = evaluate_classifier(ens, test.images, to_label_space(test))
    except HandocrError as err:
        raise _fail(err, verbose) from None
    except ValueError as err:  # a bad --backend or --cascade
        log.error("%s", err)
        raise typer.Exit(code=int(ExitCode.USAGE)) from None
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
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    rows: Annotated[bool, typer.Option(help="include per-image rows in --json")] = False,
    voting: VotingOpt = VotingRule.WEIGHTED,
    charset: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            help="restrict output of every set (digits, upper, ...), or of one set with "
            "SET=CHARSET (e.g. orand_car_a=digits); repeatable"
        ),
    ] = None,
    deskew: Deskew = True,
    binarize: Binarize = "otsu",
    device: Device = "auto",
    backend: BackendOpt = "auto",
    cascade: CascadeOpt = "auto",
    letter_prior: LetterPrior = 1.0,
    verbose: Verbose = 0,
) -> None:
    """Score every set under ROOT with the CER rule of the development data."""
    configure_cli_logging(verbose)
    import copy

    from handocr.evaluate import evaluate_page_set, find_page_sets
    from handocr.labels import charset_fold

    default_charset: str | None = None
    per_set: dict[str, str] = {}
    for spec in charset or []:
        name, sep, value = spec.rpartition("=")
        try:
            charset_fold(value)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--charset") from None
        if sep:
            per_set[name] = value
        else:
            default_charset = value
    rec = _recognizer(
        models=models,
        device=device,
        charset=default_charset,
        voting=voting,
        deskew=deskew,
        binarize=binarize,
        backend=backend,
        cascade=cascade,
        letter_prior=letter_prior,
    )
    results = {}
    try:
        sets = find_page_sets(root)
        rec.ensemble  # noqa: B018 - load the models before the clock starts
        unknown = set(per_set) - {folder.name for folder in sets}
        if unknown:
            raise typer.BadParameter(
                f"no set named {', '.join(sorted(unknown))} under {root}", param_hint="--charset"
            )
        for folder in sets:
            set_rec = rec
            if folder.name in per_set:
                set_rec = copy.copy(rec)  # shares the loaded models
                set_rec.charset = per_set[folder.name]
            update, stop = _progress_bar(folder.name)
            try:
                results[folder.name] = evaluate_page_set(set_rec, folder, progress=update)
            finally:
                stop()
            for f in results[folder.name].failures:
                log.warning("%s: %s", folder.name, f)
    except HandocrError as err:
        raise _fail(err, verbose) from None
    if as_json:
        typer.echo(json.dumps({k: v.to_dict(rows=rows) for k, v in results.items()}, indent=2))
        return
    typer.echo(f"{'set':<16}{'images':>8}{'CER':>9}{'exact':>9}{'s/image':>10}")
    for name, s in results.items():
        notes = ["digits only"] if s.digits_only else []
        notes += [f"--charset {s.charset}"] if s.charset else []
        note = f"  ({', '.join(notes)})" if notes else ""
        typer.echo(
            f"{name:<16}{s.images:>8}{s.cer:>9.3f}{s.exact:>9.3f}{s.seconds_per_image:>10.3f}{note}"
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
