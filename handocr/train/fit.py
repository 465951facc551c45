"""The training loop: EMNIST in memory, batched augmentation, OneCycle AdamW, checkpoints, export.

Class imbalance is handled with the logit-adjusted loss (Menon et al. 2021, "Long-tail learning
via logit adjustment", ICLR): the training loss adds ``log(prior)`` to the logits, so the network's
own logits estimate class-balanced posteriors, which is what a balanced test set (and a page whose
characters are not distributed like NIST's forms) needs.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import pickle
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - torch convention
from numpy.typing import NDArray

from handocr.errors import DataError, HandocrError
from handocr.labels import NUM_CLASSES
from handocr.models.factory import create_model
from handocr.models.weights import WeightsInfo, save_weights
from handocr.train.augment import AugmentConfig, augment_batch
from handocr.train.calibrate import calibrate_temperature, evaluate_logits, to_float
from handocr.train.config import TrainConfig
from handocr.train.data import ArraySet, split_train_val

__all__ = ["FitResult", "fit"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class FitResult:
    """What :func:`fit` produced.

    Attributes
    ----------
    weights : Path
        The exported ``.safetensors`` file.
    sha256 : str
        Its digest.
    metrics : dict
        ``val_accuracy``, ``test_accuracy`` (when a test set was given), ``epochs``, ``seconds``.
    history : list of dict
        One row per epoch: ``epoch, train_loss, val_loss, val_accuracy, lr, seconds``.
    """

    weights: Path
    sha256: str
    metrics: dict[str, Any]
    history: list[dict[str, float]]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_dtype(precision: str, dev: torch.device) -> torch.dtype | None:
    """Resolve ``precision`` (``auto``/``fp32``/``bf16``) to an autocast dtype, or ``None``.

    ``auto`` means bfloat16 where the hardware runs it natively (CUDA with bf16 support, or a
    CPU with AVX512-BF16 / AMX), float32 elsewhere.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    native = _cpu_has_flag("avx512_bf16") or _cpu_has_flag("amx_bf16")
    return torch.bfloat16 if native else None


def _cpu_has_flag(flag: str) -> bool:
    try:
        with Path("/proc/cpuinfo").open(encoding="ascii", errors="replace") as fh:
            return any(line.startswith("flags") and flag in line.split() for line in fh)
    except OSError:
        return False


def _git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        )
    except OSError:
        return None
    return res.stdout.strip() or None


def _load_sets(cfg: TrainConfig) -> tuple[ArraySet, ArraySet | None, str]:
    from handocr.train.data import load_emnist, select_classes, to_label_space

    train = load_emnist(cfg.data, cfg.split, "train")
    try:
        test = load_emnist(cfg.data, cfg.split, "test")
        test_set: ArraySet | None = select_classes((test.images, to_label_space(test)), cfg.classes)
    except DataError as err:
        log.warning("no test set (%s); reporting validation accuracy only", err)
        test_set = None
    train_set = select_classes((train.images, to_label_space(train)), cfg.classes)
    return train_set, test_set, train.sha256


def class_log_prior(labels: NDArray[np.int64], n_classes: int = NUM_CLASSES) -> NDArray[np.float64]:
    """Return the log class prior that the logit-adjusted loss adds to the logits.

    The classes' shares of ``labels``; a class absent from them (a specialist trained with
    ``--classes``) gets the mean count of the others, so that its logit is pushed down like any
    wrong class's instead of being excused by a tiny prior (with which a specialist fine-tuned
    from a 47-class member kept reading letters: validation accuracy 0).

    Returns
    -------
    ndarray of float64, shape (n_classes,)
    """
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    counts[counts == 0] = counts[counts > 0].mean() if (counts > 0).any() else 1.0
    prior: NDArray[np.float64] = np.log(counts / counts.sum())
    return prior


def fit(
    cfg: TrainConfig,
    *,
    train_set: ArraySet | None = None,
    test_set: ArraySet | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> FitResult:
    """Train one member and export it as fp16 safetensors with metadata.

    Parameters
    ----------
    cfg : TrainConfig
    train_set, test_set : (images, labels), optional
        ``(N, 28, 28) uint8`` upright white-on-black images and ``(N,) int64`` labels in
        :data:`handocr.labels.LABELS` order. When ``train_set`` is omitted, EMNIST is read from
        ``cfg.data``/``cfg.split`` (train and, if present, test).
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` (written after every epoch).
    progress : callable, optional
        ``progress(done_steps, total_steps)``, called after every step.

    Returns
    -------
    FitResult

    Raises
    ------
    DataError
        Data missing or malformed, or ``resume`` without a readable checkpoint.
    UnknownModelError
        ``cfg.arch`` is not registered.
    """
    t_start = time.monotonic()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dev = _device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_sha = "arrays"
    if train_set is None:
        train_set, test_set, data_sha = _load_sets(cfg)
    images, labels, tr_idx, va_idx = split_train_val(train_set, cfg)
    x_val, y_val = images[va_idx], labels[va_idx]
    images, labels, tr_idx, real_val, real_report = _add_real(cfg, images, labels, tr_idx)
    log_prior = torch.tensor(class_log_prior(labels[tr_idx]), dtype=torch.float32)
    log_prior = log_prior.to(dev)

    torch.manual_seed(cfg.seed)
    net = create_model(cfg.arch, weights=None, device=str(dev)).train()
    if cfg.init:
        from handocr.models.weights import load_weights

        load_weights(net, Path(cfg.init))
        log.info("initialised from %s", cfg.init)
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema: Any = None  # created after the timing probe, so that the probe leaves no trace
    steps_per_epoch = math.ceil(len(tr_idx) / cfg.batch_size)
    aug_cfg = AugmentConfig(lowres_p=cfg.lowres)
    amp = autocast_dtype(cfg.precision, dev)
    log.info("training %s on %s, autocast %s", cfg.arch, dev, amp or "off (float32)")

    def step(xb: torch.Tensor, yb: torch.Tensor, gen: torch.Generator) -> float:
        if cfg.augment:
            xb = augment_batch(xb, aug_cfg, gen)
        if dev.type == "cpu":
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = net(xb)
        logits = logits.float()
        if cfg.logit_adjust:
            logits = logits + log_prior
        loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(net)
        return loss.item()

    epochs = cfg.epochs
    ckpt_path = out / "checkpoint.pt"
    if cfg.time_budget_s and not resume:
        probe = copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict())
        n_probe = min(12, steps_per_epoch)
        gen = torch.Generator().manual_seed(0)
        sel = tr_idx[: cfg.batch_size]
        xb = to_float(images[sel], dev)
        yb = torch.from_numpy(labels[sel]).to(dev)
        step(xb, yb, gen)  # warm-up
        t0 = time.monotonic()
        for _ in range(n_probe):
            step(xb, yb, gen)
        per_step = (time.monotonic() - t0) / n_probe
        net.load_state_dict(probe[0])
        opt.load_state_dict(probe[1])
        est_epoch = per_step * steps_per_epoch * 1.08 + 2.0  # + validation
        left = cfg.time_budget_s - (time.monotonic() - t_start)
        epochs = max(1, min(cfg.epochs, int(left // est_epoch)))
        log.info("time budget %.0f s: ~%.0f s per epoch -> %d epochs", left, est_epoch, epochs)
    if cfg.ema is not None:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
    scored = ema.module if ema is not None else net  # the weights validated and exported
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=epochs * steps_per_epoch, pct_start=0.25
    )
    history: list[dict[str, float]] = []
    start_epoch = 0
    best_acc, best_state = -1.0, copy.deepcopy(scored.state_dict())
    if resume:
        if not ckpt_path.is_file():
            raise DataError(f"--resume: no checkpoint at {ckpt_path}")
        try:
            ck = torch.load(ckpt_path, map_location=dev, weights_only=True)
            net.load_state_dict(ck["model"])
            if ema is not None:
                ema.load_state_dict(ck["ema"])
            epochs = int(ck["epochs"])
            # the scheduler's constructor rewrites the learning rates: build it first, then
            # restore the optimizer (its param groups hold the current rates), then the schedule
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=cfg.lr, total_steps=epochs * steps_per_epoch, pct_start=0.25
            )
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            start_epoch = int(ck["epoch"])
            history = list(ck["history"])
            best_acc, best_state = float(ck["best_acc"]), ck["best_state"]
        except (
            RuntimeError,
            KeyError,
            EOFError,
            ValueError,
            OSError,
            pickle.UnpicklingError,
        ) as err:
            raise DataError(f"{ckpt_path}: corrupt or incompatible checkpoint ({err})") from err
        log.info("resumed from %s at epoch %d/%d", ckpt_path, start_epoch, epochs)

    total_steps = epochs * steps_per_epoch
    stopped_early = False
    for epoch in range(start_epoch, epochs):
        t_ep = time.monotonic()
        torch.manual_seed(cfg.seed * 7919 + epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 104729 + epoch)
        order = np.random.default_rng(cfg.seed + epoch).permutation(tr_idx)
        net.train()
        losses = []
        for i in range(steps_per_epoch):
            sel = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            xb = to_float(images[sel], dev)
            yb = torch.from_numpy(labels[sel]).to(dev)
            losses.append(step(xb, yb, gen))
            sched.step()
            if progress:
                progress(epoch * steps_per_epoch + i + 1, total_steps)
        logits = evaluate_logits(scored, x_val, device=dev)
        val_loss = float(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y_val)))
        val_acc = float((logits.argmax(1) == y_val).mean())
        row = {
            "epoch": epoch + 1,
            "train_loss": float(np.mean(losses)),
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "lr": float(sched.get_last_lr()[0]),
            "seconds": time.monotonic() - t_ep,
        }
        if real_val is not None:
            real_logits = evaluate_logits(scored, real_val[0], device=dev)
            row["real_val_accuracy"] = float((real_logits.argmax(1) == real_val[1]).mean())
        history.append(row)
        log.info(
            "epoch %d/%d: train loss %.4f, val loss %.4f, val acc %.4f (%.0f s)",
            epoch + 1,
            epochs,
            row["train_loss"],
            val_loss,
            val_acc,
            row["seconds"],
        )
        if val_acc > best_acc:
            best_acc, best_state = val_acc, copy.deepcopy(scored.state_dict())
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "epoch": epoch + 1,
                "epochs": epochs,
                "history": history,
                "best_acc": best_acc,
                "best_state": best_state,
                **({"ema": ema.state_dict()} if ema is not None else {}),
            },
            tmp,
        )
        tmp.replace(ckpt_path)
        _write_history(out, history)
        best_epoch = int(np.argmax([r["val_accuracy"] for r in history])) + 1
        if cfg.patience is not None and epoch + 1 - best_epoch >= cfg.patience:
            log.info("early stop: no gain for %d epochs since epoch %d", cfg.patience, best_epoch)
            stopped_early = True
            break

    net.load_state_dict(best_state)
    net.eval()
    metrics: dict[str, Any] = {"val_accuracy": round(best_acc, 5), "epochs": len(history)}
    if stopped_early:
        metrics["stopped_early"] = True
    metrics.update(calibrate_temperature(evaluate_logits(net, x_val, device=dev), y_val))
    if test_set is not None:
        t_logits = evaluate_logits(net, test_set[0], device=dev)
        metrics["test_accuracy"] = round(float((t_logits.argmax(1) == test_set[1]).mean()), 5)
        metrics["test_n"] = len(test_set[1])
    if real_val is not None:
        r_logits = evaluate_logits(net, real_val[0], device=dev)
        metrics["real_val_accuracy"] = round(float((r_logits.argmax(1) == real_val[1]).mean()), 5)
        metrics["real_val_n"] = len(real_val[1])
    if real_report:
        metrics["real"] = real_report
    metrics["seconds"] = round(time.monotonic() - t_start, 1)
    info = WeightsInfo(
        arch=cfg.arch,
        tag=cfg.tag,
        train={
            "config": asdict(cfg),
            "data_sha256": data_sha,
            "seed": cfg.seed,
            "git_commit": _git_commit(),
            "torch": torch.__version__,
            "n_train": len(tr_idx),
            "n_val": len(va_idx),
        },
        metrics=metrics,
    )
    weights = out / f"{cfg.arch}.{cfg.tag}.safetensors"
    sha = save_weights(net.to("cpu").to(memory_format=torch.contiguous_format), weights, info)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2), encoding="utf-8")
    log.info("wrote %s (sha256 %s): %s", weights, sha[:12], metrics)
    try:
        from handocr.train.report import training_report

        log.info("wrote %s", training_report(out))
    except HandocrError as err:  # matplotlib or Jinja2 missing: the weights are what counts
        log.warning("no training report: %s", err)
    return FitResult(weights, sha, metrics, history)


def _add_real(
    cfg: TrainConfig,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    tr_idx: NDArray[np.intp],
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.intp], ArraySet | None, dict[str, Any]]:
    """Append the crops of ``cfg.real`` to the training arrays at ``cfg.real_share``.

    Returns the arrays, the training indices (EMNIST's plus the real crops', repeated or
    subsampled to the share), the held-out real crops, and the resolved mix for the metadata.
    """
    if not cfg.real and not cfg.synth_pages:
        return images, labels, tr_idx, None, {}
    from handocr.train.realdata import RealCrops, load_real

    parts = [
        load_real(Path(folder), holdout=cfg.real_holdout, min_agreement=cfg.min_agreement)
        for folder in cfg.real
    ]
    if cfg.synth_pages:
        from handocr.api import Recognizer
        from handocr.train.synthdata import pipeline_crops

        sx, sy, rep = pipeline_crops(
            Recognizer(line_models=()),
            images[tr_idx],
            labels[tr_idx],
            pages=cfg.synth_pages,
            seed=cfg.seed,
        )
        none = np.zeros((0, *sx.shape[1:]), np.uint8), np.zeros(0, np.int64)
        parts.append(RealCrops("synthetic", "pipeline", sx, sy, *none, report=rep))
    real_x = np.concatenate([p.images for p in parts])
    real_y = np.concatenate([p.labels for p in parts])
    if len(real_y) == 0:
        raise DataError(f"no crops in {', '.join(cfg.real) or 'the synthetic pages'}")
    n_samples = round(cfg.real_share / (1 - cfg.real_share) * len(tr_idx))
    rng = np.random.default_rng(cfg.seed)
    real_idx = len(labels) + np.resize(rng.permutation(len(real_y)), n_samples)
    held = (
        np.concatenate([p.held_images for p in parts]),
        np.concatenate([p.held_labels for p in parts]),
    )
    report = {
        "sources": {p.name: {"layout": p.layout, **p.report} for p in parts},
        "crops": len(real_y),
        "samples_per_epoch": int(n_samples),
        "emnist_samples_per_epoch": len(tr_idx),
        "repeats": round(n_samples / len(real_y), 3),
        "share": cfg.real_share,
    }
    log.info("real crops: %s", report)
    return (
        np.concatenate([images, real_x]),
        np.concatenate([labels, real_y]),
        np.concatenate([tr_idx, real_idx]),
        held if len(held[1]) else None,
        report,
    )


def _write_history(out: Path, history: list[dict[str, float]]) -> None:
    with (out / "history.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return
    ep = [r["epoch"] for r in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(ep, [r["train_loss"] for r in history], label="train")
    ax1.plot(ep, [r["val_loss"] for r in history], label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.plot(ep, [r["val_accuracy"] for r in history])
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation accuracy")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
