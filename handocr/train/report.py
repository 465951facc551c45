"""One HTML page that shows how good the members are and where they fail (``handocr report``).

Figures are drawn with matplotlib (Agg) into PNG files beside ``index.html``; the page is
rendered with Jinja2 (autoescaped; template ``handocr/web/report.html``); it needs no server.
Every number on it is also written to ``metrics.json``; the scores are
:mod:`handocr.train.metrics`'. Sections, each drawn by one helper:

- **data**: a grid of test samples per class as the members see them (28 x 28 after
  :mod:`handocr.crops`), each row named by its class, the class distribution of train and test,
  pixel-intensity histograms;
- **training**: loss, accuracy and learning-rate curves of each ``history.csv`` given (written by
  ``handocr train`` in its run folder);
- **accuracy**: per-class precision, recall and F1 (scikit-learn's ``classification_report``),
  top-1 / top-2 / folded accuracy, the row-normalised confusion matrix with look-alike classes
  (:data:`handocr.train.metrics.FOLDED_GROUPS`) side by side, the most-confused pairs with
  examples;
- **scores**: one-vs-rest ROC and precision-recall curves (micro and macro average and the ten
  classes of lowest AUC; the macro ROC averages the classes' curves at the union of their
  false-positive rates, :func:`handocr.train.metrics.macro_roc`), AUC per class
  (scikit-learn's ``roc_auc_score`` and ``average_precision_score``), and a reliability diagram
  with the ECE before and after the members' temperature scaling (``p ** T`` renormalised
  undoes a temperature ``T``);
- **members**: each member's scores, their agreement, the oracle accuracy and the cascade's
  share of escalated characters, and the mean absolute activation of up to six convolutions of
  each member (torch, forward hooks) for an image of the most-confused pair and one of the class
  it is mistaken for;
- **real pages** (``--pages``): each set's CER with its 95 % interval and an error gallery of the
  worst images with their overlays, the truth beside the reading.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.train.report_figures import (
    activation_maps,
    class_distribution,
    confusion_figure,
    field_figures,
    history_figures,
    pair_examples,
    pixel_histograms,
    reliability_figure,
    samples_grid,
    score_curves,
)

if TYPE_CHECKING:
    from handocr.ensemble import Ensemble
    from handocr.train.metrics import ClassifierReport

__all__ = ["build_report", "training_report", "undo_temperature"]

log = logging.getLogger(__name__)


def undo_temperature(probs: NDArray[np.float32], temperature: float) -> NDArray[np.float64]:
    """Return the probabilities before temperature scaling: ``p ** T``, renormalised.

    ``softmax(z / T) ** T`` is proportional to ``softmax(z)``, so the member's raw
    probabilities come back from its calibrated ones without its logits.

    Parameters
    ----------
    probs : ndarray, shape (N, C)
        Calibrated probabilities (rows sum to 1).
    temperature : float
        The member's temperature (> 0).

    Returns
    -------
    ndarray of float64, shape (N, C)
        The uncalibrated probabilities, rows summing to 1.
    """
    p = np.clip(probs.astype(np.float64), 1e-300, 1.0) ** float(temperature)
    out: NDArray[np.float64] = p / p.sum(1, keepdims=True)
    return out


def _render(out: Path, **context: Any) -> Path:
    """Render ``handocr/web/report.html`` with ``context`` into ``out/index.html``."""
    from importlib import resources

    import jinja2

    template = resources.files("handocr").joinpath("web/report.html").read_text(encoding="utf-8")
    html = jinja2.Environment(autoescape=True).from_string(template).render(**context)
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def training_report(run_dir: Path) -> Path:
    """Write a training run's page, ``run_dir/report/index.html``, with its curves.

    The layout of :func:`build_report`; ``handocr train`` calls it at the end of a run.

    Parameters
    ----------
    run_dir : Path
        The run folder of ``handocr train``, holding ``history.csv``.

    Returns
    -------
    Path
        The page written.

    Raises
    ------
    DataError
        ``run_dir/history.csv`` missing or malformed.
    MissingExtraError
        matplotlib or Jinja2 not installed.
    """
    from handocr.errors import require_extra

    require_extra("the training report", ("matplotlib", "jinja2"))
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    return _render(out, n=0, curves=history_figures(out, [run_dir / "history.csv"]))


@dataclass(frozen=True)
class _Run:
    """The test crops and everything the sections read of the members' votes on them."""

    images: NDArray[np.uint8]  # (N, 28, 28), upright, ink 255
    y: NDArray[np.int64]  # (N,) labels
    train_labels: NDArray[np.int64] | None  # of the train split, when the folder has one
    ens: Ensemble
    per: NDArray[np.float32]  # (M, N, 47) the members' probabilities
    report: ClassifierReport
    probs: NDArray[np.float32]  # (N, 47) the vote
    before: NDArray[np.float32]  # (N, 47) the vote of the members' uncalibrated probabilities
    auc: NDArray[np.float64]  # (47,) one-vs-rest ROC AUC, NaN where undefined
    ap: NDArray[np.float64]  # (47,) average precision, NaN where undefined


def _evaluate(
    data: str | None, split: str, models: Sequence[str] | None, limit: int | None
) -> _Run:
    """Read the test split, run the members once, and score their vote."""
    from handocr.ensemble import Ensemble, combine_votes
    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.metrics import evaluate_classifier, one_vs_rest

    test = load_emnist(data, split, "test")
    images, y = test.images, to_label_space(test)
    if limit is not None:
        images, y = images[:limit], y[:limit]
    try:
        train_labels: NDArray[np.int64] | None = to_label_space(load_emnist(data, split, "train"))
    except Exception:  # a test-only folder: the distribution shows test alone
        train_labels = None
    ens = Ensemble.from_names(models, cascade="auto")
    per = ens.member_proba((images.astype(np.float32) / 255.0)[:, None])  # once, for all
    probs = combine_votes(per, ens.weights, ens.voting)
    temps = [float(m.temperature) for m in ens.members]
    raw = np.stack([undo_temperature(p, t) for p, t in zip(per, temps, strict=True)])
    before = combine_votes(raw.astype(np.float32), ens.weights, ens.voting)
    auc, ap = one_vs_rest(y, probs)
    report = evaluate_classifier(ens, images, y, per)
    return _Run(images, y, train_labels, ens, per, report, probs, before, auc, ap)


def _data_section(
    out: Path, run: _Run, crops: NDArray[np.uint8], read_as: NDArray[np.int64]
) -> dict[str, Any]:
    """Draw samples per class (test split, real page crops), class shares and pixels."""
    samples_grid(out, run.images, run.y)
    pixel_sets: dict[str, NDArray[np.uint8]] = {"EMNIST test": run.images}
    if len(crops):
        pixel_sets["real page crops"] = crops
        samples_grid(out, crops, read_as, name="samples_real.png")
    class_distribution(out, run.train_labels, run.y, read_as)
    pixel_histograms(out, pixel_sets)
    return {"real_samples": bool(len(crops))}


def _accuracy_section(out: Path, run: _Run) -> dict[str, Any]:
    """Score each reading and each class; draw the confusion matrix and the confused pairs."""
    from sklearn.metrics import classification_report

    from handocr.labels import LABELS

    report = run.report
    cls = classification_report(
        run.y, report.y_pred, labels=list(range(len(LABELS))), output_dict=True, zero_division=0
    )
    per_class = [
        {
            "label": LABELS[c],
            "precision": cls[str(c)]["precision"],
            "recall": cls[str(c)]["recall"],
            "f1": cls[str(c)]["f1-score"],
            "support": int(cls[str(c)]["support"]),
            "auc": float(run.auc[c]),
            "ap": float(run.ap[c]),
        }
        for c in range(len(LABELS))
    ]
    pairs = confusion_figure(out, run.y, report.y_pred)
    pair_examples(out, pairs, run.images, run.y, report.y_pred)
    scores = {"ensemble": report.ensemble, **report.members}
    if report.cascade is not None:
        scores["cascade (default reading)"] = report.cascade
    return {
        "scores": scores,
        "agreement": report.agreement,
        "oracle": report.oracle,
        "escalated": report.escalated,
        "per_class": per_class,
        "pairs": pairs,
    }


def _scores_section(out: Path, run: _Run) -> dict[str, Any]:
    """Draw ROC, precision-recall and reliability; return the AUCs and ECE around calibration."""
    from sklearn.metrics import roc_auc_score

    from handocr.train.metrics import expected_calibration_error

    valid = ~np.isnan(run.auc)
    onehot = run.y[:, None] == np.arange(run.probs.shape[1])[None]
    score_curves(out, run.y, run.probs, run.auc)
    reliability_figure(out, run.y, run.before, run.probs)
    return {
        "auc_micro": float(roc_auc_score(onehot[:, valid].ravel(), run.probs[:, valid].ravel())),
        "auc_macro": float(np.mean(run.auc[valid])),
        "ece_before": expected_calibration_error(run.before, run.y),
        "ece_after": expected_calibration_error(run.probs, run.y),
    }


def _members_section(
    out: Path, run: _Run, models: Sequence[str] | None, pairs: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the cascade's share of characters per stage; draw the worst pair's activations."""
    ens, y, pred = run.ens, run.y, run.report.y_pred
    stages: list[dict[str, Any]] = []
    if ens.cascade is not None and len(ens.members) > 1:
        from handocr.ensemble import staged_combine

        _, reached = staged_combine(
            run.per, ens.weights, ens.voting, ens.cascade_stages, ens.cascade_margins
        )
        keys = [m.info.key for m in ens.members]
        stages = [{"stage": 1, "members": [keys[i] for i in ens.cascade_stages[0]], "share": 1.0}]
        stages += [
            {
                "stage": s + 2,
                "members": [keys[i] for i in ens.cascade_stages[s + 1]],
                "share": float(reached[s].mean()),
            }
            for s in range(len(reached))
        ]
    activations: list[str] = []
    if pairs:
        t, p = pairs[0]["t"], pairs[0]["p"]
        pick = [int(np.flatnonzero((y == t) & (pred == p))[0])]
        pick.append(int(np.flatnonzero(y == p)[0]) if (y == p).any() else pick[0])
        titles = [f"{pairs[0]['true']} read {pairs[0]['read']}", f"a {pairs[0]['read']}"]
        try:
            activations = activation_maps(out, models, run.images[pick], titles)
        except Exception as err:  # e.g. no torch: the rest of the report stands
            log.warning("activation maps skipped: %s", err)
    return {"stages": stages, "activations": activations}


def _metrics(page: dict[str, Any]) -> dict[str, Any]:
    """Return the numbers of the page, as ``metrics.json`` holds them."""
    return {
        "n": page["n"],
        "split": page["split"],
        "members": page["members"],
        "scores": {name: asdict(s) for name, s in page["scores"].items()},
        "agreement": page["agreement"],
        "oracle": page["oracle"],
        "escalated": page["escalated"],
        "cascade_stages": page["stages"],
        "per_class": page["per_class"],
        "auc_micro": page["auc_micro"],
        "auc_macro": page["auc_macro"],
        "ece_before": page["ece_before"],
        "ece_after": page["ece_after"],
        "confused_pairs": [
            {k: v for k, v in p.items() if k not in ("t", "p")} for p in page["pairs"]
        ],
        "page_sets": page["page_sets"],
    }


def build_report(
    out: Path,
    *,
    data: str | None = None,
    split: str = "pool47",
    models: Sequence[str] | None = None,
    pages: Path | None = None,
    histories: Sequence[Path] = (),
    limit: int | None = None,
) -> Path:
    """Write the report into ``out`` and return the path of its ``index.html``.

    Beside the page: its figures (PNG), ``metrics.json`` with every number on it and, with
    ``pages``, ``gallery/`` with the overlays of the worst images.

    Parameters
    ----------
    out : Path
        Created if missing.
    data : str, optional
        EMNIST IDX folder (:func:`handocr.train.data.resolve_data_dir`).
    split : str, default "pool47"
    models : sequence of str, optional
        Members (default the shipped ensemble).
    pages : Path, optional
        A folder of page sets (``handocr eval-pages``'s layout) for the real-pages section.
    histories : sequence of Path
        ``history.csv`` files of training runs (or JSON lists of the same rows).
    limit : int, optional
        Evaluate at most this many test images (the first, for a quick report).

    Returns
    -------
    Path
        ``out / "index.html"``.

    Raises
    ------
    DataError, WeightsError, MissingExtraError
        Missing data, unusable weights, or the ``train`` extra (scikit-learn, matplotlib,
        Jinja2) not installed.
    """
    from handocr.errors import require_extra

    require_extra("handocr report", ("sklearn", "matplotlib", "jinja2"))
    out.mkdir(parents=True, exist_ok=True)
    run = _evaluate(data, split, models, limit)
    page: dict[str, Any] = {
        "n": len(run.y),
        "split": split,
        "members": [m.info.key for m in run.ens.members],
    }
    page |= _accuracy_section(out, run)
    page |= _scores_section(out, run)
    page |= _members_section(out, run, models, page["pairs"])
    page["curves"] = history_figures(out, histories)  # the training section
    page["page_sets"], page["gallery"], crops, read_as = _pages_section(out, pages, models)
    page |= _data_section(out, run, crops, read_as)
    (out / "metrics.json").write_text(
        json.dumps(_metrics(page), indent=1, default=float), encoding="utf-8"
    )
    return _render(out, **page)


def _pages_section(
    out: Path, root: Path | None, models: Sequence[str] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], NDArray[np.uint8], NDArray[np.int64]]:
    """Score the page sets (CER with its interval); draw the worst images; crop the first ones.

    The crops (28 x 28, as the members saw them) come from the first 20 images of each set,
    each labelled with the class it was read as. Without ``root``, all of them are empty.
    """
    import cv2

    from handocr.api import Recognizer
    from handocr.crops import pieces_to_model_input
    from handocr.evaluate import evaluate_page_sets
    from handocr.io import load_pages
    from handocr.labels import index_of
    from handocr.overlay import draw_overlay
    from handocr.train.data import to_uint8_images

    sets: list[dict[str, Any]] = []
    gallery: list[dict[str, Any]] = []
    crops = [np.zeros((0, 28, 28), np.uint8)]
    read_as: list[int] = []
    if root is None:
        return sets, gallery, crops[0], np.zeros(0, np.int64)
    rec = Recognizer(models=tuple(models) if models else None)
    (out / "gallery").mkdir(exist_ok=True)
    fields: list[dict[str, Any]] = []
    for name, s in evaluate_page_sets(rec, root).items():
        rates = {e: r[0] for e, r in s.read_rates.items()}
        sets.append(
            {
                "name": name,
                "images": s.images,
                "cer": s.cer,
                "low": s.cer_low,
                "high": s.cer_high,
                "exact": s.exact,
                "read_1": rates.get("0.01", 0.0),
                "read_01": rates.get("0.001", 0.0),
                "ece": s.calibration_error,
            }
        )
        fields.append(_field_outcomes(name, s))
        for r in s.rows[:20]:
            (image,) = load_pages(root / name / r["file"])
            (record,) = rec.read_images([image])
            page, pieces = record.unwrap(), list(record.pieces or ())
            chars = [c for line in page.lines for c in line.all_chars()]
            if pieces:
                crops.append(to_uint8_images(pieces_to_model_input(pieces)))
                read_as += [index_of(c.text) for c in chars]
        worst = sorted(s.rows, key=lambda r: -r["distance"])[:3]
        for r in worst:
            if r["distance"] == 0:
                continue
            (image,) = load_pages(root / name / r["file"])
            page = rec.read_images([image])[0].unwrap()
            target = out / "gallery" / f"{name}_{Path(r['file']).stem}.png"
            cv2.imwrite(str(target), draw_overlay(image, page))
            gallery.append(
                {
                    "set": name,
                    "file": r["file"],
                    "truth": r["truth"],
                    "output": r["output"],
                    "distance": r["distance"],
                    "image": f"gallery/{target.name}",
                }
            )
    if fields:
        sets[0]["figures"] = field_figures(out, fields)
    return sets, gallery, np.concatenate(crops), np.asarray(read_as, np.int64)


def _field_outcomes(name: str, s: Any) -> dict[str, Any]:
    """Return a set's fields (one per image) and words as ``(confidence, right)`` arrays."""
    from functools import partial

    from handocr.evaluate import normalise_for_cer
    from handocr.fieldscore import word_outcomes

    line = (
        np.asarray([r["confidence"] for r in s.rows], np.float64),
        np.asarray([r["distance"] == 0 for r in s.rows], bool),
    )
    word = word_outcomes(s.rows, partial(normalise_for_cer, digits_only=s.digits_only))
    return {"name": name, "line": line, "word": word}
