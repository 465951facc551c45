"""What the command modules share: logging, errors, progress, reading options, option types.

The help and the error messages are set here, for every command: :class:`Command` and
:class:`Group` (the ``cls`` of each command and of the app) print a parameter's value as its
metavar (``--output FILE``, ``INPUT...``, a flag as itself, no ``<bool>``), reflow the
docstrings, and report every usage mistake in one line, ``handocr: --pages: 5-2 is reversed;
write 2-5``, the option first, then what is wrong and what to do (exit code 2).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Optional, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from handocr.decode_context import KIND_CHOICES
from handocr.errors import HandocrError, OptionError
from handocr.formats import FORMATS
from handocr.labels import CHARSETS, Charset
from handocr.models.config import VOTING
from handocr.models.loader import BACKENDS
from handocr.options import ReadOptions, parse_pages
from handocr.preprocess import BINARIZE

log = logging.getLogger("handocr.cli")

# typer's click (vendored from typer 0.29, the click package before): its usage errors
_click_errors = importlib.import_module(typer.BadParameter.__module__)
UsageError: type[Exception] = _click_errors.UsageError
MissingParameter: type[Exception] = _click_errors.MissingParameter
NoSuchOption: type[Exception] = _click_errors.NoSuchOption
NoArgsIsHelp: tuple[type[Exception], ...] = tuple(
    getattr(_click_errors, n) for n in ("NoArgsIsHelpError",) if hasattr(_click_errors, n)
)


class Mistake(typer.BadParameter):
    """A bad value on the command line, shown as ``handocr: --option: <message>``.

    Raised by the option parsers below; the message says what is wrong and what to do, without
    the option's name (added from the parameter) and without click's "Invalid value for".
    """


def choice(what: str, names: Sequence[str]) -> Callable[[str], str]:
    """Return a parser accepting one of ``names`` (``what`` names the kind, e.g. "voting rule")."""

    def parse(value: str) -> str:
        if value in names:
            return value
        close = difflib.get_close_matches(value, names, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise Mistake(f"{value!r} is not {what}; {hint}use one of {', '.join(names)}")

    return parse


def _parse_format(value: str) -> str:
    """``--format``: a format of the table (:data:`handocr.formats.FORMATS`) or ``csv``."""
    if value in FORMATS or value == "csv":
        return value
    raise Mistake(
        f"{value!r} is not a format handocr writes; use one of {', '.join(FORMATS)}, "
        "or csv with --template"
    )


def _parse_pages(value: str) -> str:
    """``--pages``: checked here, so the message names the option; ReadOptions parses it."""
    try:
        parse_pages(value)
    except OptionError as err:
        raise Mistake(str(err)) from None
    return value


def _parse_charset(value: str) -> str:
    """``--charset``: a set name or the characters to allow; a near miss of a name is refused.

    ``digitz`` or ``DIGITS`` would otherwise be read as the characters they spell.
    """
    names = ", ".join(CHARSETS)
    if not value.strip():
        raise Mistake(
            f"empty; use a name ({names}) or the characters to allow, e.g. 0123456789ABCDEF"
        )
    if value not in CHARSETS and value.isalpha():
        close = difflib.get_close_matches(value.lower(), CHARSETS, n=1, cutoff=0.75)
        if close:
            raise Mistake(
                f"{value!r} is not a charset name; did you mean {close[0]}? (the names are "
                f"{names}; anything else is read as the characters to allow)"
            )
    try:
        Charset.parse(value)
    except OptionError as err:
        raise Mistake(str(err)) from None
    return value


def _shipped_names(value: str, *, line: bool) -> None:
    """Refuse a member name the weights folder does not have (no check without a manifest)."""
    from handocr.models.manifest import load_manifest

    try:
        manifest = load_manifest()
    except HandocrError:  # no usable weights folder: reading reports it, with its exit code
        return
    try:
        (manifest.line_entry if line else manifest.entry)(value)
    except HandocrError:
        kind = "line members" if line else "weights"
        have = sorted(manifest.line_members if line else manifest.weights)
        if have:
            use = f"use one of {', '.join(have)}" + ("" if line else " (arch or arch.tag)")
        else:
            use = "use none" if line else "it has none"
        raise Mistake(
            f"there are no {kind} named {value!r} in {manifest.folder}; {use}, or set "
            "HANDOCR_WEIGHTS to a folder that has them"
        ) from None


def _parse_model(value: str) -> str:
    """``--model``: a member of the weights folder's manifest."""
    _shipped_names(value, line=False)
    return value


def _parse_line_models(value: str) -> str:
    """``--line-models``: ``none`` or comma-separated line members of the manifest."""
    if value.strip().lower() != "none":
        for name in (n.strip() for n in value.split(",")):
            if not name:
                raise Mistake(f"{value!r} has an empty name; write arch.tag names or none")
            _shipped_names(name, line=True)
    return value


def _param_name(param: Any) -> str:
    """How a message names a parameter: its long option, or an argument's metavar."""
    if isinstance(param, TyperArgument):
        return str(param.display_name_raw)
    longs = [o for o in param.opts if o.startswith("--")]
    return str((longs or param.opts or [param.name])[0])


def _problem(err: Any) -> str:
    """Say what is wrong with a value (typer 0.29 converts values with pydantic)."""
    if isinstance(err, Mistake):
        return str(err.message)
    cause = err.__cause__
    details = cause.errors() if callable(getattr(cause, "errors", None)) else []
    if details:
        first = details[0]
        kind, value, limits = first.get("type"), first.get("input"), first.get("ctx") or {}
        if kind in ("int_parsing", "int_from_float", "int_type"):
            return f"{value!r} is not a whole number"
        if kind in ("float_parsing", "float_type"):
            return f"{value!r} is not a number"
        for key, words in (("ge", "{} or more"), ("gt", "more than {}"), ("le", "{} or less"),
                           ("lt", "less than {}")):  # fmt: skip
            if key in limits:
                return f"{value} is out of range; use {words.format(limits[key])}"
        if kind == "value_error" and "error" in limits:
            return str(limits["error"])
    return str(err.message)


def _command_path(ctx: Any) -> str:
    """``handocr read``: the command as typed, whatever the program was called."""
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(["handocr", *reversed(names)])


def usage_exit(err: Any, ctx: Any = None) -> typer.Exit:
    """Print a usage error in one line on stderr; return the exit carrying its code (2).

    ``ctx`` is the context of the command being parsed, for errors that carry none.
    """
    path = _command_path(err.ctx or ctx)
    see = f"see '{path} --help'"
    param = getattr(err, "param", None)
    if isinstance(err, MissingParameter) and param is not None:
        name = _param_name(param)
        if isinstance(param, TyperOption) and param.metavar:
            name += f" {param.metavar}"
        shown = (param.help or "").replace("\\[", "[")  # as written, not as rich markup
        about = f" ({shown})" if shown else ""
        text = f"{path} needs {name}{about}; {see}"
    elif isinstance(err, typer.BadParameter) and param is not None:
        text = f"{_param_name(param)}: {_problem(err)}"
    elif isinstance(err, NoSuchOption):
        close = sorted(getattr(err, "possibilities", None) or ())
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        text = f"{path} has no option {err.option_name}{hint}; {see}"  # type: ignore[attr-defined]
    else:
        text = f"{err.format_message().rstrip('.')} ({see})"  # type: ignore[attr-defined]
    typer.echo(f"handocr: {text}", err=True)
    return typer.Exit(code=int(getattr(err, "exit_code", 2)))


def _escape(text: str) -> str:
    """Keep ``handocr[serve]`` as typed: typer reads help as rich markup, ``[serve]`` a style."""
    from rich.markup import escape

    return escape(text)


def _reflow(help_text: str | None) -> str | None:
    """Join each docstring paragraph's lines, as the terminal wraps them itself."""
    if not help_text:
        return help_text
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    return _escape(
        "\n\n".join(
            p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
            for p in paragraphs
        )
    )


class _Argument(TyperArgument):
    """An argument shown by its metavar alone: ``INPUT...`` in the usage line and the help."""

    @property
    def display_name_raw(self) -> str:
        name = self.metavar or (self.name or "").upper()
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"


_METAVARS = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}


def _plain(param: Any) -> Any:
    """Show ``param`` by metavar: flags and counts take no value, others get one by type."""
    if getattr(param, "help", None):
        param.help = _escape(param.help)
    if isinstance(param, TyperArgument):
        param.__class__ = _Argument  # only the display changes (typer has no setting for it)
        param.metavar = param.metavar or (param.name or "").upper()
    elif isinstance(param, TyperOption) and param.metavar is None:
        if param.is_flag or param.count:
            param.metavar = ""
        else:
            annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
            if get_origin(annotation) is list:  # a repeatable option: one value each time
                annotation = get_args(annotation)[0]
            param.metavar = _METAVARS.get(annotation, "VALUE")  # type: ignore[call-overload,arg-type]
    return param


class _Readable:
    """What :class:`Command` and :class:`Group` share: metavars, reflowed help, one-line errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "help" in kwargs:
            kwargs["help"] = _reflow(kwargs["help"])
        kwargs["params"] = [_plain(p) for p in kwargs.get("params") or []]
        super().__init__(*args, **kwargs)

    def get_help_option(self, ctx: Any) -> Any:
        """Return ``--help``, shown as a flag (no ``<bool>``)."""
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and option.metavar is None:  # made once, then cached
            _plain(option)
        return option

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse as typer does; a usage error is printed in one line (:func:`usage_exit`)."""
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc, no-any-return]
        except UsageError as err:
            if isinstance(err, NoArgsIsHelp):  # typer has printed the help
                raise
            raise usage_exit(err, ctx) from None


class Command(_Readable, TyperCommand):
    """A typer command whose help and usage errors read as a person expects (module doc)."""


class Group(_Readable, TyperGroup):
    """The app's group: its options, help and usage errors as :class:`Command`'s."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Find the command; an unknown one is a one-line usage error."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as err:
            raise usage_exit(err, ctx) from None


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
    typer.Option(
        metavar="DIR", help="EMNIST IDX folder (default: the training one, then $HANDOCR_DATA)"
    ),
]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug")]
Device = Annotated[str, typer.Option(metavar="DEVICE", help="auto, cpu, cuda or cuda:N")]
DEFAULTS = ReadOptions()  # every reading option's default, from its one owner
DEFAULT_VOTING = DEFAULTS.voting

CharsetOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        metavar="CHARSET",
        parser=_parse_charset,
        help="restrict output: digits, upper, letters, alnum, or the characters to allow "
        "(e.g. 0123456789ABCDEF)",
    ),
]
Binarize = Annotated[
    str,
    typer.Option(
        metavar="METHOD",
        parser=choice("a binarisation method", BINARIZE),
        help="otsu (global, with hysteresis) or sauvola (local threshold)",
    ),
]
Deskew = Annotated[bool, typer.Option(help="level skewed multi-line pages before segmentation")]
Combs = Annotated[
    bool, typer.Option(help="read comb fields (a row of boxes, one character per box) box by box")
]
KindOpt = Annotated[
    str,
    typer.Option(
        "--kind",
        metavar="KIND",
        parser=choice("a kind of word", KIND_CHOICES),
        help="which words to print: all, handwritten or printed",
    ),
]
LexiconOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--lexicon",
        metavar="NAME|FILE",
        help="also score readings by their words: names, words-en, words-de, or a word list "
        "(one entry per line, an optional frequency after a tab); JSON keeps each word's "
        "free reading",
    ),
]
RejectBelow = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option(
        "--reject-below",
        metavar="P",
        min=0.0,
        max=1.0,
        help="mark words whose confidence is below P (0-1) for a person to check: JSON keeps "
        "them with rejected: true, text shows [?] in their place",
    ),
]
LetterPrior = Annotated[
    float,
    typer.Option(
        min=0.0,
        metavar="WEIGHT",
        help="weight of the English letter-frequency prior: 1 Bayes' rule, 0 off (codes, "
        "serial numbers, alphabets)",
    ),
]
VotingOpt = Annotated[
    str,
    typer.Option(
        metavar="RULE",
        parser=choice("a voting rule", VOTING),
        help="weighted (fitted weights), soft (equal weights) or hard (majority)",
    ),
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        metavar="BACKEND",
        parser=choice("a backend", BACKENDS),
        help="auto (ONNX Runtime on a CPU-only machine when graphs are shipped), onnx or torch",
    ),
]
CascadeOpt = Annotated[
    str,
    typer.Option(
        "--cascade",
        metavar="MODE",
        help="auto/fitted (cheap member first, the others only where it is unsure), off "
        "(every member reads every character), or a margin in [0, 1]",
    ),
]
Models = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional here on Python 3.10
    typer.Option(
        "--model",
        "-m",
        metavar="NAME",
        parser=_parse_model,
        help="member arch or arch.tag of the weights folder; repeat for several "
        "(default: the shipped ensemble)",
    ),
]
LineModels = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--line-models",
        metavar="NAMES",
        parser=_parse_line_models,
        help="line members (CTC readers of whole lines) fused with the character members, "
        "comma-separated arch.tag names; none: the character members read alone "
        "(default: the shipped ones)",
    ),
]


Inputs = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT", help="image or PDF files, folders of them, or - for standard input"
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        parser=_parse_format,
        help="\n\n".join(
            ["what to write:"]
            + [f"{f.name}: {f.description}" for f in FORMATS.values()]
            + ["csv: with --template, a row of fields per page"]
        ),
    ),
]
Output = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--output", "-o", metavar="FILE", help="write the result here, not to stdout"),
]
OutputDir = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        metavar="DIR",
        help="write one result per input into this folder, named after it (a.png: a.png.json)",
    ),
]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="also read sub-folders")]
PageRanges = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--pages",
        metavar="RANGES",
        parser=_parse_pages,
        help="pages of multi-page inputs, e.g. 1-3,7",
    ),
]
Dpi = Annotated[int, typer.Option(min=1, metavar="DPI", help="PDF rendering resolution")]
Overlay = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        metavar="DIR",
        help="write one PNG per page with boxes and characters into this folder",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="errors only on stderr")]
TemplateOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--template",
        metavar="FILE",
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
