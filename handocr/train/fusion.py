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
features may be gathered again with the fitted weights and refitted (``rounds``). A line
member's further views (a second crop of each line) and further members are kept only where they
lower the held-out CER: the fit is made with every line reading, with each member's first view,
and with the first member alone, and the best on the held-out images of the group's sets wins
(a reading whose weights are zero is not computed when reading).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.fusion import FusionWeights, LineFeatures
from handocr.models.line import FOLDED

__all__ = [
    "FitSet",
    "Sample",
    "collect",
    "evaluate",
    "fit_fusion",
    "fit_weights",
    "held_out",
    "only_readings",
    "reading_choices",
]

log = logging.getLogger(__name__)

RIDGE = 1e-5
"""Weight of the squared weights in the fit's objective: the scores' scale stays finite (the
expected errors alone keep falling as the posterior hardens)."""


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
    """Labelled line images (a folder, or generated fields) and how to read them.

    Attributes
    ----------
    folder : Path
        Holds ``truth.tsv`` and the images (beside it or in ``images/``); for generated
        ``items``, only its name is used.
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
    items: tuple[tuple[NDArray[np.uint8], str], ...] | None = None
    """Generated images with their text, read instead of the folder's."""
    lexicon: str | None = None
    """Reading option: the lexicon the readings are also scored with (:mod:`handocr.lexicon`)."""

    def rows(self, limit: int | None) -> list[tuple[Any, str, str]]:
        """``(source, name, text)`` of each image: a path or an array."""
        from handocr.evaluate import read_truth

        if self.items is not None:
            return [(img, f"{self.folder.name}#{k}", t) for k, (img, t) in enumerate(self.items)][
                :limit
            ]
        out = []
        for name, text in read_truth(self.folder / "truth.tsv")[:limit]:
            path = self.folder / name
            out.append((path if path.is_file() else self.folder / "images" / name, name, text))
        return out


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

    samples: list[Sample] = []
    keys: list[str] = []
    for fs in sets:
        rec = Recognizer(charset=fs.charset, lexicon=fs.lexicon)
        # every view is read while gathering, also one a previous round dropped
        views = {k: (v or 1.0) for k, v in weights.line.items()}
        rec._models.fusion[fs.charset] = dataclasses.replace(weights, line=views)
        keys = rec.line_keys
        rows = fs.rows(limit)
        n0 = len(samples)
        seen: list[LineFeatures] = []
        rec.probe = seen.append
        digits = fs.charset == "digits"
        for source, name, text in rows:
            seen.clear()
            try:
                rec.read(source)
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
        log.info("%s: %d samples of %d images", fs.folder.name, len(samples) - n0, len(rows))
    return samples, keys


def _errors(reading: str, truth: str, fs: FitSet) -> int:
    """Edit distance of a reading to the truth (from its best start with ``free_prefix``)."""
    from rapidfuzz.distance import Levenshtein

    if not fs.free_prefix:
        return int(Levenshtein.distance(reading, truth))
    return min(int(Levenshtein.distance(reading[k:], truth)) for k in range(len(reading) + 1))


_FREE = ("segment", "char", "insert", "delete", "punct", "length", "own_distance")


def _features(f: LineFeatures) -> NDArray[np.float64]:
    """Return the readings' score parts as columns, in the order of :func:`_pack`, then the CTC."""
    cols = [f.segment, f.char, f.inserts, f.deletes, f.puncts, f.lengths, f.distance[:, 0]]
    return np.column_stack([*cols, f.ctc[:, 1:], f.distance[:, 1:], f.ctc[:, :1]])


def _scores(theta: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scores of the readings: the first line member's CTC weight is fixed to 1 (the scale)."""
    return np.asarray(x[:, :-1] @ theta + x[:, -1], np.float64)


def _unpack(theta: NDArray[np.float64], keys: Sequence[str], t: float) -> FusionWeights:
    kw = {n: float(v) for n, v in zip(_FREE, theta[:7], strict=True)}
    # punct multiplies the char weight in the score: store it per unit of char weight
    kw["punct"] = kw["punct"] / kw["char"] if abs(kw["char"]) > 1e-6 else 0.0
    m = len(keys)
    line = {keys[0]: 1.0} | {k: float(v) for k, v in zip(keys[1:], theta[7 : 6 + m], strict=True)}
    dist = {k: float(v) for k, v in zip(keys, theta[6 + m : 6 + 2 * m], strict=True)}
    return FusionWeights(line=line, line_distance=dist, temperature=t, **kw)


def _pack(w: FusionWeights, keys: Sequence[str]) -> NDArray[np.float64]:
    """Return the free weights as a vector, scaled so that the first line member's is 1."""
    scale = w.line.get(keys[0], 1.0) if keys else 1.0
    vals = [w.segment, w.char, w.insert, w.delete, w.punct * w.char, w.length, w.own_distance]
    vals += [w.line.get(k, 1.0) for k in keys[1:]]
    vals += [w.line_distance.get(k, 0.0) for k in keys]
    return np.array(vals, np.float64) / scale


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

    xs = [_features(s.features) for s in samples]
    total = max(1, sum(s.length for s in samples))
    groups = sorted({s.group for s in samples})
    per_group = {g: max(1, sum(s.length for s in samples if s.group == g)) for g in groups}

    def risk(theta: NDArray[np.float64], sharp: float) -> float:
        out = 0.0
        for s, x in zip(samples, xs, strict=True):  # each set's expected CER, set-averaged
            z = sharp * _scores(theta, x)
            z = z - z.max()
            p = np.exp(z)
            out += float(p @ s.errors / p.sum()) / per_group[s.group]
        return out / len(groups) + RIDGE * float(theta @ theta)

    def cer(theta: NDArray[np.float64]) -> float:
        chosen = (int(np.argmax(_scores(theta, x))) for x in xs)
        return sum(float(s.errors[k]) for s, k in zip(samples, chosen, strict=True)) / total

    theta0 = _pack(start, keys)
    theta = theta0
    for sharp in (1.0, 3.0):
        res = minimize(risk, theta, args=(sharp,), method="Powell", options={"maxiter": 4000})
        if cer(res.x) <= cer(theta):
            theta = res.x

    def nll(log_t: float) -> float:
        t = float(np.exp(log_t))
        out = 0.0
        for s, x in zip(samples, xs, strict=True):
            sc = _scores(theta, x) / t
            sc = sc - sc.max()
            p = np.exp(sc) / np.exp(sc).sum()
            k = int(np.argmax(sc))
            y = float(s.errors[k] == 0)
            q = float(np.clip(p[k], 1e-6, 1 - 1e-6))
            out -= y * np.log(q) + (1 - y) * np.log(1 - q)
        return out / max(1, len(samples))

    from scipy.optimize import minimize_scalar

    t = float(np.exp(minimize_scalar(nll, bounds=(-8, 8), method="bounded").x))
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


def only_readings(
    samples: Sequence[Sample], keys: Sequence[str], kept: Sequence[str]
) -> list[Sample]:
    """Return the samples with the line readings not in ``kept`` zeroed (no evidence)."""
    drop = [m for m, k in enumerate(keys) if k not in kept]
    out = []
    for s in samples:
        ctc, dist = s.features.ctc.copy(), s.features.distance.copy()
        ctc[:, drop] = 0.0
        dist[:, [1 + m for m in drop]] = 0.0
        f = dataclasses.replace(s.features, ctc=ctc, distance=dist)
        out.append(dataclasses.replace(s, features=f))
    return out


def _only(w: FusionWeights, keys: Sequence[str], kept: Sequence[str]) -> FusionWeights:
    """Weights that are zero for the readings not in ``kept``: reading skips those."""
    line = dict(w.line) | {k: 0.0 for k in keys if k not in kept}
    dist = dict(w.line_distance) | {k: 0.0 for k in keys if k not in kept}
    return dataclasses.replace(w, line=line, line_distance=dist)


def reading_choices(keys: Sequence[str]) -> dict[str, list[str]]:
    """Return the sets of line readings a fit compares, by name.

    Every reading, each member's first view, and the first member's first view alone
    (duplicates dropped).
    """
    first = [k for k in keys if "~" not in k]
    out = {"every reading": list(keys), "first views": first, "first member": first[:1]}
    unique: dict[str, list[str]] = {}
    for name, kept in out.items():
        if kept and kept not in unique.values():
            unique[name] = kept
    return unique


def _fit_group(
    fit: list[Sample],
    held: dict[str, list[Sample]],
    keys: list[str],
    start: FusionWeights,
    real: set[str] | None = None,
) -> tuple[FusionWeights, dict[str, Any]]:
    """Fit with each set of line readings (:func:`reading_choices`); keep the best held out.

    A further view (a second crop of each line) or a further member costs a run of a network:
    it is kept only where it lowers the held-out CER, averaged over the group's sets of real
    images (``real``; generated fields inform the weights, not this choice; ties go to the
    smaller set, listed later).
    """
    fits: dict[str, tuple[FusionWeights, dict[str, Any]]] = {}
    for name, kept in reading_choices(keys).items():
        w, rep = fit_weights(only_readings(fit, keys, kept), keys, start)
        w = _only(w, keys, kept)
        rep["held_out"] = {
            n: evaluate(only_readings(ss, keys, kept), keys, w) for n, ss in held.items()
        }
        fits[name] = (w, rep)

    def mean_cer(rep: dict[str, Any]) -> float:
        cers = [r["cer_fused"] for n, r in rep["held_out"].items() if real is None or n in real]
        return float(np.mean(cers or [0.0]))

    best = min(fits, key=lambda n: (mean_cer(fits[n][1]), -list(fits).index(n)))
    w, rep = fits[best]
    rep["readings"] = {name: r["held_out"] for name, (_, r) in fits.items()} | {"kept": best}
    return w, rep


def fit_fusion(
    sets: Sequence[FitSet],
    *,
    rounds: int = 1,
    limit: int | None = None,
    holdout: float = 0.2,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Gather features and fit the weights, ``rounds`` times, apart for each charset.

    Sets read without a charset give the default weights; sets of one charset (``digits``)
    give that charset's (:meth:`handocr.fusion.FusionWeights.pick`).

    Parameters
    ----------
    sets : sequence of FitSet
    rounds : int
        Gather-and-fit rounds (>= 1).
    limit : int, optional
        At most this many images per set.
    holdout : float
        Share of each set's samples kept out of the fit and scored (:func:`evaluate`).

    Returns
    -------
    (dict, dict)
        The manifest's ``fusion`` entry (the default weights, ``by_charset``) and the reports
        of the last round, by charset (``"default"`` for none): fit and held-out figures.
    """
    entry: dict[str, Any] = {}
    reports: dict[str, Any] = {}
    kinds = sorted({fs.charset or "" for fs in sets})
    for kind in kinds:
        group = [fs for fs in sets if (fs.charset or "") == kind]
        w = FusionWeights()
        report: dict[str, Any] = {}
        for r in range(rounds):
            fit: list[Sample] = []
            held: dict[str, list[Sample]] = {}
            keys: list[str] = []
            for fs in group:
                samples, keys = collect([fs], w, limit=limit)
                for k, s in enumerate(samples):
                    (held.setdefault(fs.folder.name, []) if held_out(k, holdout) else fit).append(s)
            if not fit:
                raise ValueError(
                    f"no single-line sample to fit on in {[str(f.folder) for f in group]}"
                )
            real = {fs.folder.name for fs in group if fs.items is None}
            w, report = _fit_group(fit, held, keys, w, real)
            report["round"] = r + 1
            log.info("fusion fit (%s) round %d: %s", kind or "default", r + 1, report)
        reports[kind or "default"] = report
        if kind:
            entry.setdefault("by_charset", {})[kind] = w.to_dict()
        else:
            entry |= w.to_dict()
    return entry, reports
