"""Exit codes and the exception tree: the only module that defines handocr's exceptions.

Every error handocr raises on purpose derives from :class:`HandocrError` and carries the
:class:`ExitCode` that the command line returns for it. Each error also subclasses the matching
builtin, so callers catching ``ValueError`` or ``FileNotFoundError`` keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from enum import IntEnum
from typing import ClassVar

__all__ = [
    "BatchStalledError",
    "DataError",
    "ExitCode",
    "HandocrError",
    "ImageTooLargeError",
    "InputImageError",
    "MissingExtraError",
    "ModelOutputError",
    "OptionError",
    "OutputError",
    "RegistrationError",
    "TemplateError",
    "UnknownModelError",
    "UnreadableImageError",
    "WeightsError",
    "exit_code_for",
    "require_extra",
]


class ExitCode(IntEnum):
    """Process exit codes of the ``handocr`` command (documented in ``docs/errors.md``)."""

    OK = 0
    FAILURE = 1  # unexpected; traceback shown with -v
    USAGE = 2  # bad arguments (what click/typer return)
    BAD_INPUT = 3  # an input page could not be read
    BAD_WEIGHTS = 4  # weights missing, corrupt or not fitting the model
    BAD_DATA = 5  # training/evaluation data missing or malformed
    PARTIAL = 6  # a batch: some inputs failed, every other one was read and written
    BAD_OUTPUT = 7  # a result file could not be written
    MISSING_EXTRA = 8  # an optional dependency (e.g. torch for training) is not installed
    STALLED = 9  # a batch made no progress for its stall timeout; the rows written are kept
    INTERRUPTED = 130  # Ctrl-C


class HandocrError(Exception):
    """Base class of every error handocr raises on purpose."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILURE


class InputImageError(HandocrError, ValueError):
    """An input page could not be read, or has an unsupported shape or dtype."""

    exit_code = ExitCode.BAD_INPUT


class ImageTooLargeError(InputImageError):
    """An input over the pixel limit, found from its header or page size before decoding."""


class UnreadableImageError(InputImageError):
    """An input that is neither a readable image nor a readable PDF."""


class RegistrationError(InputImageError):
    """A page that does not line up with a form template's reference (``BAD_INPUT``)."""


class OptionError(HandocrError, ValueError):
    """A reading or command option has an unknown name or a value out of its range.

    Raised by :class:`handocr.options.ReadOptions`; the message names the option and what it
    accepts.
    """

    exit_code = ExitCode.USAGE


class TemplateError(OptionError):
    """A form template file that cannot be used (exit code ``USAGE``)."""


class WeightsError(HandocrError, ValueError):
    """Weights for a model are missing, corrupt, or do not fit the model."""

    exit_code = ExitCode.BAD_WEIGHTS


class UnknownModelError(HandocrError, KeyError):
    """A model name is not registered.

    Parameters
    ----------
    name : str
        The name that was asked for.
    known : iterable of str
        Registered names; close matches are suggested in the message.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"unknown model {name!r}{hint} (registered: {', '.join(known)})")
        self.name = name

    def __str__(self) -> str:
        """Return the message without the quotes that ``KeyError`` adds."""
        return str(self.args[0])


class DataError(HandocrError, ValueError):
    """Training or evaluation data is missing or malformed (names the file)."""

    exit_code = ExitCode.BAD_DATA


class ModelOutputError(HandocrError, RuntimeError):
    """A model returned probabilities that are not finite or of the wrong shape."""

    exit_code = ExitCode.FAILURE


class OutputError(HandocrError, OSError):
    """A result file could not be written (``-o`` / ``--output-dir``)."""

    exit_code = ExitCode.BAD_OUTPUT


class BatchStalledError(HandocrError, TimeoutError):
    """A batch wrote no row for its stall timeout and was stopped (exit code ``STALLED``).

    ``handocr.batch.run_batch(stall_s=...)``; the rows written before it stay in the output
    folder, so the same command run again resumes where it stopped.
    """

    exit_code = ExitCode.STALLED


class MissingExtraError(HandocrError, ImportError):
    """An optional dependency is not installed (exit code ``MISSING_EXTRA``).

    The message names the extra to install, e.g. ``pip install "handocr[train]"``.
    """

    exit_code = ExitCode.MISSING_EXTRA


def require_extra(
    what: str, modules: tuple[str, ...] = ("torch", "timm"), extra: str = "train"
) -> None:
    """Raise :class:`MissingExtraError` unless ``modules`` of an extra can be imported.

    Parameters
    ----------
    what : str
        What needs them, for the message (``"handocr train"``, ``"the torch backend"``).
    modules : tuple of str, default ("torch", "timm")
        Import names to check (``"sklearn"``, ``"matplotlib"`` for evaluation plots).
    extra : str, default "train"
        The extra that brings them, named in the message.

    Raises
    ------
    MissingExtraError
        A module is missing (checked without importing it).
    """
    missing = [m for m in modules if not _importable(m)]
    if missing:
        raise MissingExtraError(
            f"{what} needs {', '.join(missing)}, which reading does not: "
            f'pip install "handocr[{extra}]"'
        )


def _importable(name: str) -> bool:
    """Whether ``import name`` would find the module (checked without importing it)."""
    import importlib.util
    import sys

    if name in sys.modules:  # None: made unimportable on purpose
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def exit_code_for(errors: Iterable[HandocrError | int], *, succeeded: int) -> ExitCode:
    """Return the exit code of a batch of inputs from its errors and its successes.

    Parameters
    ----------
    errors : iterable of HandocrError or int
        The errors met, one per failed input, in order, or their exit codes (a batch's error
        rows).
    succeeded : int
        Inputs read and written (>= 0).

    Returns
    -------
    ExitCode
        ``OK`` without errors; the first error's code when any error is not ``BAD_INPUT``
        (weights or models: every input is affected); ``PARTIAL`` when only some inputs could
        not be read; ``BAD_INPUT`` when none could.

    Examples
    --------
    >>> exit_code_for([], succeeded=3).name
    'OK'
    >>> exit_code_for([InputImageError("x")], succeeded=2).name
    'PARTIAL'
    >>> exit_code_for([InputImageError("x")], succeeded=0).name
    'BAD_INPUT'
    >>> exit_code_for([3, 9], succeeded=5).name
    'STALLED'
    """
    codes = [ExitCode(e.exit_code if isinstance(e, HandocrError) else e) for e in errors]
    if not codes:
        return ExitCode.OK
    fatal = [c for c in codes if c != ExitCode.BAD_INPUT]
    if fatal:
        return fatal[0]
    return ExitCode.PARTIAL if succeeded else ExitCode.BAD_INPUT
