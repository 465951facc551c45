"""One HTML page that shows how good the members are and where they fail (``handocr report``).

Figures are drawn with matplotlib (Agg) into PNG files beside ``index.html``; the page is
rendered with Jinja2 (autoescaped; template ``handocr/web/report.html``); it needs no server.
Every number on it is also written to ``metrics.json``. Sections:

- **data**: a grid of test samples per class as the members see them (28 x 28 after
  :mod:`handocr.crops`), the class distribution of train and test, pixel-intensity histograms;
- **training**: loss, accuracy and learning-rate curves of each ``history.csv`` given (written by
  ``handocr train`` in its run folder);
- **accuracy**: per-class precision, recall and F1 (scikit-learn's ``classification_report``),
  top-1 / top-2 / folded accuracy, the row-normalised confusion matrix with look-alike classes
  (:data:`handocr.evaluate.FOLDED_GROUPS`) side by side, the most-confused pairs with examples;
- **scores**: one-vs-rest ROC and precision-recall curves (micro and macro average and the ten
  classes of lowest AUC), AUC per class (scikit-learn's ``roc_auc_score`` and
  ``average_precision_score``), and a reliability diagram with the ECE before and after the
  members' temperature scaling (``p ** T`` renormalised undoes a temperature ``T``);
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
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["build_report", "class_order", "reliability", "training_report", "undo_temperature"]

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
    """
    p = np.clip(probs.astype(np.float64), 1e-300, 1.0) ** float(temperature)
    out: NDArray[np.float64] = p / p.sum(1, keepdims=True)
    return out


def class_order() -> list[int]:
    """Return the 47 class indices ordered so that look-alike classes sit together.

    Each group of :data:`handocr.evaluate.FOLDED_GROUPS` comes first, in its order, then the
    other classes in label order.
    """
    from handocr.evaluate import FOLDED_GROUPS
    from handocr.labels import LABELS

    order = [LABELS.index(c) for group in FOLDED_GROUPS for c in group]
    return order + [k for k in range(len(LABELS)) if k not in order]


def reliability(
    probs: NDArray[np.floating[Any]], labels: NDArray[np.int64], bins: int = 15
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Return each confidence bin's mean confidence, accuracy and count (equal-width bins)."""
    conf = probs.max(1)
    hit = probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    mean_conf = np.bincount(idx, conf, minlength=bins) / np.maximum(counts, 1)
    acc = np.bincount(idx, hit.astype(np.float64), minlength=bins) / np.maximum(counts, 1)
    return mean_conf, acc, counts


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> str:
    fig.savefig(path, dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return path.name


def _samples(
    out: Path,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    per: int = 8,
    name: str = "samples.png",
) -> None:
    from handocr.labels import LABELS

    plt = _plt()
    fig, axes = plt.subplots(len(LABELS), per, figsize=(per * 0.5, len(LABELS) * 0.5))
    for c in range(len(LABELS)):
        idx = np.flatnonzero(labels == c)[:per]
        for j in range(per):
            ax = axes[c, j]
            ax.axis("off")
            if j < len(idx):
                ax.imshow(images[idx[j]], cmap="gray", vmin=0, vmax=255)
        axes[c, 0].set_title(LABELS[c], fontsize=6, loc="left")
    _save(fig, out / name)


def _distribution(
    out: Path,
    train: NDArray[np.int64] | None,
    test: NDArray[np.int64],
    real: NDArray[np.int64] | None = None,
) -> None:
    from handocr.labels import LABELS

    plt = _plt()
    fig, ax = plt.subplots(figsize=(12, 3))
    x = np.arange(len(LABELS))
    if train is not None:
        ax.bar(
            x - 0.2,
            np.bincount(train, minlength=len(LABELS)) / max(len(train), 1),
            0.4,
            label="train",
        )
    ax.bar(x + 0.2, np.bincount(test, minlength=len(LABELS)) / max(len(test), 1), 0.4, label="test")
    if real is not None and len(real):
        share = np.bincount(real, minlength=len(LABELS)) / len(real)
        ax.plot(x, share, "k.", label="real page crops, as read")
    ax.set_xticks(x, LABELS, fontsize=7)
    ax.set_ylabel("share of images")
    ax.legend()
    _save(fig, out / "class_distribution.png")


def _pixels(out: Path, sets: dict[str, NDArray[np.uint8]]) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    for name, images in sets.items():
        values = images.reshape(-1)
        ax.hist(values[values > 0], bins=51, density=True, histtype="step", label=name)
    ax.set_xlabel("ink intensity (non-zero pixels)")
    ax.set_ylabel("density")
    ax.legend()
    _save(fig, out / "pixels.png")


def _confusion(out: Path, y: NDArray[np.int64], pred: NDArray[np.int64]) -> list[dict[str, Any]]:
    from sklearn.metrics import confusion_matrix

    from handocr.labels import LABELS

    order = class_order()
    cm = confusion_matrix(y, pred, labels=list(range(len(LABELS)))).astype(np.float64)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 9))
    ax.imshow(norm[np.ix_(order, order)], cmap="Blues", vmin=0, vmax=1)
    ticks = [LABELS[k] for k in order]
    ax.set_xticks(range(len(order)), ticks, fontsize=6)
    ax.set_yticks(range(len(order)), ticks, fontsize=6)
    ax.set_xlabel("read as")
    ax.set_ylabel("true class")
    _save(fig, out / "confusion.png")
    off = cm.copy()
    np.fill_diagonal(off, 0)
    pairs = []
    for flat in np.argsort(-off, axis=None)[:8]:
        t, p = np.unravel_index(flat, off.shape)
        if off[t, p] > 0:
            pairs.append(
                {
                    "true": LABELS[t],
                    "read": LABELS[p],
                    "count": int(off[t, p]),
                    "t": int(t),
                    "p": int(p),
                }
            )
    return pairs


def _pair_examples(
    out: Path,
    pairs: list[dict[str, Any]],
    images: NDArray[np.uint8],
    y: NDArray[np.int64],
    pred: NDArray[np.int64],
) -> None:
    plt = _plt()
    rows = max(len(pairs), 1)
    fig, axes = plt.subplots(rows, 5, figsize=(5 * 0.9, rows * 0.9), squeeze=False)
    for r, pair in enumerate(pairs):
        idx = np.flatnonzero((y == pair["t"]) & (pred == pair["p"]))[:5]
        for j in range(5):
            ax = axes[r, j]
            ax.axis("off")
            if j < len(idx):
                ax.imshow(images[idx[j]], cmap="gray", vmin=0, vmax=255)
        axes[r, 0].set_title(
            f"{pair['true']} read {pair['read']} ({pair['count']})", fontsize=7, loc="left"
        )
    for j in range(5):
        axes[rows - 1, j].axis("off")
    _save(fig, out / "confused_pairs.png")


def _curves(
    out: Path, y: NDArray[np.int64], probs: NDArray[np.floating[Any]], auc: NDArray[np.float64]
) -> None:
    from sklearn.metrics import precision_recall_curve, roc_curve
    from sklearn.preprocessing import label_binarize

    from handocr.labels import LABELS

    k = len(LABELS)
    onehot = label_binarize(y, classes=list(range(k)))
    worst = [int(c) for c in np.argsort(auc)[:10]]
    plt = _plt()
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(6, 5))
        if kind == "roc":
            fpr, tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
            ax.plot(fpr, tpr, lw=2, label="micro average")
            grid = np.linspace(0, 1, 201)
            macro = np.mean(
                [np.interp(grid, *roc_curve(onehot[:, c], probs[:, c])[:2]) for c in range(k)], 0
            )
            ax.plot(grid, macro, lw=2, label="macro average")
            for c in worst:
                f, t, _ = roc_curve(onehot[:, c], probs[:, c])
                ax.plot(f, t, lw=0.8, label=f"{LABELS[c]} (AUC {auc[c]:.3f})")
            ax.set_xscale("log")
            ax.set_xlim(1e-4, 1)
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
        else:
            p, r, _ = precision_recall_curve(onehot.ravel(), probs.ravel())
            ax.plot(r, p, lw=2, label="micro average")
            grid = np.linspace(0, 1, 201)
            curves = []
            for c in range(k):
                pc, rc, _ = precision_recall_curve(onehot[:, c], probs[:, c])
                curves.append(np.interp(grid, rc[::-1], pc[::-1]))
            ax.plot(grid, np.mean(curves, 0), lw=2, label="macro average")
            for c in worst:
                pc, rc, _ = precision_recall_curve(onehot[:, c], probs[:, c])
                ax.plot(rc, pc, lw=0.8, label=LABELS[c])
            ax.set_xlabel("recall")
            ax.set_ylabel("precision")
        ax.legend(fontsize=6)
        _save(fig, out / f"{kind}.png")


def _reliability(
    out: Path,
    y: NDArray[np.int64],
    before: NDArray[np.floating[Any]],
    after: NDArray[np.floating[Any]],
) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    for name, p in (("before temperature scaling", before), ("after", after)):
        conf, acc, counts = reliability(p, y)
        keep = counts > 0
        ax.plot(conf[keep], acc[keep], "o-", label=name)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend()
    _save(fig, out / "reliability.png")


def _read_history(path: Path) -> list[dict[str, float]]:
    """Rows of a run's ``history.csv`` (written by ``handocr train``) or a JSON list of them.

    Raises
    ------
    DataError
        The file cannot be read or parsed.
    """
    import csv

    from handocr.errors import DataError

    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            return [{k: float(v) for k, v in r.items()} for r in json.loads(text)]
        return [
            {k: float(v) for k, v in r.items() if v not in ("", None)}
            for r in csv.DictReader(text.splitlines())
        ]
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise DataError(f"{path}: not a training history ({err})") from err


def _history(out: Path, histories: Sequence[Path]) -> list[str]:
    plt = _plt()
    names = []
    for k, path in enumerate(histories):
        rows = _read_history(Path(path))
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3))
        for ax, keys, title in (
            (axes[0], ("train_loss", "val_loss"), "loss"),
            (axes[1], ("train_accuracy", "val_accuracy"), "accuracy"),
            (axes[2], ("lr",), "learning rate"),
        ):
            for key in keys:
                if any(key in r for r in rows):
                    ax.plot(epochs, [r.get(key, np.nan) for r in rows], "o-", label=key)
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.legend(fontsize=7)
        fig.suptitle(str(path))
        names.append(_save(fig, out / f"curves_{k}.png"))
    return names


def _activations(
    out: Path, models: Sequence[str] | None, crops: NDArray[np.uint8], titles: list[str]
) -> list[str]:
    """Mean absolute activation of up to six convolutions of each member, for a few crops.

    Needs the torch backend (the ``train`` extra); returns the figure names written.
    """
    import torch
    from torch import nn

    from handocr.ensemble import Ensemble

    ens = Ensemble.from_names(models, backend="torch", device="cpu", cascade="off")
    x = torch.from_numpy((crops.astype(np.float32) / 255.0)[:, None])
    plt = _plt()
    names = []
    for m in ens.members:
        net = m.net
        assert isinstance(net, nn.Module)
        convs = [(n, mod) for n, mod in net.named_modules() if isinstance(mod, nn.Conv2d)]
        picked = [convs[int(i)] for i in np.linspace(0, len(convs) - 1, min(6, len(convs)))]
        maps: dict[str, Any] = {}

        def keep(key: str, store: dict[str, Any] = maps) -> Any:
            return lambda _m, _i, o: store.__setitem__(key, o.detach())

        hooks = [mod.register_forward_hook(keep(n)) for n, mod in picked]
        try:
            with torch.no_grad():
                net((x - m.mean) / m.std)
        finally:
            for h in hooks:
                h.remove()
        fig, axes = plt.subplots(
            len(crops),
            len(picked) + 1,
            figsize=((len(picked) + 1) * 1.4, len(crops) * 1.5),
            squeeze=False,
        )
        for r in range(len(crops)):
            axes[r, 0].imshow(crops[r], cmap="gray")
            axes[r, 0].set_title(titles[r], fontsize=7)
            for c, (n, _) in enumerate(picked, start=1):
                axes[r, c].imshow(maps[n][r].abs().mean(0).numpy(), cmap="magma")
                if r == 0:
                    axes[r, c].set_title(n, fontsize=6)
        for ax in axes.ravel():
            ax.axis("off")
        fig.suptitle(m.info.key, fontsize=8)
        names.append(_save(fig, out / f"activations_{m.info.key}.png"))
    return names


def training_report(run_dir: Path) -> Path:
    """Write a training run's page, ``run_dir/report/index.html``, with its curves.

    The layout of :func:`build_report`; ``handocr train`` calls it at the end of a run.

    Raises
    ------
    DataError
        ``run_dir/history.csv`` missing or malformed.
    MissingExtraError
        matplotlib or Jinja2 not installed.
    """
    from importlib import resources

    from handocr.errors import require_extra

    require_extra("the training report", ("matplotlib", "jinja2"))
    import jinja2

    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    curves = _history(out, [run_dir / "history.csv"])
    template = resources.files("handocr").joinpath("web/report.html").read_text(encoding="utf-8")
    html = jinja2.Environment(autoescape=True).from_string(template).render(n=0, curves=curves)
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


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

    Raises
    ------
    DataError, WeightsError, MissingExtraError
        Missing data, unusable weights, or the ``train`` extra (scikit-learn, matplotlib,
        Jinja2) not installed.
    """
    from handocr.errors import require_extra

    require_extra("handocr report", ("sklearn", "matplotlib", "jinja2"))
    import jinja2
    from sklearn.metrics import average_precision_score, classification_report, roc_auc_score

    from handocr.ensemble import Ensemble, combine_votes
    from handocr.evaluate import evaluate_classifier, expected_calibration_error
    from handocr.labels import LABELS
    from handocr.train.data import load_emnist, to_label_space

    out.mkdir(parents=True, exist_ok=True)
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
    report = evaluate_classifier(ens, images, y, per)
    probs = combine_votes(per, ens.weights, ens.voting)
    temps = [float(m.temperature) for m in ens.members]
    raw = np.stack([undo_temperature(p, t) for p, t in zip(per, temps, strict=True)])
    before = combine_votes(raw.astype(np.float32), ens.weights, ens.voting)
    k = len(LABELS)
    present = np.unique(y)
    onehot = (y[:, None] == np.arange(k)[None]).astype(np.int64)
    auc = np.full(k, np.nan)
    ap = np.full(k, np.nan)
    for c in present:
        if 0 < onehot[:, c].sum() < len(y):
            auc[c] = roc_auc_score(onehot[:, c], probs[:, c])
            ap[c] = average_precision_score(onehot[:, c], probs[:, c])
    cls = classification_report(
        y, report.y_pred, labels=list(range(k)), output_dict=True, zero_division=0
    )
    per_class = [
        {
            "label": LABELS[c],
            "precision": cls[str(c)]["precision"],
            "recall": cls[str(c)]["recall"],
            "f1": cls[str(c)]["f1-score"],
            "support": int(cls[str(c)]["support"]),
            "auc": float(auc[c]),
            "ap": float(ap[c]),
        }
        for c in range(k)
    ]
    valid = ~np.isnan(auc)
    auc_micro = float(roc_auc_score(onehot[:, valid].ravel(), probs[:, valid].ravel()))
    auc_macro = float(np.mean(auc[valid]))
    _samples(out, images, y)
    pixel_sets: dict[str, NDArray[np.uint8]] = {"EMNIST test": images}
    pairs = _confusion(out, y, report.y_pred)
    _pair_examples(out, pairs, images, y, report.y_pred)
    _curves(out, y, probs, np.where(valid, auc, 1.0))
    _reliability(out, y, before, probs)
    curves = _history(out, histories)
    activations: list[str] = []
    if pairs:
        pick = [int(np.flatnonzero((y == pairs[0]["t"]) & (report.y_pred == pairs[0]["p"]))[0])]
        pick.append(
            int(np.flatnonzero(y == pairs[0]["p"])[0]) if (y == pairs[0]["p"]).any() else pick[0]
        )
        titles = [f"{pairs[0]['true']} read {pairs[0]['read']}", f"a {pairs[0]['read']}"]
        try:
            activations = _activations(out, models, images[pick], titles)
        except Exception as err:  # e.g. no torch: the rest of the report stands
            log.warning("activation maps skipped: %s", err)
    page_sets: list[dict[str, Any]] = []
    gallery: list[dict[str, Any]] = []
    real_labels: NDArray[np.int64] | None = None
    real_samples = False
    if pages is not None:
        page_sets, gallery, crops, real_labels = _pages(out, pages, models)
        if len(crops):
            pixel_sets["real page crops"] = crops
            _samples(out, crops, real_labels, name="samples_real.png")
            real_samples = True
    _distribution(out, train_labels, y, real_labels)
    _pixels(out, pixel_sets)
    stage_share: list[dict[str, Any]] = []
    if ens.cascade is not None and len(ens.members) > 1:
        from handocr.ensemble import staged_combine

        _, reached = staged_combine(
            per, ens.weights, ens.voting, ens.cascade_stages, ens.cascade_margins
        )
        keys = [m.info.key for m in ens.members]
        stage_share = [
            {"stage": 1, "members": [keys[i] for i in ens.cascade_stages[0]], "share": 1.0}
        ]
        stage_share += [
            {
                "stage": s + 2,
                "members": [keys[i] for i in ens.cascade_stages[s + 1]],
                "share": float(reached[s].mean()),
            }
            for s in range(len(reached))
        ]
    scores = {"ensemble": report.ensemble, **report.members}
    if report.cascade is not None:
        scores["cascade (default reading)"] = report.cascade
    metrics = {
        "n": len(y),
        "split": split,
        "members": [m.info.key for m in ens.members],
        "scores": {name: _scores_dict(s) for name, s in scores.items()},
        "agreement": report.agreement,
        "oracle": report.oracle,
        "escalated": report.escalated,
        "cascade_stages": stage_share,
        "per_class": per_class,
        "auc_micro": auc_micro,
        "auc_macro": auc_macro,
        "ece_before": expected_calibration_error(before, y),
        "ece_after": expected_calibration_error(probs, y),
        "confused_pairs": [{k2: v for k2, v in p.items() if k2 not in ("t", "p")} for p in pairs],
        "page_sets": page_sets,
    }
    (out / "metrics.json").write_text(
        json.dumps(metrics, indent=1, default=float), encoding="utf-8"
    )
    from importlib import resources

    template = resources.files("handocr").joinpath("web/report.html").read_text(encoding="utf-8")
    html = (
        jinja2.Environment(autoescape=True)
        .from_string(template)
        .render(
            n=len(y),
            split=split,
            members=metrics["members"],
            curves=curves,
            scores=scores,
            agreement=report.agreement,
            oracle=report.oracle,
            escalated=report.escalated,
            per_class=per_class,
            auc_micro=auc_micro,
            auc_macro=auc_macro,
            ece_before=metrics["ece_before"],
            ece_after=metrics["ece_after"],
            page_sets=page_sets,
            gallery=gallery,
            activations=activations,
            real_samples=real_samples,
            stages=stage_share,
        )
    )
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def _scores_dict(s: Any) -> dict[str, float]:
    return {"top1": s.top1, "top2": s.top2, "folded": s.folded, "ece": s.ece, "nll": s.nll}


def _pages(
    out: Path, root: Path, models: Sequence[str] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], NDArray[np.uint8], NDArray[np.int64]]:
    """Per-set CER with its interval, the worst images with overlays, and crops of real pages.

    The crops (28 x 28, as the members saw them) come from the first 20 images of each set,
    each labelled with the class it was read as.
    """
    from handocr.api import Recognizer
    from handocr.crops import pieces_to_model_input
    from handocr.evaluate import evaluate_page_sets
    from handocr.io import load_pages
    from handocr.labels import index_of
    from handocr.overlay import draw_overlay
    from handocr.train.data import to_uint8_images

    rec = Recognizer(models=tuple(models) if models else None)
    scores = evaluate_page_sets(rec, root)
    sets, gallery = [], []
    crops: list[NDArray[np.uint8]] = []
    read_as: list[int] = []
    (out / "gallery").mkdir(exist_ok=True)
    import cv2

    for name, s in scores.items():
        sets.append(
            {
                "name": name,
                "images": s.images,
                "cer": s.cer,
                "low": s.cer_low,
                "high": s.cer_high,
                "exact": s.exact,
            }
        )
        for r in s.rows[:20]:
            (image,) = load_pages(root / name / r["file"])
            ((page, pieces),) = rec.read_pieces([image])
            chars = [c for line in page.lines for c in line.all_chars()]
            if pieces:
                crops.append(to_uint8_images(pieces_to_model_input(pieces)))
                read_as += [index_of(c.text) for c in chars]
        worst = sorted(s.rows, key=lambda r: -r["distance"])[:3]
        for r in worst:
            if r["distance"] == 0:
                continue
            (image,) = load_pages(root / name / r["file"])
            page = rec.read_page(image)
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
    flat = np.concatenate(crops) if crops else np.zeros((0, 28, 28), np.uint8)
    return sets, gallery, flat, np.asarray(read_as, np.int64)
