"""Word and line confidence as the calibrated probability of an exact reading (issue #24).

A field is right only when every character is; the mean of its characters' confidences says
little about that (a name with one confident wrong glyph scores high). :class:`ExactModel` is a
logistic regression from evidence the reader has about a word or line (:func:`group_features`:
its characters' probabilities, the weakest one, the members' agreement, the line members'
agreement, its length and kind) to P(its text is exactly right), fitted on the train splits'
fields (:mod:`handocr.train.confidence`; Platt 1999's sigmoid calibration on richer evidence).
:func:`calibrate_page` sets :attr:`handocr.result.Word.exact` and
:attr:`handocr.result.Line.exact`, which become their ``confidence``. The model lives in the
weights folder (:data:`CONFIDENCE_FILE`); without it, confidences stay character means.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import WeightsError
from handocr.kind import LINE_MEMBER_KEY
from handocr.result import Char, Page

__all__ = [
    "CONFIDENCE_FILE",
    "FEATURES",
    "ExactModel",
    "calibrate_page",
    "group_features",
    "load_exact_model",
    "mark_rejected",
]

CONFIDENCE_FILE = "confidence.json"
"""The fitted model in the weights folder."""

FEATURES = (
    "log_chars",
    "log_product",
    "log_min",
    "mean",
    "log_rival_max",
    "log_rival_sum",
    "members_agree",
    "vote_min",
    "line_voted",
    "line_agree",
    "line_min",
    "digit_share",
    "printed",
)
"""The evidence of :func:`group_features`, in column order."""


def group_features(chars: Sequence[Char], printed: bool) -> list[float]:
    """Evidence that a word's or line's text is exactly right, in :data:`FEATURES` order.

    Parameters
    ----------
    chars : sequence of Char
        The group's characters (their ``confidence`` and ``votes``).
    printed : bool
        Whether the group was read as printed text.

    Returns
    -------
    list of float
        ``log(1 + n)``; the sum of the characters' log-confidences (the log-probability of the
        whole reading if they were independent, floored at -30); the log of the lowest one; the
        mean; the log of the strongest rival reading of any character (its first alternative's
        probability: where confidences round to 1 this still orders the fields) and of the sum
        of every character's alternatives; the share of characters on which every character
        member's own top vote is the chosen text; the lowest probability a character member
        gave the chosen text (0 where one voted otherwise); the share of characters with a
        line member's vote; among those, the share the line member agrees on (0.5 when none);
        the lowest probability a line member gave (1 when none); the share of digits (amounts
        and dates are judged apart from names); 1.0 when printed.
    """
    n = len(chars)
    if n == 0:
        return [0.0, -30.0, -30.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.0, float(printed)]
    conf = np.clip([c.confidence for c in chars], 1e-9, 1.0)
    rivals = [p for c in chars for _, p in c.alternatives[:1]] or [0.0]
    rival_sum = sum(p for c in chars for _, p in c.alternatives)
    agree, voted, line_ok = 0, 0, 0
    vote_min, line_min = 1.0, 1.0
    for c in chars:
        text = c.text.casefold()
        own = [(t.casefold(), p) for m, t, p in c.votes if LINE_MEMBER_KEY not in m]
        line = [(t.casefold(), p) for m, t, p in c.votes if LINE_MEMBER_KEY in m]
        agree += bool(own) and all(t == text for t, _ in own)
        vote_min = min([vote_min] + [p if t == text else 0.0 for t, p in own])
        if line:
            voted += 1
            line_ok += any(t == text for t, _ in line)
            line_min = min([line_min] + [p if t == text else 0.0 for t, p in line])
    return [
        float(np.log1p(n)),
        float(max(np.log(conf).sum(), -30.0)),
        float(np.log(conf.min())),
        float(conf.mean()),
        float(np.log(max(max(rivals), 1e-9))),
        float(np.log(max(rival_sum, 1e-9))),
        agree / n,
        vote_min,
        voted / n,
        line_ok / voted if voted else 0.5,
        line_min,
        sum(c.text.isdigit() for c in chars) / n,
        float(printed),
    ]


@dataclass(frozen=True, slots=True)
class ExactModel:
    """Logistic regression from :func:`group_features` to P(exact).

    Attributes
    ----------
    weights : ndarray of float64, shape (F,)
        On the standardised features ``(x - mean) / scale``.
    bias : float
    mean, scale : ndarray of float64, shape (F,)
    features : tuple of str
        Must equal :data:`FEATURES`.
    report : dict
        How it was fitted and what it measured (kept in the JSON file).
    """

    weights: NDArray[np.float64]
    bias: float
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    features: tuple[str, ...] = FEATURES
    report: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        """Check the shapes and the feature names."""
        n = len(FEATURES)
        if tuple(self.features) != FEATURES:
            raise WeightsError(f"{CONFIDENCE_FILE}: features {self.features} are not {FEATURES}")
        for name in ("weights", "mean", "scale"):
            v = np.asarray(getattr(self, name), np.float64)
            if v.shape != (n,) or not np.isfinite(v).all():
                raise WeightsError(f"{CONFIDENCE_FILE}: {name} must be {n} finite values")
        if np.any(np.asarray(self.scale) <= 0) or not np.isfinite(self.bias):
            raise WeightsError(f"{CONFIDENCE_FILE}: scale must be positive, bias finite")

    def predict(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return P(exact) per row of ``features`` ``(N, F)``, shape ``(N,)``, in ``(0, 1)``."""
        x = (np.asarray(features, np.float64).reshape(-1, len(FEATURES)) - self.mean) / self.scale
        z = np.clip(x @ np.asarray(self.weights) + self.bias, -40.0, 40.0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (with ``sha256`` of the model's numbers)."""
        model = {
            "features": list(self.features),
            "weights": [float(v) for v in self.weights],
            "bias": float(self.bias),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
        }
        digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()
        return {"model": model, "sha256": digest, "report": self.report}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExactModel:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        WeightsError
            Missing keys, a checksum that does not match, or bad values.
        """
        try:
            model = d["model"]
            digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()
            if digest != d["sha256"]:
                raise WeightsError(f"{CONFIDENCE_FILE}: sha256 mismatch; the file was changed")
            return cls(
                np.asarray(model["weights"], np.float64),
                float(model["bias"]),
                np.asarray(model["mean"], np.float64),
                np.asarray(model["scale"], np.float64),
                tuple(model["features"]),
                dict(d.get("report", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise WeightsError(f"{CONFIDENCE_FILE}: unreadable ({err})") from err


def load_exact_model(folder: Path | None = None) -> ExactModel | None:
    """Load :data:`CONFIDENCE_FILE` from a weights folder (default: the shipped one).

    Returns None when the folder has none.

    Raises
    ------
    WeightsError
        The file is unreadable or fails its checksum.
    """
    from handocr.models.manifest import weights_dir

    path = (folder or weights_dir()) / CONFIDENCE_FILE
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise WeightsError(f"{path.name}: unreadable ({err})") from err
    return ExactModel.from_dict(d)


def calibrate_page(page: Page, model: ExactModel) -> Page:
    """Return ``page`` with every word's and line's ``exact`` set by ``model``.

    A line's evidence is that of all its characters (printed when all its words are).
    """
    rows: list[list[float]] = []
    for line in page.lines:
        rows.append(group_features(line.all_chars(), line.kind == "printed"))
        rows.extend(group_features(w.chars, w.kind == "printed") for w in line.words)
    if not rows:
        return page
    p = iter(model.predict(np.asarray(rows, np.float64)).tolist())
    lines = []
    for line in page.lines:
        exact = next(p)
        words = tuple(dataclasses.replace(w, exact=next(p)) for w in line.words)
        lines.append(dataclasses.replace(line, words=words, exact=exact))
    return dataclasses.replace(page, lines=tuple(lines))


def mark_rejected(page: Page, level: float) -> Page:
    """Return ``page`` with every word whose ``confidence`` is below ``level`` marked rejected.

    The words keep their text (JSON shows it with ``"rejected": true``); the text format shows
    :data:`handocr.result.REJECTED` in their place.
    """
    if not any(w.confidence < level for line in page.lines for w in line.words):
        return page
    lines = tuple(
        dataclasses.replace(
            line,
            words=tuple(
                dataclasses.replace(w, rejected=True) if w.confidence < level else w
                for w in line.words
            ),
        )
        for line in page.lines
    )
    return dataclasses.replace(page, lines=lines)
