"""What the model stage reads with: the character members, the line members and how they run.

:class:`ModelConfig` is the model stage's part of :class:`handocr.options.ReadOptions`, taken
whole by :meth:`handocr.ensemble.Ensemble.from_config`; its values are checked here, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from handocr.errors import OptionError
from handocr.models.loader import BACKENDS

__all__ = ["CASCADE_MODES", "VOTING", "ModelConfig", "parse_cascade"]

VOTING = ("weighted", "soft", "hard")
"""Voting rules: ``weighted`` (fitted weights; equal when none are stored), ``soft`` (equal
weights), ``hard`` (majority of the members' top-1 classes)."""

CASCADE_MODES = ("off", "auto", "fitted")
"""Named cascade settings of :class:`ModelConfig` (besides a margin)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelConfig:
    """Which members read, and how: the model stage's options.

    Attributes
    ----------
    models : tuple of str or None, default None
        Registered names with an optional weights tag, e.g. ``("cnn.emnist47-v3",)``; None: the
        shipped ``default_ensemble`` of ``weights/MANIFEST.json``. A list or a single name is
        accepted.
    line_models : tuple of str or None, default None
        Line members (CTC recognizers of whole lines, :mod:`handocr.models.line`) fused with
        the character members (:mod:`handocr.fusion`), by ``"arch.tag"``; None: the manifest's
        ``default_line_members``; ``()`` or ``"none"``: none, the character members read alone.
        A comma-separated text is accepted.
    device : str, default "auto"
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (torch members; ONNX Runtime runs on the CPU).
    backend : {"auto", "onnx", "torch"}, default "auto"
        ``onnx``: ONNX Runtime on the CPU, without importing torch; ``torch``: PyTorch on
        ``device``; ``auto``: ONNX Runtime on a CPU-only machine when every member has an
        exported graph (:func:`handocr.models.loader.use_onnx`), else torch.
    batch_size : int, default 1024
        Character crops per forward pass (>= 1); peak memory grows linearly with it.
    voting : {"weighted", "soft", "hard"}, default "weighted"
        How the members' probabilities combine (:func:`handocr.ensemble.combine_votes`).
    cascade : {"auto", "off", "fitted"} or float, default "auto"
        ``auto``/``fitted``: the cascade fitted with the voting weights (the cheapest member
        reads every character, the others only those it is unsure of); ``off``: every member
        reads every character; a number in [0, 1] (or its text): that margin
        (:func:`parse_cascade`).

    Raises
    ------
    OptionError
        A value outside the documented range or set.
    """

    models: tuple[str, ...] | None = None
    line_models: tuple[str, ...] | None = None
    device: str = "auto"
    backend: str = "auto"
    batch_size: int = 1024
    voting: str = "weighted"
    cascade: str | float = "auto"

    def __post_init__(self) -> None:
        """Check every value and resolve the typed ones."""
        set_ = object.__setattr__  # frozen: resolved values are set once, here
        if self.models is not None:
            names = (self.models,) if isinstance(self.models, str) else tuple(self.models)
            if not names or not all(isinstance(n, str) and n for n in names):
                raise OptionError(f"models must be non-empty names, not {self.models!r}")
            set_(self, "models", names)
        if self.line_models is not None:
            set_(self, "line_models", _line_models(self.line_models))
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        ):
            raise OptionError(f"device must be auto, cpu, cuda or cuda:N, not {self.device!r}")
        for name, allowed in (("backend", BACKENDS), ("voting", VOTING)):
            if getattr(self, name) not in allowed:
                raise OptionError(
                    f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}"
                )
        set_(self, "cascade", parse_cascade(self.cascade))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
            raise OptionError(f"batch_size must be an integer, not {self.batch_size!r}")
        if self.batch_size < 1:
            raise OptionError(f"batch_size must be >= 1, not {self.batch_size}")


def _line_models(given: object) -> tuple[str, ...]:
    lm = given
    if isinstance(lm, str):
        lm = (
            ()
            if lm.strip().lower() == "none"
            else tuple(n.strip() for n in lm.split(",") if n.strip())
        )
    if not isinstance(lm, (tuple, list)):
        raise OptionError(f"line_models must be names or 'none', not {lm!r}")
    lm = tuple(lm)
    if not all(isinstance(n, str) and n and n != "none" for n in lm):
        raise OptionError(f"line_models must be names or 'none', not {given!r}")
    return lm


def parse_cascade(cascade: str | float) -> str | float:
    """Validate a cascade setting: one of :data:`CASCADE_MODES`, or a margin (number or text).

    Returns
    -------
    str or float
        The mode, or the margin as a float in [0, 1].

    Raises
    ------
    OptionError
        Neither a mode nor a number in [0, 1].

    Examples
    --------
    >>> parse_cascade("auto"), parse_cascade("0.25")
    ('auto', 0.25)
    """
    if isinstance(cascade, str):
        if cascade in CASCADE_MODES:
            return cascade
        try:
            cascade = float(cascade)
        except ValueError:
            raise OptionError(
                f"cascade must be one of {', '.join(CASCADE_MODES)} or a margin in [0, 1], "
                f"not {cascade!r}"
            ) from None
    if isinstance(cascade, bool) or not isinstance(cascade, (int, float)):
        raise OptionError(f"cascade must be a mode or a margin, not {type(cascade).__name__}")
    if not 0.0 <= cascade <= 1.0:
        raise OptionError(f"cascade margin must be in [0, 1], got {cascade}")
    return float(cascade)
