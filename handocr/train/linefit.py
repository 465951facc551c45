"""Training the CTC line member (``handocr train --arch crnn``) and exporting it.

The loop draws every batch afresh: synthetic EMNIST lines (:class:`handocr.train.lines.SynthLines`)
and, for a share ``real_share`` of each batch, real lines of the ``--real``/``--lines`` folders
(:func:`handocr.train.lines.read_line_folder`, lightly augmented; :mod:`handocr.train.linebatch`).
The loss is CTC (Graves et al. 2006, ``torch.nn.CTCLoss``, blank 0) over every frame of the
padded width, so the frames of the right padding learn to be blank; AdamW with a linear warm-up
and a cosine decay. Every ``checkpoint_every`` steps the held-out lines are read (greedy
decoding) and scored by the page sets' CER rule, ``checkpoint.pt`` is written, and the best
weights so far are exported as ``<arch>.<tag>.safetensors``. At the end the best weights become
a self-contained ONNX graph (``<arch>.<tag>.onnx``, weights embedded;
:mod:`handocr.train.lineweights`) and its description (``<arch>.<tag>.json``).

:func:`fit_lines` runs one helper per phase: the data (:func:`_line_data`), the model and its
optimiser, resumed from the checkpoint (:func:`_line_model`), the loop (:func:`_train_loop`,
one step in :func:`_train_step`, validation and checkpoints in :class:`_Run`) and the export
(:func:`_export`).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from handocr.errors import DataError, OptionError
from handocr.models.crnn import (
    ALPHABET,
    LINE_ARCHS,
    LINE_HEIGHT,
    STRIDE,
    build_line_model,
    encode_text,
    frames,
)
from handocr.train.linebatch import CHUNK, chunks, draw_batch, selection_cer, to_batch, validate
from handocr.train.lines import LineSet, SynthLines, read_line_folder
from handocr.train.lineweights import (
    GRAPH_INPUT,
    GRAPH_OUTPUT,
    LINE_FORMAT,
    export_line_onnx,
    load_line_weights,
    save_line_weights,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "LineFitResult",
    "LineTrainConfig",
    "description",
    "fit_lines",
    "git_commit",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LineTrainConfig:
    """Everything that defines a line-member training run.

    Attributes
    ----------
    arch : str
        A line member of :data:`handocr.models.crnn.LINE_ARCHS` (``"crnn"``).
    data : str or None
        EMNIST folder for the synthetic lines (``None``: ``HANDOCR_DATA``); only the training
        part of ``split`` is read.
    split : str
    out_dir : str
    tag : str
    steps : int
        Optimiser steps (>= 1).
    batch_size : int
        Lines per step.
    lr : float
        Peak learning rate (after a linear warm-up over ``warmup`` of the steps, a cosine decay
        to 2 % of it).
    weight_decay : float
        AdamW decoupled weight decay.
    warmup : float
        Share of the steps spent warming up.
    seed : int
        Seeds the model's initialisation and, with the step number, every batch (so a resumed
        run draws the batches the uninterrupted one would have).
    lines : tuple of str
        Folders of real lines with ``truth.tsv`` (``--real`` and ``--lines``).
    real_share : float
        Share of each batch drawn from ``lines`` (0 without folders; 1 trains on real lines only).
    real_holdout : float
        Share of each folder's images held out and scored (by a hash of the file name).
    synth_val : int
        Synthetic validation lines (fixed seed).
    checkpoint_every : int
        Steps between validations and checkpoints.
    time_budget_s : float or None
        Seconds of training (wall clock, summed over resumed runs); after 20 steps and at
        every checkpoint the number of steps is cut to fit at the pace so far.
    device, threads, init, command
        Torch device, CPU threads, weights to start from (a line member's safetensors), and
        the command line.
    model : dict
        Keyword arguments of the builder (e.g. ``{"hidden": 64}``).
    """

    arch: str = "crnn"
    data: str | None = None
    split: str = "pool47"
    out_dir: str = "runs/crnn"
    tag: str = "lines-v1"
    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05
    seed: int = 0
    lines: tuple[str, ...] = ()
    real_share: float = 0.4
    real_holdout: float = 0.1
    synth_val: int = 256
    checkpoint_every: int = 250
    time_budget_s: float | None = None
    device: str = "cpu"
    threads: int | None = None
    init: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    command: str = field(default_factory=lambda: " ".join(sys.argv))

    def __post_init__(self) -> None:
        """Check every value.

        Raises
        ------
        OptionError
            A value out of its range or an unknown line architecture.
        """
        if self.arch not in LINE_ARCHS:
            raise OptionError(f"arch {self.arch!r} is not a line member ({', '.join(LINE_ARCHS)})")
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise OptionError("steps, batch_size and checkpoint_every must be >= 1")
        if self.lr <= 0 or self.weight_decay < 0 or not 0 <= self.warmup < 1:
            raise OptionError("lr must be > 0, weight_decay >= 0 and warmup in [0, 1)")
        if not 0 <= self.real_share <= 1:
            raise OptionError("real_share must be in [0, 1]")
        if not 0 <= self.real_holdout <= 0.5:
            raise OptionError("real_holdout must be in [0, 0.5]")
        if self.real_share == 1 and not self.lines:
            raise OptionError("real_share 1 needs line folders (--lines or --real)")
        if self.synth_val < 0:
            raise OptionError("synth_val must be >= 0")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise OptionError("time_budget_s must be > 0")


@dataclass(frozen=True, slots=True)
class LineFitResult:
    """What :func:`fit_lines` wrote: weights, graph and description, with the metrics."""

    weights: Path
    sha256: str
    graph: Path
    graph_sha256: str
    description: Path
    metrics: dict[str, Any]


def _lr_at(step: int, total: int, peak: float, warmup: float) -> float:
    w = max(1, int(warmup * total))
    if step < w:
        return peak * (step + 1) / w
    p = (step - w) / max(1, total - w)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def git_commit() -> str | None:
    """Return the repository's HEAD commit, as the crop members' training records it."""
    from handocr.train.fit import _git_commit

    return _git_commit()


def description(cfg: LineTrainConfig, metrics: dict[str, Any]) -> dict[str, Any]:
    """Return the ``<arch>.<tag>.json`` written beside the ONNX graph (for the manifest).

    ``alphabet[i]`` is output index ``i + 1``; index 0 is the CTC blank. ``input`` gives the
    pixel convention of :func:`handocr.models.crnn.line_input`.
    """
    return {
        "name": f"{cfg.arch}.{cfg.tag}",
        "alphabet": ALPHABET,
        "blank": 0,
        "input": {
            "name": GRAPH_INPUT,
            "height": LINE_HEIGHT,
            "channels": 1,
            "mean": 0.0,
            "std": 1.0,
            "ink": "bright",
            "pixel": "(255 - gray) / 255, resized to height 32 keeping the aspect ratio, "
            "right-padded with 0",
        },
        "output": GRAPH_OUTPUT,
        "frames": f"T = ceil(W / {STRIDE})",
        "decoding": "greedy CTC: argmax per frame, merge repeats, drop blanks",
        "licence": "MIT",
        "metrics": metrics,
        "command": cfg.command,
    }


def fit_lines(
    cfg: LineTrainConfig,
    *,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LineFitResult:
    """Train a line member with CTC and export it (safetensors, ONNX, JSON).

    Parameters
    ----------
    cfg : LineTrainConfig
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` (read with ``weights_only=True``).
    progress : callable, optional
        ``progress(done, total)`` in steps.

    Returns
    -------
    LineFitResult

    Raises
    ------
    DataError
        Unreadable EMNIST files or line folders, or nothing to train on.
    WeightsError
        ``init`` does not fit, or the ONNX export fails its parity check.
    """
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if cfg.device == "auto" else cfg.device))  # fmt: skip
    data = _line_data(cfg)
    run = _line_model(cfg, dev, out, data, resume=resume)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n", encoding="utf-8")
    log.info("%s: %d parameters, %d real training lines, held out: %s", cfg.arch, run.n_params,
             len(data.real), {s.name: len(s) for s in data.held})  # fmt: skip
    _train_loop(cfg, run, data, dev, progress)
    return _export(cfg, run)


@dataclass
class _LineData:
    """What a run trains and validates on."""

    real: LineSet
    held: list[LineSet]
    synth: SynthLines | None
    data_sha: str | None


def _line_data(cfg: LineTrainConfig) -> _LineData:
    """Read the real line folders (train and held-out parts) and the synthetic lines' glyphs.

    Raises
    ------
    DataError
        Unreadable EMNIST files or line folders, or nothing to train on.
    """
    from handocr.train.data import load_emnist, to_label_space

    real_train = LineSet("real")
    held: list[LineSet] = []
    for folder in cfg.lines:
        tr, ho = read_line_folder(Path(folder), holdout=cfg.real_holdout)
        real_train.images += tr.images
        real_train.texts += tr.texts
        held.append(ho)
    synth: SynthLines | None = None
    data_sha = None
    if cfg.real_share < 1:
        split = load_emnist(cfg.data, cfg.split, "train")
        synth = SynthLines(split.images, to_label_space(split))
        data_sha = split.sha256
        if cfg.synth_val:
            held.append(synth.make_set(cfg.synth_val, seed=1_000_003 + cfg.seed))
    if synth is None and not len(real_train):
        raise DataError("no training lines: the line folders hold none outside the held-out share")
    return _LineData(real_train, held, synth, data_sha)


@dataclass
class _Run:
    """A run's model, optimiser and progress: what ``checkpoint.pt`` holds, and its files."""

    net: nn.Module
    opt: torch.optim.Optimizer
    n_params: int
    out: Path
    weights_path: Path
    meta_base: dict[str, Any]
    step: int = 0
    total: int = 0
    elapsed: float = 0.0
    best: float = math.inf
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val: dict[str, Any] = field(default_factory=dict)

    @property
    def ckpt_path(self) -> Path:
        """``out/checkpoint.pt``."""
        return self.out / "checkpoint.pt"

    def checkpoint(self) -> None:
        """Write ``checkpoint.pt`` (model, optimiser, progress), atomically."""
        import torch

        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": self.net.state_dict(),
                "optimizer": self.opt.state_dict(),
                "step": self.step,
                "total": self.total,
                "elapsed": self.elapsed,
                "best": self.best,
                "history": json.dumps(self.history),
                "best_val": json.dumps(self.best_val),
            },
            tmp,
        )
        tmp.replace(self.ckpt_path)

    def evaluate(self, held: list[LineSet], loss: float) -> None:
        """Score the held-out sets, log a history row, and export the weights when best."""
        t0 = time.monotonic()
        val = validate(self.net, held)
        sel = selection_cer(val)
        lr = self.opt.param_groups[0]["lr"]
        row: dict[str, Any] = {"step": self.step, "loss": loss, "lr": lr}
        for name, v in val.items():
            row[f"{name}_cer"], row[f"{name}_exact"] = v["cer"], v["exact"]
        row["val_s"] = time.monotonic() - t0
        self.history.append(row)
        log.info("step %d/%d: %s", self.step, self.total, {k: round(v, 4) for k, v in row.items()})
        if sel < self.best or not self.weights_path.is_file():
            self.best, self.best_val = sel, {"step": self.step, "selection_cer": sel, "val": val}
            save_line_weights(
                self.net, self.weights_path, {**self.meta_base, "metrics": self.best_val}
            )
        self.net.train()
        _write_history(self.out, self.history)


def _line_model(
    cfg: LineTrainConfig, dev: torch.device, out: Path, data: _LineData, *, resume: bool
) -> _Run:
    """Build the model (from ``init`` when given) and its optimiser; resume the checkpoint.

    Raises
    ------
    WeightsError
        ``init`` does not fit.
    """
    import torch

    torch.manual_seed(cfg.seed)
    net = build_line_model(cfg.arch, **cfg.model).to(dev)
    if cfg.init:
        load_line_weights(net, Path(cfg.init))
    n_params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    meta_base = {
        "format": LINE_FORMAT,
        "arch": cfg.arch,
        "tag": cfg.tag,
        "alphabet": ALPHABET,
        "input": {"height": LINE_HEIGHT, "channels": 1, "mean": 0.0, "std": 1.0, "ink": "bright"},
        "train": {
            "config": asdict(cfg),
            "data_sha256": data.data_sha,
            "git_commit": git_commit(),
            "torch": torch.__version__,
            "params": n_params,
        },
    }
    weights_path = out / f"{cfg.arch}.{cfg.tag}.safetensors"
    run = _Run(net, opt, n_params, out, weights_path, meta_base, total=cfg.steps)
    if resume and run.ckpt_path.is_file():
        state = torch.load(run.ckpt_path, map_location=dev, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        run.step, run.total = int(state["step"]), int(state["total"])
        run.elapsed, run.best = float(state["elapsed"]), float(state["best"])
        run.history = json.loads(state["history"])
        run.best_val = json.loads(state["best_val"])
        log.info("resumed at step %d of %d", run.step, run.total)
    return run


def _train_loop(
    cfg: LineTrainConfig,
    run: _Run,
    data: _LineData,
    dev: torch.device,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Step until ``run.total`` (cut to the time budget), validating at every checkpoint."""
    import torch

    ctc = torch.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    run.net.train()
    losses: list[float] = []
    t_start = time.monotonic() - run.elapsed
    timed_from = (run.step, time.monotonic())
    while run.step < run.total:
        losses.append(_train_step(cfg, run, data, dev, ctc))
        run.step += 1
        run.elapsed = time.monotonic() - t_start
        done_here = run.step - timed_from[0]
        if cfg.time_budget_s and (done_here == 20 or run.step % cfg.checkpoint_every == 0):
            # the pace so far (validation included; another process may share the CPU)
            per_step = (time.monotonic() - timed_from[1]) / done_here
            fit = run.step + int((cfg.time_budget_s - run.elapsed) / (per_step * 1.05))
            if fit < run.total:
                log.info(
                    "time budget: %.2f s per step, %d steps instead of %d", per_step, fit, run.total
                )
                run.total = max(run.step, fit)
        if progress is not None:
            progress(run.step, run.total)
        if run.step % cfg.checkpoint_every == 0 or run.step == run.total:
            run.evaluate(data.held, float(np.mean(losses[-cfg.checkpoint_every :])))
            run.checkpoint()


def _train_step(
    cfg: LineTrainConfig, run: _Run, data: _LineData, dev: torch.device, ctc: torch.nn.CTCLoss
) -> float:
    """One optimiser step on a freshly drawn batch; returns its CTC loss per line."""
    import torch

    rng = np.random.default_rng([cfg.seed, run.step])
    images, texts = draw_batch(rng, cfg.batch_size, data.synth, data.real, cfg.real_share)
    lr = _lr_at(run.step, run.total, cfg.lr, cfg.warmup)
    for g in run.opt.param_groups:
        g["lr"] = lr
    run.opt.zero_grad(set_to_none=True)
    batch_loss = 0.0
    for idx in chunks([im.shape[1] for im in images], CHUNK):
        sub = [images[i] for i in idx]
        targets = [encode_text(texts[i]) for i in idx]
        x, _ = to_batch(sub, extra_px=int(rng.integers(0, 33)))
        t_all = frames(x.shape[3])
        lp = run.net(torch.from_numpy(x).to(dev))  # (n, T, V)
        tgt = torch.tensor([k for t in targets for k in t], dtype=torch.long)
        loss = (
            ctc(
                lp.transpose(0, 1).float(),
                tgt,
                torch.full((len(idx),), t_all, dtype=torch.long),
                torch.tensor([len(t) for t in targets], dtype=torch.long),
            )
            / cfg.batch_size
        )
        loss.backward()
        batch_loss += float(loss.detach())
    torch.nn.utils.clip_grad_norm_(run.net.parameters(), 5.0)
    run.opt.step()
    return batch_loss


def _export(cfg: LineTrainConfig, run: _Run) -> LineFitResult:
    """Reload the best weights, export the ONNX graph and write the description.

    Raises
    ------
    WeightsError
        The ONNX export fails its parity check.
    """
    from handocr.models.weights import file_sha256

    load_line_weights(run.net, run.weights_path)
    net = run.net.cpu().float()
    graph = run.out / f"{cfg.arch}.{cfg.tag}.onnx"
    parity = export_line_onnx(net, graph)
    metrics = {
        **run.best_val,
        "params": run.n_params,
        "steps": run.step,
        "train_s": round(run.elapsed, 1),
        "onnx_parity": parity,
    }
    desc_path = run.out / f"{cfg.arch}.{cfg.tag}.json"
    desc = description(cfg, metrics)
    desc["sha256"] = {"onnx": file_sha256(graph), "safetensors": file_sha256(run.weights_path)}
    desc_path.write_text(json.dumps(desc, indent=2) + "\n", encoding="utf-8")
    return LineFitResult(
        run.weights_path,
        file_sha256(run.weights_path),
        graph,
        file_sha256(graph),
        desc_path,
        metrics,
    )


def _write_history(out: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with (out / "history.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
