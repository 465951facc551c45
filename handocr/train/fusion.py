"""Fitting the fusion of line and character members on labelled line images (train splits).

Each image of a folder (``truth.tsv``: ``filename<TAB>text``) is read once with the line members;
the candidate readings of its line and the parts of their scores (:class:`handocr.fusion.
LineFeatures`) are kept, with each reading's edit distance to the truth (the development data's
CER rule: case and whitespace ignored; digits only for a digits charset). The weights of
:class:`handocr.fusion.FusionWeights` are then chosen to minimise the expected number of errors
under the readings' posterior ``softmax(score)`` (minimum Bayes risk training: Povey and
Woodland 2002, "Minimum phone error and I-smoothing for improved discriminative training",
ICASSP; a smooth stand-in for the CER of the best reading), and the temperature so that the
best reading's posterior is the probability that it is exactly right (log loss). An image read
as several lines (a caption above the field, a stray mark) takes part with the line that matches
its truth best, if that line's best reading errs on at most a third of the characters.

The insertion, deletion and punctuation weights act inside the lattice alignment, so the
features are gathered again with the fitted weights and refitted (``rounds``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.fusion import FusionWeights, LineFeatures
from handocr.models.line import FOLDED

__all__ = ["FitSet", "Sample", "collect", "evaluate", "fit_fusion", "fit_weights", "held_out"]

log = logging.getLogger(__name__)

_PARAMS = ("segment", "char", "insert", "delete", "punct", "length")


@dataclass(frozen=True, slots=True)
class Sample:
    """One single-line image: its readings' features and their errors.

    Attributes
    ----------
    features : LineFeatures
    errors : ndarray of float64, shape (H,)
        Edit distance of each reading to the truth (CER rule).
    length : int
        Characters of the normalised truth.
    group : str
        The set it comes from: each set weighs the same in the fit.
    """

    features: LineFeatures
    errors: NDArray[np.float64]
    length: int
    group: str = ""


@dataclass(frozen=True, slots=True)
class FitSet:
    """A folder of labelled line images and how to read it.

    Attributes
    ----------
    folder : Path
        Holds ``truth.tsv`` and the images (beside it or in ``images/``).
    charset : str or None
        Reading option for the set (``"digits"`` for amounts); a digits set is scored on digits.
    free_prefix : bool
        The images may begin with text the truth leaves out (the printed captions of the
        Kaggle names, "NOM :"): a reading's errors are counted from the start that fits the
        truth best.
    """

    folder: Path
    charset: str | None = None
    free_prefix: bool = False


def _normalise(text: str, digits: bool) -> str:
    from handocr.evaluate import normalise_for_cer

    return normalise_for_cer(text, digits_only=digits)


def collect(
    sets: Sequence[FitSet], weights: FusionWeights, *, limit: int | None = None
) -> tuple[list[Sample], list[str]]:
    """Read every set's images with the line members and keep the single-line samples.

    Parameters
    ----------
    sets : sequence of FitSet
    weights : FusionWeights
        Used inside the lattice alignment while the features are gathered.
    limit : int, optional
        At most this many images per set (in truth-file order).

    Returns
    -------
    (list of Sample, list of str)
        The samples and the line members' names (the columns of ``LineFeatures.ctc``).
    """
    from handocr.api import Recognizer
    from handocr.evaluate import read_truth

    samples: list[Sample] = []
    keys: list[str] = []
    for fs in sets:
        rec = Recognizer(charset=fs.charset)
        keys = [m.key for m in rec.line_members]
        rec._models.fusion = weights  # type: ignore[attr-defined]
        rows = read_truth(fs.folder / "truth.tsv")[:limit]
        seen: list[LineFeatures] = []
        rec._probe = seen.append
        digits = fs.charset == "digits"
        for name, text in rows:
            seen.clear()
            path = fs.folder / name
            if not path.is_file():
                path = fs.folder / "images" / name
            try:
                rec.read(path)
            except Exception as err:  # a bad image is skipped, as eval-pages reports it
                log.warning("%s: %s", name, err)
                continue
            truth = _normalise(text, digits)
            best: Sample | None = None
            for f in seen:
                errors = np.array(
                    [
                        _errors(_normalise("".join(FOLDED[s] for s in r), digits), truth, fs)
                        for r in f.readings
                    ],
                    np.float64,
                )
                if best is None or errors.min() < best.errors.min():
                    best = Sample(f, errors, len(truth), fs.folder.name)
            # the line that holds the field: a page read as several lines (a caption above,
            # a stray mark) gives its best-matching line, if one matches well enough
            if best is not None and (len(seen) == 1 or best.errors.min() <= 0.34 * len(truth)):
                samples.append(best)
        log.info("%s: %d single-line samples of %d images", fs.folder.name, len(samples), len(rows))
    return samples, keys


def _errors(reading: str, truth: str, fs: FitSet) -> int:
    """Edit distance of a reading to the truth (from its best start with ``free_prefix``)."""
    from rapidfuzz.distance import Levenshtein

    if not fs.free_prefix:
        return int(Levenshtein.distance(reading, truth))
    return min(int(Levenshtein.distance(reading[k:], truth)) for k in range(len(reading) + 1))


def _scores(theta: NDArray[np.float64], f: LineFeatures) -> NDArray[np.float64]:
    seg, char, ins, dele, punct, length = theta[:6]
    s = seg * f.segment + char * f.char + ins * f.inserts + dele * f.deletes
    s = s + punct * f.puncts + length * f.lengths
    return np.asarray(s + f.ctc @ theta[6:], np.float64)


def _unpack(theta: NDArray[np.float64], keys: Sequence[str], t: float) -> FusionWeights:
    kw = {n: float(v) for n, v in zip(_PARAMS, theta[:6], strict=True)}
    # punct multiplies the char weight inside the alignment: store it per unit of char weight
    kw["punct"] = kw["punct"] / kw["char"] if abs(kw["char"]) > 1e-6 else kw["punct"]
    line = {k: float(v) for k, v in zip(keys, theta[6:], strict=True)}
    return FusionWeights(line=line, temperature=t, **kw)


def _pack(w: FusionWeights, keys: Sequence[str]) -> NDArray[np.float64]:
    vals = [w.segment, w.char, w.insert, w.delete, w.punct * w.char, w.length]
    return np.array(vals + [w.line.get(k, 1.0) for k in keys], np.float64)


def fit_weights(
    samples: Sequence[Sample], keys: Sequence[str], start: FusionWeights
) -> tuple[FusionWeights, dict[str, Any]]:
    """Choose the weights that minimise the expected errors, then the temperature.

    Returns
    -------
    (FusionWeights, dict)
        The weights and a report: CER of the best reading before and after, of the best
        reading per sample (the oracle), and the samples' count.
    """
    from scipy.optimize import minimize

    total = max(1, sum(s.length for s in samples))
    groups = sorted({s.group for s in samples})
    per_group = {g: max(1, sum(s.length for s in samples if s.group == g)) for g in groups}

    def risk(theta: NDArray[np.float64], sharp: float) -> float:
        out = 0.0
        for s in samples:  # each set's expected CER, averaged over the sets
            z = sharp * _scores(theta, s.features)
            z = z - z.max()
            p = np.exp(z)
            out += float(p @ s.errors / p.sum()) / per_group[s.group]
        return out / len(groups)

    def cer(theta: NDArray[np.float64]) -> float:
        return sum(s.errors[int(np.argmax(_scores(theta, s.features)))] for s in samples) / total

    theta0 = _pack(start, keys)
    theta = theta0
    for sharp in (1.0, 3.0):
        res = minimize(risk, theta, args=(sharp,), method="Powell", options={"maxiter": 4000})
        if cer(res.x) <= cer(theta):
            theta = res.x

    def nll(log_t: float) -> float:
        t = float(np.exp(log_t))
        out = 0.0
        for s in samples:
            sc = _scores(theta, s.features) / t
            sc = sc - sc.max()
            p = np.exp(sc) / np.exp(sc).sum()
            k = int(np.argmax(sc))
            y = float(s.errors[k] == 0)
            q = float(np.clip(p[k], 1e-6, 1 - 1e-6))
            out -= y * np.log(q) + (1 - y) * np.log(1 - q)
        return out / max(1, len(samples))

    from scipy.optimize import minimize_scalar

    t = float(np.exp(minimize_scalar(nll, bounds=(-4, 4), method="bounded").x))
    oracle = sum(float(s.errors.min()) for s in samples) / total
    own = sum(float(s.errors[0]) for s in samples) / total
    report = {
        "samples": len(samples),
        "cer_start": round(cer(theta0), 5),
        "cer_fitted": round(cer(theta), 5),
        "cer_character_members": round(own, 5),
        "cer_oracle": round(oracle, 5),
    }
    return _unpack(theta, keys, t), report


def held_out(index: int, holdout: float) -> bool:
    """Whether sample ``index`` is kept out of the fit (every ``1 / holdout``-th, spread evenly)."""
    if holdout <= 0:
        return False
    return int((index + 1) * holdout) != int(index * holdout)


def evaluate(
    samples: Sequence[Sample], keys: Sequence[str], weights: FusionWeights
) -> dict[str, float]:
    """CER and exact share of the fused reading, the character members' and each line member's.

    A line member alone reads the reading its CTC probability ranks first among the candidates
    (its beam's best, unless a recombination scores higher with it alone).
    """
    total = max(1, sum(s.length for s in samples))
    n = max(1, len(samples))
    pick: dict[str, list[int]] = {"fused": [], "characters": []}
    for s in samples:
        pick["fused"].append(int(np.argmax(weights.score(s.features, keys))))
        pick["characters"].append(0)
        for m, key in enumerate(keys):
            pick.setdefault(key, []).append(int(np.argmax(s.features.ctc[:, m])))
    out: dict[str, float] = {"samples": float(len(samples))}
    for name, chosen in pick.items():
        errs = [float(s.errors[k]) for s, k in zip(samples, chosen, strict=True)]
        out[f"cer_{name}"] = round(sum(errs) / total, 5)
        out[f"exact_{name}"] = round(sum(e == 0 for e in errs) / n, 4)
    out["cer_oracle"] = round(sum(float(s.errors.min()) for s in samples) / total, 5)
    return out


def fit_fusion(
    sets: Sequence[FitSet],
    *,
    start: FusionWeights | None = None,
    rounds: int = 2,
    limit: int | None = None,
    holdout: float = 0.2,
) -> tuple[FusionWeights, dict[str, Any]]:
    """Gather features and fit the weights, ``rounds`` times (see the module).

    Parameters
    ----------
    sets : sequence of FitSet
    start : FusionWeights, optional
        Where the fit starts (default the defaults).
    rounds : int
        Gather-and-fit rounds (>= 1).
    limit : int, optional
        At most this many images per set.
    holdout : float
        Share of each set's samples kept out of the fit and scored (:func:`evaluate`).

    Returns
    -------
    (FusionWeights, dict)
        The fitted weights and the last round's report (fit and held-out figures per set).
    """
    w = start or FusionWeights()
    report: dict[str, Any] = {}
    for r in range(rounds):
        fit: list[Sample] = []
        held: dict[str, list[Sample]] = {}
        keys: list[str] = []
        for fs in sets:
            samples, keys = collect([fs], w, limit=limit)
            for k, s in enumerate(samples):
                (held.setdefault(fs.folder.name, []) if held_out(k, holdout) else fit).append(s)
        w, report = fit_weights(fit, keys, w)
        report["round"] = r + 1
        report["held_out"] = {name: evaluate(ss, keys, w) for name, ss in held.items()}
        log.info("fusion fit round %d: %s", r + 1, report)
    return w, report
