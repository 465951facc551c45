"""The training loop: EMNIST in memory, batched augmentation, OneCycle AdamW, checkpoints, export.

Class imbalance is handled with the logit-adjusted loss (Menon et al. 2021, "Long-tail learning
via logit adjustment", ICLR): the training loss adds ``log(prior)`` to the logits, so the network's
own logits estimate class-balanced posteriors, which is what a balanced test set (and a page whose
characters are not distributed like NIST's forms) needs.

:func:`fit` runs one helper per phase: the data, its splits and the real crops
(:func:`_fit_data`, :func:`handocr.train.realdata.mix_real_crops`), the model and its optimiser
(:func:`_fit_model`; :func:`_epochs_in_budget` fits the epochs to a time budget), the schedule
and a resumed checkpoint (:class:`_Run`), the epochs with validation, checkpoints and early
stopping (:func:`_train_epochs`), and the final scores and export (:func:`_final_metrics`,
:func:`_export`).
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
from dataclasses import asdict, dataclass, field
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
from handocr.train.realdata import mix_real_crops

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
    data = _fit_data(cfg, train_set, test_set)
    run = _fit_model(cfg, data, dev)
    if cfg.time_budget_s and not resume:
        run.epochs = _epochs_in_budget(cfg, run, data, cfg.time_budget_s, t_start)
    run.start(cfg)
    if resume:
        run.resume(cfg, out / "checkpoint.pt")
    _train_epochs(cfg, run, data, out, progress)
    metrics = _final_metrics(run, data, t_start)
    weights, sha = _export(cfg, run.net, data, metrics, out)
    return FitResult(weights, sha, metrics, run.history)


@dataclass(frozen=True, slots=True)
class _FitData:
    """A run's arrays: the training pool and its indices, the validation split, held-out sets."""

    images: NDArray[np.uint8]
    labels: NDArray[np.int64]
    tr_idx: NDArray[np.intp]
    va_idx: NDArray[np.intp]
    x_val: NDArray[np.uint8]
    y_val: NDArray[np.int64]
    real_val: ArraySet | None
    real_report: dict[str, Any]
    test_set: ArraySet | None
    sha256: str


def _fit_data(cfg: TrainConfig, train_set: ArraySet | None, test_set: ArraySet | None) -> _FitData:
    """Read EMNIST (unless given arrays), split off validation, and add the real crops."""
    data_sha = "arrays"
    if train_set is None:
        train_set, test_set, data_sha = _load_sets(cfg)
    images, labels, tr_idx, va_idx = split_train_val(train_set, cfg)
    x_val, y_val = images[va_idx], labels[va_idx]
    images, labels, tr_idx, real_val, real_report = mix_real_crops(cfg, images, labels, tr_idx)
    return _FitData(
        images, labels, tr_idx, va_idx, x_val, y_val, real_val, real_report, test_set, data_sha
    )


@dataclass
class _Run:
    """A run's model, optimiser, schedule and progress: what ``checkpoint.pt`` holds."""

    net: torch.nn.Module
    opt: torch.optim.Optimizer
    dev: torch.device
    amp: torch.dtype | None
    aug: AugmentConfig
    log_prior: torch.Tensor
    steps_per_epoch: int
    epochs: int
    ema: Any = None  # created after the timing probe, so that the probe leaves no trace
    sched: Any = None
    start_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_acc: float = -1.0
    best_state: dict[str, Any] = field(default_factory=dict)
    stopped_early: bool = False

    @property
    def scored(self) -> torch.nn.Module:
        """The weights validated and exported: the EMA's when there is one."""
        net: torch.nn.Module = self.ema.module if self.ema is not None else self.net
        return net

    def step(
        self, cfg: TrainConfig, xb: torch.Tensor, yb: torch.Tensor, gen: torch.Generator
    ) -> float:
        """Take one optimiser step on a batch; return its loss."""
        if cfg.augment:
            xb = augment_batch(xb, self.aug, gen)
        if self.dev.type == "cpu":
            xb = xb.contiguous(memory_format=torch.channels_last)
        amp = self.amp
        with torch.autocast(self.dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = self.net(xb)
        logits = logits.float()
        if cfg.logit_adjust:
            logits = logits + self.log_prior
        loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.ema is not None:
            self.ema.update_parameters(self.net)
        return float(loss.item())

    def start(self, cfg: TrainConfig) -> None:
        """Create the EMA (``cfg.ema``) and the OneCycle schedule over ``epochs``."""
        if cfg.ema is not None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            avg_fn = get_ema_multi_avg_fn(cfg.ema)
            self.ema = AveragedModel(self.net, multi_avg_fn=avg_fn, use_buffers=True)
        self.sched = _one_cycle(cfg, self.opt, self.epochs * self.steps_per_epoch)
        self.best_state = copy.deepcopy(self.scored.state_dict())

    def resume(self, cfg: TrainConfig, ckpt_path: Path) -> None:
        """Restore the state of :meth:`checkpoint`.

        Raises
        ------
        DataError
            No checkpoint, or one that cannot be read or does not fit.
        """
        if not ckpt_path.is_file():
            raise DataError(f"--resume: no checkpoint at {ckpt_path}")
        try:
            ck = torch.load(ckpt_path, map_location=self.dev, weights_only=True)
            self.net.load_state_dict(ck["model"])
            if self.ema is not None:
                self.ema.load_state_dict(ck["ema"])
            self.epochs = int(ck["epochs"])
            # the scheduler's constructor rewrites the learning rates: build it first, then
            # restore the optimizer (its param groups hold the current rates), then the schedule
            self.sched = _one_cycle(cfg, self.opt, self.epochs * self.steps_per_epoch)
            self.opt.load_state_dict(ck["optimizer"])
            self.sched.load_state_dict(ck["scheduler"])
            self.start_epoch = int(ck["epoch"])
            self.history = list(ck["history"])
            self.best_acc, self.best_state = float(ck["best_acc"]), ck["best_state"]
        except (
            RuntimeError,
            KeyError,
            EOFError,
            ValueError,
            OSError,
            pickle.UnpicklingError,
        ) as err:
            raise DataError(f"{ckpt_path}: corrupt or incompatible checkpoint ({err})") from err
        log.info("resumed from %s at epoch %d/%d", ckpt_path, self.start_epoch, self.epochs)

    def checkpoint(self, ckpt_path: Path, epochs_done: int) -> None:
        """Write ``checkpoint.pt`` (model, optimiser, schedule, history, best state), atomically."""
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": self.net.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(),
                "epoch": epochs_done,
                "epochs": self.epochs,
                "history": self.history,
                "best_acc": self.best_acc,
                "best_state": self.best_state,
                **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
            },
            tmp,
        )
        tmp.replace(ckpt_path)


def _one_cycle(cfg: TrainConfig, opt: torch.optim.Optimizer, total_steps: int) -> Any:
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.25
    )


def _fit_model(cfg: TrainConfig, data: _FitData, dev: torch.device) -> _Run:
    """Build the network (from ``cfg.init`` when given), its optimiser and the loss's prior."""
    log_prior = torch.tensor(class_log_prior(data.labels[data.tr_idx]), dtype=torch.float32)
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
    amp = autocast_dtype(cfg.precision, dev)
    log.info("training %s on %s, autocast %s", cfg.arch, dev, amp or "off (float32)")
    steps_per_epoch = math.ceil(len(data.tr_idx) / cfg.batch_size)
    aug = AugmentConfig(lowres_p=cfg.lowres)
    return _Run(net, opt, dev, amp, aug, log_prior, steps_per_epoch, cfg.epochs)


def _epochs_in_budget(
    cfg: TrainConfig, run: _Run, data: _FitData, budget_s: float, t_start: float
) -> int:
    """Time a few steps (then undo them) and return the epochs that fit the time budget."""
    probe = copy.deepcopy(run.net.state_dict()), copy.deepcopy(run.opt.state_dict())
    n_probe = min(12, run.steps_per_epoch)
    gen = torch.Generator().manual_seed(0)
    sel = data.tr_idx[: cfg.batch_size]
    xb = to_float(data.images[sel], run.dev)
    yb = torch.from_numpy(data.labels[sel]).to(run.dev)
    run.step(cfg, xb, yb, gen)  # warm-up
    t0 = time.monotonic()
    for _ in range(n_probe):
        run.step(cfg, xb, yb, gen)
    per_step = (time.monotonic() - t0) / n_probe
    run.net.load_state_dict(probe[0])
    run.opt.load_state_dict(probe[1])
    est_epoch = per_step * run.steps_per_epoch * 1.08 + 2.0  # + validation
    left = budget_s - (time.monotonic() - t_start)
    epochs = max(1, min(cfg.epochs, int(left // est_epoch)))
    log.info("time budget %.0f s: ~%.0f s per epoch -> %d epochs", left, est_epoch, epochs)
    return epochs


def _train_epochs(
    cfg: TrainConfig, run: _Run, data: _FitData, out: Path, progress: Progress | None
) -> None:
    """Run the epochs left: train, validate, keep the best weights, checkpoint; stop early."""
    ckpt_path = out / "checkpoint.pt"
    for epoch in range(run.start_epoch, run.epochs):
        t_ep = time.monotonic()
        train_loss = _train_epoch(cfg, run, data, epoch, progress)
        row = _validate(run, data, epoch, train_loss, t_ep)
        run.history.append(row)
        log.info(
            "epoch %d/%d: train loss %.4f, val loss %.4f, val acc %.4f (%.0f s)",
            epoch + 1,
            run.epochs,
            row["train_loss"],
            row["val_loss"],
            row["val_accuracy"],
            row["seconds"],
        )
        if row["val_accuracy"] > run.best_acc:
            run.best_acc, run.best_state = (
                row["val_accuracy"],
                copy.deepcopy(run.scored.state_dict()),
            )
        run.checkpoint(ckpt_path, epoch + 1)
        _write_history(out, run.history)
        best_epoch = int(np.argmax([r["val_accuracy"] for r in run.history])) + 1
        if cfg.patience is not None and epoch + 1 - best_epoch >= cfg.patience:
            log.info("early stop: no gain for %d epochs since epoch %d", cfg.patience, best_epoch)
            run.stopped_early = True
            break


def _train_epoch(
    cfg: TrainConfig, run: _Run, data: _FitData, epoch: int, progress: Progress | None
) -> float:
    """One pass over the training indices in a seeded order; return the mean loss."""
    torch.manual_seed(cfg.seed * 7919 + epoch)
    gen = torch.Generator().manual_seed(cfg.seed * 104729 + epoch)
    order = np.random.default_rng(cfg.seed + epoch).permutation(data.tr_idx)
    run.net.train()
    total_steps = run.epochs * run.steps_per_epoch
    losses = []
    for i in range(run.steps_per_epoch):
        sel = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
        xb = to_float(data.images[sel], run.dev)
        yb = torch.from_numpy(data.labels[sel]).to(run.dev)
        losses.append(run.step(cfg, xb, yb, gen))
        run.sched.step()
        if progress:
            progress(epoch * run.steps_per_epoch + i + 1, total_steps)
    return float(np.mean(losses))


def _validate(
    run: _Run, data: _FitData, epoch: int, train_loss: float, t_ep: float
) -> dict[str, float]:
    """Score the weights on the validation split (and held-out real crops): a history row."""
    logits = evaluate_logits(run.scored, data.x_val, device=run.dev)
    val_loss = float(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(data.y_val)))
    row = {
        "epoch": epoch + 1,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_accuracy": _accuracy(logits, data.y_val),
        "lr": float(run.sched.get_last_lr()[0]),
        "seconds": time.monotonic() - t_ep,
    }
    if data.real_val is not None:
        real_logits = evaluate_logits(run.scored, data.real_val[0], device=run.dev)
        row["real_val_accuracy"] = _accuracy(real_logits, data.real_val[1])
    return row


def _accuracy(logits: NDArray[np.float32], labels: NDArray[np.int64]) -> float:
    return float((logits.argmax(1) == labels).mean())


def _final_metrics(run: _Run, data: _FitData, t_start: float) -> dict[str, Any]:
    """Load the best weights into the network and score them: validation, test, real crops."""
    net, dev = run.net, run.dev
    net.load_state_dict(run.best_state)
    net.eval()
    metrics: dict[str, Any] = {"val_accuracy": round(run.best_acc, 5), "epochs": len(run.history)}
    if run.stopped_early:
        metrics["stopped_early"] = True
    metrics.update(calibrate_temperature(evaluate_logits(net, data.x_val, device=dev), data.y_val))
    if data.test_set is not None:
        t_logits = evaluate_logits(net, data.test_set[0], device=dev)
        metrics["test_accuracy"] = round(_accuracy(t_logits, data.test_set[1]), 5)
        metrics["test_n"] = len(data.test_set[1])
    if data.real_val is not None:
        r_logits = evaluate_logits(net, data.real_val[0], device=dev)
        metrics["real_val_accuracy"] = round(_accuracy(r_logits, data.real_val[1]), 5)
        metrics["real_val_n"] = len(data.real_val[1])
    if data.real_report:
        metrics["real"] = data.real_report
    metrics["seconds"] = round(time.monotonic() - t_start, 1)
    return metrics


def _export(
    cfg: TrainConfig, net: torch.nn.Module, data: _FitData, metrics: dict[str, Any], out: Path
) -> tuple[Path, str]:
    """Write the weights with their metadata, ``config.json`` and the training report."""
    info = WeightsInfo(
        arch=cfg.arch,
        tag=cfg.tag,
        train={
            "config": asdict(cfg),
            "data_sha256": data.sha256,
            "seed": cfg.seed,
            "git_commit": _git_commit(),
            "torch": torch.__version__,
            "n_train": len(data.tr_idx),
            "n_val": len(data.va_idx),
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
    return weights, sha


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
