"""The typer app: thin commands over the library, one module per command group.

===================  ==========================================================
module               commands
===================  ==========================================================
``read``             ``read``, ``batch``
``serve``            ``serve``
``evaluate``         ``report``, ``eval``, ``eval-pages``
``train``            ``train``, ``calibrate``, ``export-onnx``
``fit``              ``fit-ensemble``, ``fit-verifier``, ``fit-fusion``
``common``           logging, errors, progress bars, the shared option types, help and
                     usage errors (:class:`~handocr_cli.common.Command`)
===================  ==========================================================

Results go to stdout, diagnostics to stderr, each error in one line (``handocr: ...``); exit
codes are :class:`handocr.errors.ExitCode`. ``handocr --version`` prints ``handocr X.Y.Z``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from handocr_cli import evaluate, fit, read, serve, train
from handocr_cli.common import Command, Group

from handocr.errors import ExitCode

__all__ = ["app", "main"]

app = typer.Typer(
    name="handocr",
    cls=Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Read handprinted block letters and digits from scanned pages.",
)


def _print_version(value: bool) -> None:
    """``--version``: print ``handocr X.Y.Z`` and exit 0 (eager: before any command)."""
    if value:
        from handocr.version import __version__

        typer.echo(f"handocr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Read handprinted block letters and digits from scanned pages."""


for name, command in (
    ("read", read.read),
    ("batch", read.batch),
    ("serve", serve.serve),
    ("report", evaluate.report),
    ("train", train.train),
    ("calibrate", train.calibrate),
    ("fit-ensemble", fit.fit_ensemble),
    ("fit-verifier", fit.fit_verifier),
    ("fit-fusion", fit.fit_fusion_cmd),
    ("export-onnx", train.export_onnx),
    ("eval", evaluate.eval_),
    ("eval-pages", evaluate.eval_pages),
):
    app.command(name, cls=Command)(command)


def main() -> None:
    """Entry point of the ``handocr`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("handocr: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
