"""What the command modules share: logging, errors, progress, reading options, option types."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from handocr.errors import HandocrError, OptionError
from handocr.options import ReadOptions

log = logging.getLogger("handocr.cli")


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


def fail(err: HandocrError, verbose: int) -> typer.Exit:
    """Log ``err`` (with its traceback at -v) and return the exit carrying its exit code."""
    log.error("%s", err, exc_info=verbose > 0)
    return typer.Exit(code=int(err.exit_code))


def progress_bar(
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


def read_options(**given: Any) -> ReadOptions:
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
DEFAULTS = ReadOptions()  # every reading option's default, from its one owner
DEFAULT_VOTING = VotingRule(DEFAULTS.voting)

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


def need_extra(
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
        raise fail(err, verbose) from None
