"""Fitting the lexicon's weights (:class:`handocr.lexicon.LexiconWeights`) on train splits.

The images of a train split are read with a lexicon (:func:`handocr.train.fusion.collect`
with :attr:`handocr.train.fusion.FitSet.lexicon`): each line's candidate readings, free and
lexicon-made, keep their score parts and their edit distance to the truth. The two weights
(``hit``, ``gain``) are then chosen on a grid to read the most fields exactly (the best
reading by ``fusion score + hit * share + gain * gains`` with no error), ties going to the
smaller weights; the fusion's own weights stay as fitted.

The lexicon used for fitting must not hold the split's own labels: the shipped ``names`` list
adds the Kaggle names train labels, so the fit reads with the list built without them
(``python -m handocr.train.lexicons names ... --out runs/lexicon/names-public.tsv.gz``), which
holds about as many of the train fields' names as the shipped list holds of unseen fields'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.fusion import FusionWeights
from handocr.lexicon import LexiconWeights
from handocr.readings import lexicon_scores
from handocr.train.fusion import Sample

__all__ = ["GRID_GAIN", "GRID_HIT", "exact_share", "fit_lexicon_weights"]

GRID_HIT = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
"""Values of :attr:`LexiconWeights.hit` tried."""

GRID_GAIN = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
"""Values of :attr:`LexiconWeights.gain` tried."""


def _base(samples: Sequence[Sample], weights: FusionWeights, keys: Sequence[str]) -> list[Any]:
    return [weights.score(s.features, keys) for s in samples]


def exact_share(
    samples: Sequence[Sample],
    base: Sequence[NDArray[np.float64]],
    hit: float,
    gain: float,
) -> float:
    """Share of samples whose best reading under ``base + hit * share + gain * gains`` is exact.

    Samples gathered without a lexicon (no ``hits``) are scored on ``base`` alone; with
    ``hit = gain = 0`` the readings the lexicon made are left out (the free reading).
    """
    # no lexicon weight: as read without one, its readings not made
    lw = None if hit == 0 and gain == 0 else LexiconWeights(hit, gain)
    right = 0
    for s, b in zip(samples, base, strict=True):
        right += s.errors[int(np.argmax(lexicon_scores(b, s.features, lw)))] == 0
    return right / max(len(samples), 1)


def fit_lexicon_weights(
    samples: Sequence[Sample],
    weights: FusionWeights,
    keys: Sequence[str],
    *,
    held_out: Sequence[Sample] = (),
    base_weights: LexiconWeights | None = None,
) -> tuple[LexiconWeights, dict[str, Any]]:
    """Choose ``hit`` and ``gain`` on the grids (:data:`GRID_HIT`, :data:`GRID_GAIN`).

    Parameters
    ----------
    samples : sequence of Sample
        Lines read with the lexicon (their features hold ``hits`` and ``gains``).
    weights : FusionWeights
        The fusion's weights the lines were read with.
    keys : sequence of str
        The line members' names (the columns of the features' ``ctc``).
    held_out : sequence of Sample, optional
        Only scored, with the chosen weights and with none.
    base_weights : LexiconWeights, optional
        Its lookup settings (``distance``, ``neighbours``, ``readings``) are kept.

    Returns
    -------
    (LexiconWeights, dict)
        The weights (with the fit's ``report``) and the report: exact share of the fitted
        samples per grid point, and of the held-out ones without a lexicon and with it.

    Raises
    ------
    ValueError
        No sample.
    """
    if not samples:
        raise ValueError("no samples to fit the lexicon weights on")
    base = _base(samples, weights, keys)
    table = {
        (hit, gain): exact_share(samples, base, hit, gain) for hit in GRID_HIT for gain in GRID_GAIN
    }
    hit, gain = max(table, key=lambda k: (table[k], -k[0] - 10 * k[1]))
    report: dict[str, Any] = {
        "samples": len(samples),
        "exact_without": table[(0.0, 0.0)],
        "exact_fitted": table[(hit, gain)],
        "grid": {f"{h}/{g}": round(v, 4) for (h, g), v in table.items()},
    }
    if held_out:
        hb = _base(held_out, weights, keys)
        report["held_out"] = {
            "samples": len(held_out),
            "exact_without": exact_share(held_out, hb, 0.0, 0.0),
            "exact_with": exact_share(held_out, hb, hit, gain),
        }
    lw = base_weights or LexiconWeights()
    fitted = LexiconWeights(hit, gain, lw.distance, lw.neighbours, lw.readings, report)
    return fitted, report
