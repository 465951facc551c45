"""The typer app: thin commands over the library, one module per command group.

===================  ==========================================================
module               commands
===================  ==========================================================
``read``             ``read``, ``batch``
``serve``            ``serve``
``evaluate``         ``report``, ``eval``, ``eval-pages``
``train``            ``train``, ``calibrate``, ``export-onnx``
``fit``              ``fit-ensemble``, ``fit-verifier``, ``fit-fusion``
``common``           logging, errors, progress bars, the shared option types
===================  ==========================================================

Results go to stdout, diagnostics to stderr; exit codes are :class:`handocr.errors.ExitCode`.
"""

from __future__ import annotations

import sys

import typer
from handocr_cli import evaluate, fit, read, serve, train

from handocr.errors import ExitCode

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Read handprinted block letters and digits from scanned pages.",
)

app.command()(read.read)
app.command()(read.batch)
app.command()(serve.serve)
app.command()(evaluate.report)
app.command()(train.train)
app.command()(train.calibrate)
app.command("fit-ensemble")(fit.fit_ensemble)
app.command("fit-verifier")(fit.fit_verifier)
app.command("fit-fusion")(fit.fit_fusion_cmd)
app.command("export-onnx")(train.export_onnx)
app.command("eval")(evaluate.eval_)
app.command("eval-pages")(evaluate.eval_pages)


def main() -> None:
    """Entry point of the ``handocr`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("handocr: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
