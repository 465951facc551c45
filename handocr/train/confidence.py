"""Fit the calibrated word and line confidence (:mod:`handocr.confidence`) on train splits.

Each image of a folder with ``truth.tsv`` (``filename<TAB>text``; images beside it or in
``images/``) is read as a user reads it (the folder's charset, e.g. digits for amounts). Its
*field* is the handwritten words of the page (a form's printed captions are not the field);
an image whose handwritten words lie on more than one line is skipped. The line gives one
row: the evidence (:func:`handocr.confidence.group_features`) of its handwritten characters
and whether their text equals the truth (case folded, whitespace removed; digits only for a
digit set). When the field has as many words as the truth, each word gives a row too. Images
are split by a hash of their name (:func:`handocr.train.realdata.held_out`): the held-out part
never fits and is what the fit is judged on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from handocr.api import Recognizer
    from handocr.confidence import ExactModel

__all__ = ["FieldRows", "field_rows", "fit_exact_model", "judge"]


@dataclass(frozen=True, slots=True)
class FieldRows:
    """Evidence rows of one folder's fields.

    Attributes
    ----------
    x : ndarray of float64, shape (N, F)
        :func:`handocr.confidence.group_features` per row.
    y : ndarray of bool, shape (N,)
        Whether the row's text is exactly right.
    line : ndarray of bool, shape (N,)
        True for a line (a whole field), False for a word.
    held : ndarray of bool, shape (N,)
        Whether the row's image is held out.
    image : ndarray of int64, shape (N,)
        The row's image (index into the folder's truth rows).
    skipped : int
        Images without a single line of handwriting (none, or several).
    """

    x: NDArray[np.float64]
    y: NDArray[np.bool_]
    line: NDArray[np.bool_]
    held: NDArray[np.bool_]
    image: NDArray[np.int64]
    skipped: int


def _fold(text: str, digits: bool) -> str:
    from handocr.evaluate import normalise_for_cer

    return normalise_for_cer(text, digits_only=digits)


def field_rows(
    rec: Recognizer,
    folder: Path,
    *,
    holdout: float = 0.2,
    progress: Callable[[int, int], None] | None = None,
) -> FieldRows:
    """Read a folder's images and return the evidence rows of their fields.

    Parameters
    ----------
    rec : Recognizer
        Read with its options (pass the folder's charset as a user would).
    folder : Path
        ``truth.tsv`` and the images (beside it or in ``images/``).
    holdout : float
        Share of images held out, by a hash of the file name, in ``[0, 1]``.
    progress : callable, optional
        ``progress(done, total)``.

    Raises
    ------
    DataError
        ``truth.tsv`` is missing or malformed.
    """
    from handocr.confidence import FEATURES, group_features
    from handocr.evaluate import is_digit_truth, read_truth
    from handocr.train.realdata import held_out

    truth = read_truth(folder / "truth.tsv")
    digits = is_digit_truth(t for _, t in truth)
    base = folder / "images" if (folder / "images").is_dir() else folder
    results = rec.read_inputs([base / n for n, _ in truth], errors="report", progress=progress)
    x: list[list[float]] = []
    y, line, held, image = [], [], [], []
    skipped = 0
    for k, ((name, text), result) in enumerate(zip(truth, results, strict=True)):
        page = result.document.pages[0] if result.document and result.document.pages else None
        lines = [
            [w for w in ln.words if w.kind == "handwritten"] for ln in (page.lines if page else ())
        ]
        lines = [ws for ws in lines if ws]
        if len(lines) != 1:
            skipped += 1
            continue
        (words,) = lines
        chars = [c for w in words for c in w.chars]
        rows = [(chars, " ".join(w.text for w in words), text, True)]
        parts = text.split()
        if len(parts) == len(words) > 1:
            rows += [(list(w.chars), w.text, t, False) for w, t in zip(words, parts, strict=True)]
        out_of = held_out(name, holdout)
        for group, read, want, is_line in rows:
            x.append(group_features(group, False))
            y.append(_fold(read, digits) == _fold(want, digits))
            line.append(is_line)
            held.append(out_of)
            image.append(k)
    return FieldRows(
        np.asarray(x, np.float64).reshape(-1, len(FEATURES)),
        np.asarray(y, bool),
        np.asarray(line, bool),
        np.asarray(held, bool),
        np.asarray(image, np.int64),
        skipped,
    )


def fit_exact_model(
    x: NDArray[np.float64], y: NDArray[np.bool_], *, report: dict[str, Any] | None = None
) -> ExactModel:
    """Fit P(exact) by a logistic regression on standardised evidence (scikit-learn).

    Raises
    ------
    ValueError
        ``y`` holds one value only.
    """
    from sklearn.linear_model import LogisticRegression

    from handocr.confidence import ExactModel

    if len(set(np.asarray(y, bool).tolist())) < 2:
        raise ValueError("every field is right (or every one wrong): nothing to calibrate")
    mean = x.mean(0)
    scale = np.where(x.std(0) > 1e-9, x.std(0), 1.0)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    return ExactModel(clf.coef_[0], float(clf.intercept_[0]), mean, scale, report=report or {})


def judge(model: ExactModel, rows: Sequence[FieldRows]) -> dict[str, Any]:
    """Calibration and read rates of ``model`` on the held-out rows, lines and words apart."""
    from handocr.fieldscore import FIELD_ERRORS, calibration_error, read_rate

    out: dict[str, Any] = {}
    for kind, want in (("lines", True), ("words", False)):
        x = np.concatenate([r.x[r.held & (r.line == want)] for r in rows])
        y = np.concatenate([r.y[r.held & (r.line == want)] for r in rows])
        if not len(y):
            continue
        p = model.predict(x)
        out[kind] = {
            "n": len(y),
            "exact": round(float(y.mean()), 4),
            "ece": round(calibration_error(p, y), 4),
            **{f"read@{e}": round(read_rate(p, y, e), 4) for e in FIELD_ERRORS},
        }
    return out
