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

The shipped confidence is simpler: the fusion's posterior of a reading, Platt-scaled
(:func:`fit_platt`) per charset and for reading with a lexicon; :func:`posterior_rows` gives
the posteriors and outcomes of lines gathered for the fusion's fit
(:func:`handocr.train.fusion.collect`), as ``benchmarks/fit_exact.py --samples`` and
``benchmarks/fit_lexicon.py`` use them.
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
    from handocr.fusion import FusionWeights
    from handocr.lexicon import LexiconWeights
    from handocr.result import Line, Word
    from handocr.train.fusion import Sample

__all__ = [
    "FieldRows",
    "field_rows",
    "fit_exact_model",
    "fit_platt",
    "handwritten_line",
    "judge",
    "posterior_rows",
]


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


def handwritten_line(result: Any) -> tuple[Line, list[Word]] | None:
    """Return the field of one image as read: its one line holding handwriting, and those words.

    ``result`` is a :class:`handocr.batch.InputResult` (``document`` None for a failed
    input). None where the page holds no handwritten word or holds them on several lines (a
    form's printed captions are never the field).
    """
    page = result.document.pages[0] if result.document and result.document.pages else None
    lines = [
        (ln, [w for w in ln.words if w.kind == "handwritten"])
        for ln in (page.lines if page else ())
    ]
    lines = [(ln, ws) for ln, ws in lines if ws]
    return lines[0] if len(lines) == 1 else None


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
        field = handwritten_line(result)
        if field is None:
            skipped += 1
            continue
        _, words = field
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


def posterior_rows(
    samples: Sequence[Sample],
    weights: FusionWeights,
    keys: Sequence[str],
    lexicon_weights: LexiconWeights | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Return each sample's posterior of its chosen reading and whether that reading is exact.

    The readings are scored as :func:`handocr.fusion.fuse_line` scores them: by ``weights``
    (and, with ``lexicon_weights``, the lexicon's parts; without, the readings the lexicon
    made are left out, as when reading without one); the posterior is their softmax at the
    fusion's temperature. A reading is exact where its errors are 0 (counted as the samples
    were gathered, :func:`handocr.train.fusion.collect`: past a free caption where the set has
    one).

    Returns
    -------
    (ndarray of float64, ndarray of bool), shape (N,) each
        The posterior in ``[0, 1]`` and the outcome.
    """
    from handocr.readings import lexicon_scores, posterior

    p, y = [], []
    for s in samples:
        score = lexicon_scores(weights.score(s.features, keys), s.features, lexicon_weights)
        k = int(np.argmax(score))
        p.append(float(posterior(score, weights.temperature)[k]))
        y.append(bool(s.errors[k] == 0))
    return np.asarray(p, np.float64), np.asarray(y, bool)


def fit_platt(
    p: NDArray[np.float64], y: NDArray[np.bool_], held: NDArray[np.bool_], folds: int = 5
) -> tuple[float, float, dict[str, Any]]:
    """Fit Platt scaling (:func:`handocr.readings.platt_scale`) of posteriors into P(exact).

    A logistic regression (scikit-learn, weak ridge) on the logit of ``p`` over the rows not
    ``held``; the held-out rows judge it. It is *kept* only where it pays: where the
    expected calibration error of its ``folds``-fold cross-validated probabilities (each row
    scaled by a fit on the folds without it; row ``i`` in fold ``i % folds``) is below that
    of the posterior itself over all rows (a few hundred held-out rows alone cannot resolve
    it); otherwise the identity (slope 1, bias 0) is returned. The cross-validation spans the
    held-out rows too, so the held-out figures of the report are not wholly independent of
    that choice; and where the posterior's temperature was fitted on the same split (the
    fusion's fit), its ECE is partly in-sample, which leans the choice towards no scaling.

    Parameters
    ----------
    p : ndarray of float64, shape (N,)
        Posteriors in ``[0, 1]``.
    y : ndarray of bool, shape (N,)
        Whether each reading is exactly right.
    held : ndarray of bool, shape (N,)
        Rows kept out of the fit.
    folds : int
        Folds of the cross-validation (>= 2).

    Returns
    -------
    (float, float, dict)
        Slope, bias (the identity where the scaling is not kept), and a report: the fitted
        slope and bias, whether they are kept, the cross-validated ECE, and expected
        calibration error (with its bootstrap 95 % interval) and read rates (at
        :data:`handocr.fieldscore.FIELD_ERRORS`) of the held-out and fitted rows, before and
        after scaling.

    Raises
    ------
    ValueError
        ``folds`` < 2, no row is fitted, or the fitted rows (or a fold's) hold one outcome only.
    """
    from sklearn.linear_model import LogisticRegression

    from handocr.fieldscore import FIELD_ERRORS, calibration_error, paired_bootstrap, read_rate
    from handocr.readings import platt_scale

    if folds < 2 or held.all() or len(p) < folds:
        raise ValueError(f"cannot fit on {int((~held).sum())} rows in {folds} folds")
    q = np.clip(p, 1e-6, 1 - 1e-6)
    z = np.log(q / (1 - q))[:, None]

    def fit(m: NDArray[np.bool_]) -> tuple[float, float]:
        if len(set(y[m].tolist())) < 2:
            raise ValueError("every fitted reading is right (or every one wrong): nothing to scale")
        model = LogisticRegression(C=100.0).fit(z[m], y[m])
        return float(model.coef_[0][0]), float(model.intercept_[0])

    a, b = fit(~held)
    scaled = np.array([platt_scale(v, a, b) for v in p])
    fold = np.arange(len(p)) % folds
    crossed = np.zeros(len(p))
    for k in range(folds):
        ak, bk = fit(fold != k)
        crossed[fold == k] = [platt_scale(v, ak, bk) for v in p[fold == k]]
    cv = {"folds": folds, "n": len(p), "ece_posterior": calibration_error(p, y)}
    cv["ece_scaled"] = calibration_error(crossed, y)
    kept = cv["ece_scaled"] < cv["ece_posterior"]

    def judge(v: NDArray[np.float64], m: NDArray[np.bool_]) -> dict[str, Any]:
        if not m.any():
            return {}
        out: dict[str, Any] = {"n": int(m.sum()), "exact": round(float(y[m].mean()), 4)}
        out["ece"] = round(calibration_error(v[m], y[m]), 4)
        low, high = paired_bootstrap((v[m], y[m]), calibration_error)  # percentile, seeded
        out["ece_ci95"] = [round(low, 4), round(high, 4)]
        return out | {f"read@{e}": round(read_rate(v[m], y[m], e), 4) for e in FIELD_ERRORS}

    report = {
        "fitted_slope": round(a, 4),
        "fitted_bias": round(b, 4),
        "kept": bool(kept),
        "cross_validated": {k: round(v, 4) if isinstance(v, float) else v for k, v in cv.items()},
        "held_out_posterior": judge(p, held),
        "held_out_scaled": judge(scaled, held),
        "fitted_posterior": judge(p, ~held),
        "fitted_scaled": judge(scaled, ~held),
    }
    return (a, b, report) if kept else (1.0, 0.0, report)
