"""The figures of ``handocr report`` (:mod:`handocr.train.report`): one PNG per function.

Drawn with matplotlib's Agg backend (no display) into the report's folder, at 90 dpi with tight
bounding boxes; each function returns what the page needs to show beside its figure. Images are
upright ``(N, 28, 28) uint8`` crops, ink 255; labels and predictions index
:data:`handocr.labels.LABELS`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "activation_maps",
    "class_distribution",
    "class_order",
    "confusion_figure",
    "history_figures",
    "pair_examples",
    "pixel_histograms",
    "read_history",
    "field_figures",
    "reliability_figure",
    "samples_grid",
    "score_curves",
]


def class_order() -> list[int]:
    """Return the 47 class indices ordered so that look-alike classes sit together.

    Each group of :data:`handocr.train.metrics.FOLDED_GROUPS` comes first, in its order, then
    the other classes in label order.

    Returns
    -------
    list of int
        A permutation of ``range(47)`` (indices into :data:`handocr.labels.LABELS`).
    """
    from handocr.labels import LABELS
    from handocr.train.metrics import FOLDED_GROUPS

    order = [LABELS.index(c) for group in FOLDED_GROUPS for c in group]
    return order + [k for k in range(len(LABELS)) if k not in order]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> str:
    fig.savefig(path, dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return path.name


def samples_grid(
    out: Path,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    per: int = 8,
    name: str = "samples.png",
) -> str:
    """Draw up to ``per`` images of each class, one row per class, named at the row's left.

    Parameters
    ----------
    out : Path
        The report's folder.
    images : ndarray of uint8, shape (N, 28, 28)
    labels : ndarray of int64, shape (N,)
        The class of each image (the truth, or the class it was read as).
    per : int, default 8
        Columns: the first ``per`` images of a class are shown; a row may be short or empty.
    name : str, default "samples.png"

    Returns
    -------
    str
        The file name written in ``out``.
    """
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
        # beside the row, not above it: a title would lie under the images of the row above
        axes[c, 0].text(
            -0.15, 0.5, LABELS[c], transform=axes[c, 0].transAxes, ha="right", va="center"
        )
    return _save(fig, out / name)


def class_distribution(
    out: Path,
    train: NDArray[np.int64] | None,
    test: NDArray[np.int64],
    real: NDArray[np.int64] | None = None,
) -> str:
    """Draw each class's share of the train and test labels (and of real crops as read).

    Parameters
    ----------
    out : Path
    train : ndarray of int64, shape (N_train,), or None
        Left out when None (a test-only folder).
    test : ndarray of int64, shape (N,)
    real : ndarray of int64, shape (N_real,), optional
        Classes the real page crops were read as; drawn as dots when non-empty.

    Returns
    -------
    str
        ``"class_distribution.png"``.
    """
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
    return _save(fig, out / "class_distribution.png")


def pixel_histograms(out: Path, sets: dict[str, NDArray[np.uint8]]) -> str:
    """Draw the density of the non-zero pixel values of each named image set.

    Parameters
    ----------
    out : Path
    sets : dict of str to ndarray of uint8, shape (N, 28, 28)
        Legend name -> images.

    Returns
    -------
    str
        ``"pixels.png"``.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    for name, images in sets.items():
        values = images.reshape(-1)
        ax.hist(values[values > 0], bins=51, density=True, histtype="step", label=name)
    ax.set_xlabel("ink intensity (non-zero pixels)")
    ax.set_ylabel("density")
    ax.legend()
    return _save(fig, out / "pixels.png")


def confusion_figure(
    out: Path, y: NDArray[np.int64], pred: NDArray[np.int64]
) -> list[dict[str, Any]]:
    """Draw the row-normalised confusion matrix in :func:`class_order`; find confused pairs.

    Parameters
    ----------
    out : Path
    y, pred : ndarray of int64, shape (N,)
        Truth and prediction.

    Returns
    -------
    list of dict
        Up to eight most frequent confusions, most first: ``true`` and ``read`` (labels),
        ``count``, and ``t`` and ``p`` (their class indices). Writes ``confusion.png``.
    """
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


def pair_examples(
    out: Path,
    pairs: list[dict[str, Any]],
    images: NDArray[np.uint8],
    y: NDArray[np.int64],
    pred: NDArray[np.int64],
) -> str:
    """Draw up to five images of each confused pair (:func:`confusion_figure`), a row each.

    Parameters
    ----------
    out : Path
    pairs : list of dict
        As :func:`confusion_figure` returns them.
    images : ndarray of uint8, shape (N, 28, 28)
    y, pred : ndarray of int64, shape (N,)

    Returns
    -------
    str
        ``"confused_pairs.png"``.
    """
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
    return _save(fig, out / "confused_pairs.png")


def score_curves(
    out: Path, y: NDArray[np.int64], probs: NDArray[np.floating[Any]], auc: NDArray[np.float64]
) -> list[str]:
    """Draw one-vs-rest ROC (log false-positive axis) and precision-recall curves.

    Each figure shows the micro average, the macro average and the ten classes of lowest AUC.
    The macro ROC is :func:`handocr.train.metrics.macro_roc` (the classes' curves averaged at
    the union of their false-positive rates); the macro precision-recall curve averages the
    classes' precision on a grid of 201 recalls (a linear axis).

    Parameters
    ----------
    out : Path
    y : ndarray of int64, shape (N,)
    probs : ndarray, shape (N, 47)
    auc : ndarray of float64, shape (47,)
        Each class's ROC AUC; NaN for a class without both positives and negatives, which the
        macro averages and the worst ten leave out.

    Returns
    -------
    list of str
        ``["roc.png", "pr.png"]``.
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    from handocr.labels import LABELS
    from handocr.train.metrics import macro_roc

    onehot = (y[:, None] == np.arange(len(LABELS))[None]).astype(np.int64)
    valid = [int(c) for c in np.flatnonzero(~np.isnan(auc))]
    worst = [valid[i] for i in np.argsort(auc[valid])[:10]]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 5))
    fpr, tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
    ax.plot(fpr, tpr, lw=2, label="micro average")
    ax.plot(*macro_roc(onehot, probs), lw=2, label="macro average")
    for c in worst:
        f, t, _ = roc_curve(onehot[:, c], probs[:, c])
        ax.plot(f, t, lw=0.8, label=f"{LABELS[c]} (AUC {auc[c]:.3f})")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=6)
    names = [_save(fig, out / "roc.png")]
    fig, ax = plt.subplots(figsize=(6, 5))
    p, r, _ = precision_recall_curve(onehot.ravel(), probs.ravel())
    ax.plot(r, p, lw=2, label="micro average")
    grid = np.linspace(0, 1, 201)
    macro = []
    for c in valid:
        pc, rc, _ = precision_recall_curve(onehot[:, c], probs[:, c])
        macro.append(np.interp(grid, rc[::-1], pc[::-1]))
    if macro:
        ax.plot(grid, np.mean(macro, 0), lw=2, label="macro average")
    for c in worst:
        pc, rc, _ = precision_recall_curve(onehot[:, c], probs[:, c])
        ax.plot(rc, pc, lw=0.8, label=LABELS[c])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(fontsize=6)
    return [*names, _save(fig, out / "pr.png")]


def reliability_figure(
    out: Path,
    y: NDArray[np.int64],
    before: NDArray[np.floating[Any]],
    after: NDArray[np.floating[Any]],
) -> str:
    """Draw the reliability diagram before and after temperature scaling.

    Parameters
    ----------
    out : Path
    y : ndarray of int64, shape (N,)
    before, after : ndarray, shape (N, 47)
        Probabilities before and after the members' temperature scaling.

    Returns
    -------
    str
        ``"reliability.png"``: accuracy against mean confidence of each non-empty bin
        (:func:`handocr.train.metrics.reliability`).
    """
    from handocr.train.metrics import reliability

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
    return _save(fig, out / "reliability.png")


def read_history(path: Path) -> list[dict[str, float]]:
    """Return the rows of a run's ``history.csv`` (``handocr train``) or a JSON list of them.

    Parameters
    ----------
    path : Path
        CSV with a header row (empty cells left out), or ``.json``: a list of objects.

    Returns
    -------
    list of dict of str to float
        One per epoch, in file order.

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


def history_figures(out: Path, histories: Sequence[Path]) -> list[str]:
    """Draw loss, accuracy and learning rate per epoch of each training history.

    Parameters
    ----------
    out : Path
    histories : sequence of Path
        Files :func:`read_history` reads.

    Returns
    -------
    list of str
        ``curves_<k>.png`` per history, in order.

    Raises
    ------
    DataError
        A history cannot be read or parsed.
    """
    plt = _plt()
    names = []
    for k, path in enumerate(histories):
        rows = read_history(Path(path))
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


def activation_maps(
    out: Path, models: Sequence[str] | None, crops: NDArray[np.uint8], titles: list[str]
) -> list[str]:
    """Draw the mean absolute activation of up to six convolutions of each member.

    Parameters
    ----------
    out : Path
    models : sequence of str, optional
        The members (default the shipped ensemble), loaded with the torch backend.
    crops : ndarray of uint8, shape (K, 28, 28)
        A row each.
    titles : list of str, length K

    Returns
    -------
    list of str
        ``activations_<arch.tag>.png`` per member.

    Raises
    ------
    ImportError, MissingExtraError
        torch is not installed (the ``train`` extra).
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


def field_figures(out: Path, sets: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Draw the fields' reliability diagrams (lines and words) and read rate against error.

    Parameters
    ----------
    out : Path
    sets : sequence of dict
        Per page set: ``name``, ``line`` and ``word`` as ``(confidence, right)`` arrays of the
        set's fields (one line per image) and of its words
        (:func:`handocr.fieldscore.word_outcomes`).

    Returns
    -------
    dict of str to str
        ``"reliability"``: ``fields_reliability.png`` (share right against mean confidence of
        each non-empty bin of :func:`handocr.fieldscore.reliability_bins`, lines and words side
        by side); ``"read_rate"``: ``read_rate.png`` (the largest share of fields accepted,
        most confident first, at each allowed field error from 0.1 % to 20 %,
        :func:`handocr.fieldscore.read_rate`).
    """
    from handocr.fieldscore import read_rate, reliability_bins

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, level in zip(axes, ("line", "word"), strict=True):
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        for s in sets:
            conf, right = s[level]
            if len(conf) == 0:
                continue
            mean, share, count = reliability_bins(conf, right)
            keep = count > 0
            ax.plot(mean[keep], share[keep], "o-", label=f"{s['name']} ({len(conf)})")
        ax.set_title(f"{level}s")
        ax.set_xlabel("confidence")
        ax.set_ylabel("share read exactly right")
        ax.legend(fontsize=7)
    paths = {"reliability": _save(fig, out / "fields_reliability.png")}
    fig, ax = plt.subplots(figsize=(6, 4.5))
    errors = np.geomspace(0.001, 0.2, 40)
    for s in sets:
        conf, right = s["line"]
        if len(conf):
            ax.plot(errors, [read_rate(conf, right, e) for e in errors], label=s["name"])
    ax.set_xscale("log")
    ax.set_xlabel("field error allowed among the accepted")
    ax.set_ylabel("read rate (share accepted)")
    ax.legend(fontsize=7)
    paths["read_rate"] = _save(fig, out / "read_rate.png")
    return paths
