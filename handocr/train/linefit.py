"""Training the CTC line member (``handocr train --arch crnn``) and exporting it.

The loop draws every batch afresh: synthetic EMNIST lines (:class:`handocr.train.lines.SynthLines`)
and, for a share ``real_share`` of each batch, real lines of the ``--real``/``--lines`` folders
(:func:`handocr.train.lines.read_line_folder`, lightly augmented). The loss is CTC (Graves et
al. 2006, ``torch.nn.CTCLoss``, blank 0) over every frame of the padded width, so the frames of
the right padding learn to be blank; AdamW with a linear warm-up and a cosine decay. Every
``checkpoint_every`` steps the held-out lines are read (greedy decoding) and scored by the page
sets' CER rule, ``checkpoint.pt`` is written, and the best weights so far are exported as
``<arch>.<tag>.safetensors``. At the end the best weights become a self-contained ONNX graph
(``<arch>.<tag>.onnx``, weights embedded) and its description (``<arch>.<tag>.json``).
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
from numpy.typing import NDArray

from handocr.errors import DataError, OptionError, WeightsError
from handocr.models.crnn import (
    ALPHABET,
    LINE_ARCHS,
    LINE_HEIGHT,
    STRIDE,
    build_line_model,
    encode_text,
    frames,
    greedy_decode,
)
from handocr.train.lines import LineSet, SynthLines, read_line_folder

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "LINE_FORMAT",
    "LineFitResult",
    "LineTrainConfig",
    "description",
    "export_line_onnx",
    "fit_lines",
    "line_parity",
    "load_line_weights",
    "read_lines",
    "save_line_weights",
    "score",
    "to_batch",
]

log = logging.getLogger(__name__)

LINE_FORMAT = "handocr-line-weights-1"
"""``format`` of a line member's safetensors metadata (not a crop member's file)."""
GRAPH_INPUT = "x"
GRAPH_OUTPUT = "log_probs"
OPSET = 18
PARITY_ATOL = 1e-4
"""Largest absolute difference of any log-probability allowed between ONNX and torch."""
CHUNK = 8
"""Lines per forward pass inside a batch: sorted by width, so little is padding."""


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


# ---------------------------------------------------------------------------------------------
# weights


def save_line_weights(net: nn.Module, path: Path, meta: dict[str, Any]) -> str:
    """Write a line member's state dict as fp16 safetensors with JSON metadata.

    The metadata follows :func:`handocr.models.weights.save_weights` (one JSON string under the
    key ``"handocr"``) with ``format`` :data:`LINE_FORMAT`, ``arch``, ``tag``, ``alphabet``,
    ``input``, ``train`` and ``metrics``. Returns the file's sha256.
    """
    import torch
    from safetensors.torch import save_file

    from handocr.models.weights import file_sha256

    state = {}
    for k, v in net.state_dict().items():
        t = v.detach().cpu()
        state[k] = (t.to(torch.float16) if t.is_floating_point() else t).contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(state, str(tmp), metadata={"handocr": json.dumps(meta, sort_keys=True)})
    tmp.replace(path)
    return file_sha256(path)


def load_line_weights(net: nn.Module, path: Path) -> dict[str, Any]:
    """Load a file written by :func:`save_line_weights` into ``net``; return its metadata.

    Raises
    ------
    WeightsError
        Missing or unreadable file, another format or alphabet, or tensors that do not fit.
    """
    import torch
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = json.loads((fh.metadata() or {})["handocr"])
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    except (SafetensorError, OSError, ValueError, KeyError) as err:
        raise WeightsError(f"{path.name}: not a line member's safetensors file ({err})") from err
    if meta.get("format") != LINE_FORMAT or meta.get("alphabet") != ALPHABET:
        raise WeightsError(f"{path.name}: not a line member of this alphabet ({LINE_FORMAT})")
    own = net.state_dict()
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    missing = sorted(set(own) - set(state))
    if bad or missing:
        raise WeightsError(f"{path.name} does not fit: missing={missing[:5]} other={bad[:5]}")
    with torch.no_grad():
        net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return dict(meta)


def export_line_onnx(net: nn.Module, out_path: Path, *, example_width: int = 96) -> float:
    """Export a line member to a self-contained ONNX graph and check it against torch.

    The graph takes ``x``: ``(N, 1, 32, W)`` float32 (dynamic ``N`` and ``W``) and gives
    ``log_probs``: ``(N, ceil(W / 4), V)`` float32; its weights are embedded (float32), so the
    file's sha256 covers everything.

    Returns
    -------
    float
        Largest absolute difference of the log-probabilities between ONNX Runtime and torch
        on random lines of several widths (:func:`line_parity`).

    Raises
    ------
    WeightsError
        The exporter failed or the parity is worse than :data:`PARITY_ATOL`.
    """
    import torch

    net = net.eval().float().cpu()
    n, w = torch.export.Dim("n", min=1), torch.export.Dim("w", min=1)
    # The exporter swaps in a while-loop LSTM (any number of frames) by editing the op's
    # kernels, but a kernel cached by an earlier call (a previous export or training step in
    # this process) would win and fix the width; clear the cache before and after.
    lstm_op = torch.ops.aten.lstm.input
    try:
        lstm_op._dispatch_cache.clear()
        prog = torch.onnx.export(
            net,
            (torch.zeros(2, 1, LINE_HEIGHT, example_width),),
            dynamo=True,
            input_names=[GRAPH_INPUT],
            output_names=[GRAPH_OUTPUT],
            dynamic_shapes=({0: n, 3: w},),
            opset_version=OPSET,
            verbose=False,
        )
    except Exception as err:
        raise WeightsError(f"ONNX export of the line member failed: {err}") from err
    finally:
        lstm_op._dispatch_cache.clear()
    if prog is None:
        raise WeightsError("torch.onnx.export returned no program")
    model = prog.model_proto
    for node in model.graph.node:  # drop the exporter's per-node provenance
        del node.metadata_props[:]
        node.doc_string = ""
    model.doc_string = "handocr line member (CRNN + CTC); weights embedded"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(out_path)
    try:
        worst = line_parity(net, out_path)
    except Exception as exc:
        if isinstance(exc, WeightsError):
            raise
        raise WeightsError(f"{out_path.name} does not run on any width: {exc}") from exc
    if worst > PARITY_ATOL:
        raise WeightsError(f"{out_path.name}: ONNX differs from torch by {worst:.2e}")
    return worst


def line_parity(
    net: nn.Module, graph: Path, *, widths: tuple[int, ...] = (1, 7, 33, 150, 401), seed: int = 0
) -> float:
    """Largest absolute log-probability difference between ``net`` and ``graph``.

    Parameters
    ----------
    net : torch.nn.Module
    graph : Path
    widths : tuple of int
        Input widths tried (batches of 3 random lines, half of them thresholded like ink).
    seed : int
    """
    import onnxruntime as ort
    import torch

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for w in widths:
        x = rng.random((3, 1, LINE_HEIGHT, w), dtype=np.float32)
        x[1] = (x[1] > 0.7).astype(np.float32)
        with torch.inference_mode():
            ref = net.eval()(torch.from_numpy(x)).numpy()
        (out,) = sess.run([GRAPH_OUTPUT], {GRAPH_INPUT: x})
        if out.shape != ref.shape or out.shape[1] != frames(w):
            raise WeightsError(f"{graph.name}: output {out.shape} for width {w}, torch {ref.shape}")
        worst = max(worst, float(np.abs(out - ref).max()))
    return worst


# ---------------------------------------------------------------------------------------------
# batches


def _augment_real(rng: np.random.Generator, img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Light jitter of a real line: width, side margins, contrast, blur, JPEG."""
    import cv2

    h, w = img.shape
    w2 = max(4, round(w * rng.uniform(0.8, 1.2)))
    out: Any = cv2.resize(img, (w2, h), interpolation=cv2.INTER_LINEAR)
    paper = int(np.median(np.concatenate([out[:, :2].ravel(), out[:, -2:].ravel()])))
    left, right = int(rng.integers(0, 7)), int(rng.integers(0, 7))
    if left or right:
        out = cv2.copyMakeBorder(out, 0, 0, left, right, cv2.BORDER_CONSTANT, value=paper)
    a, b = rng.uniform(0.8, 1.15), rng.uniform(-20, 20)
    f: Any = out.astype(np.float32) * a + b
    if rng.random() < 0.2:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.4, 1.0))
    out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 96))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return np.ascontiguousarray(out)


def to_batch(
    images: list[NDArray[np.uint8]], extra_px: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Stack ``(32, W_i)`` gray lines into ``(N, 1, 32, max W_i + extra_px)`` network input.

    Pixels are ``(255 - gray) / 255``, right-padded with 0. Also returns each line's frame
    count ``ceil(W_i / 4)``.
    """
    width = max(im.shape[1] for im in images) + extra_px
    x = np.zeros((len(images), 1, LINE_HEIGHT, width), np.float32)
    for i, im in enumerate(images):
        x[i, 0, :, : im.shape[1]] = (255.0 - im.astype(np.float32)) / 255.0
    return x, np.array([frames(im.shape[1]) for im in images], np.int64)


def _draw_batch(
    rng: np.random.Generator,
    n: int,
    synth: SynthLines | None,
    real: LineSet,
    real_share: float,
) -> tuple[list[NDArray[np.uint8]], list[str]]:
    n_real = int(rng.binomial(n, real_share)) if len(real) else 0
    if synth is None:
        n_real = n
    images, texts = [], []
    for k in rng.integers(0, max(1, len(real)), size=n_real):
        images.append(_augment_real(rng, real.images[int(k)]))
        texts.append(real.texts[int(k)])
    while synth is not None and len(images) < n:
        img, text = synth.render(rng)
        images.append(img)
        texts.append(text)
    return images, texts


def _chunks(widths: list[int], size: int) -> list[list[int]]:
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    return [order[i : i + size] for i in range(0, len(order), size)]


# ---------------------------------------------------------------------------------------------
# evaluation


def read_lines(net: nn.Module, images: list[NDArray[np.uint8]], *, chunk: int = 16) -> list[str]:
    """Greedy-decode ``(32, W)`` gray lines with a torch line member (in eval mode)."""
    import torch

    out: list[str] = [""] * len(images)
    net.eval()
    with torch.inference_mode():
        for idx in _chunks([im.shape[1] for im in images], chunk):
            x, t = to_batch([images[i] for i in idx])
            lp = net(torch.from_numpy(x)).numpy()
            for j, i in enumerate(idx):
                out[i] = greedy_decode(lp[j], int(t[j]))
    return out


def score(truth: list[str], read: list[str], *, digits_only: bool = False) -> dict[str, float]:
    """CER and exact-match share by the page sets' rule (upper case, no whitespace).

    ``cer`` is the summed Levenshtein distance over the summed truth length (micro-average);
    with ``digits_only`` only digits are compared.
    """
    from rapidfuzz.distance import Levenshtein

    from handocr.evaluate import normalise_for_cer

    dist = length = exact = 0
    for ref_raw, hyp_raw in zip(truth, read, strict=True):
        ref = normalise_for_cer(ref_raw, digits_only=digits_only)
        hyp = normalise_for_cer(hyp_raw, digits_only=digits_only)
        dist += Levenshtein.distance(ref, hyp)
        length += len(ref)
        exact += ref == hyp
    n = max(1, len(truth))
    return {"cer": dist / max(1, length), "exact": exact / n, "lines": len(truth)}


def _validate(net: nn.Module, sets: list[LineSet]) -> dict[str, dict[str, float]]:
    return {
        s.name: score(s.texts, read_lines(net, s.images), digits_only=s.digits_only)
        for s in sets
        if len(s)
    }


def _selection_cer(val: dict[str, dict[str, float]]) -> float:
    """Return the CER that picks the best weights: the real held-out sets' mean, else synth."""
    real = [v["cer"] for k, v in val.items() if k != "synth"]
    if real:
        return float(np.mean(real))
    return float(val.get("synth", {"cer": 1.0})["cer"])


# ---------------------------------------------------------------------------------------------
# the loop


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

    from handocr.train.data import load_emnist, to_label_space

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if cfg.device == "auto" else cfg.device))  # fmt: skip

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

    torch.manual_seed(cfg.seed)
    net = build_line_model(cfg.arch, **cfg.model).to(dev)
    if cfg.init:
        load_line_weights(net, Path(cfg.init))
    n_params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ctc = torch.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)

    ckpt_path = out / "checkpoint.pt"
    weights_path = out / f"{cfg.arch}.{cfg.tag}.safetensors"
    step, total, elapsed = 0, cfg.steps, 0.0
    best = math.inf
    history: list[dict[str, Any]] = []
    best_val: dict[str, Any] = {}
    if resume and ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location=dev, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, total, elapsed = int(state["step"]), int(state["total"]), float(state["elapsed"])
        best = float(state["best"])
        history = json.loads(state["history"])
        best_val = json.loads(state["best_val"])
        log.info("resumed at step %d of %d", step, total)

    meta_base = {
        "format": LINE_FORMAT,
        "arch": cfg.arch,
        "tag": cfg.tag,
        "alphabet": ALPHABET,
        "input": {"height": LINE_HEIGHT, "channels": 1, "mean": 0.0, "std": 1.0, "ink": "bright"},
        "train": {
            "config": asdict(cfg),
            "data_sha256": data_sha,
            "git_commit": git_commit(),
            "torch": torch.__version__,
            "params": n_params,
        },
    }
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n", encoding="utf-8")
    log.info("%s: %d parameters, %d real training lines, held out: %s", cfg.arch, n_params,
             len(real_train), {s.name: len(s) for s in held})  # fmt: skip

    def checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "total": total,
                "elapsed": elapsed,
                "best": best,
                "history": json.dumps(history),
                "best_val": json.dumps(best_val),
            },
            tmp,
        )
        tmp.replace(ckpt_path)

    def evaluate(loss: float) -> None:
        nonlocal best, best_val
        t0 = time.monotonic()
        val = _validate(net, held)
        sel = _selection_cer(val)
        row: dict[str, Any] = {"step": step, "loss": loss, "lr": opt.param_groups[0]["lr"]}
        for name, v in val.items():
            row[f"{name}_cer"], row[f"{name}_exact"] = v["cer"], v["exact"]
        row["val_s"] = time.monotonic() - t0
        history.append(row)
        log.info("step %d/%d: %s", step, total, {k: round(v, 4) for k, v in row.items()})
        if sel < best or not weights_path.is_file():
            best, best_val = sel, {"step": step, "selection_cer": sel, "val": val}
            save_line_weights(net, weights_path, {**meta_base, "metrics": best_val})
        net.train()
        _write_history(out, history)

    net.train()
    losses: list[float] = []
    t_start = time.monotonic() - elapsed
    timed_from = (step, time.monotonic())
    while step < total:
        rng = np.random.default_rng([cfg.seed, step])
        images, texts = _draw_batch(rng, cfg.batch_size, synth, real_train, cfg.real_share)
        lr = _lr_at(step, total, cfg.lr, cfg.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        batch_loss = 0.0
        for idx in _chunks([im.shape[1] for im in images], CHUNK):
            sub = [images[i] for i in idx]
            targets = [encode_text(texts[i]) for i in idx]
            x, _ = to_batch(sub, extra_px=int(rng.integers(0, 33)))
            t_all = frames(x.shape[3])
            lp = net(torch.from_numpy(x).to(dev))  # (n, T, V)
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
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        losses.append(batch_loss)
        step += 1
        elapsed = time.monotonic() - t_start
        done_here = step - timed_from[0]
        if cfg.time_budget_s and (done_here == 20 or step % cfg.checkpoint_every == 0):
            # the pace so far (validation included; another process may share the CPU)
            per_step = (time.monotonic() - timed_from[1]) / done_here
            fit = step + int((cfg.time_budget_s - elapsed) / (per_step * 1.05))
            if fit < total:
                log.info(
                    "time budget: %.2f s per step, %d steps instead of %d", per_step, fit, total
                )
                total = max(step, fit)
        if progress is not None:
            progress(step, total)
        if step % cfg.checkpoint_every == 0 or step == total:
            evaluate(float(np.mean(losses[-cfg.checkpoint_every :])))
            checkpoint()

    load_line_weights(net, weights_path)
    net = net.cpu().float()
    graph = out / f"{cfg.arch}.{cfg.tag}.onnx"
    parity = export_line_onnx(net, graph)
    from handocr.models.weights import file_sha256

    metrics = {
        **best_val,
        "params": n_params,
        "steps": step,
        "train_s": round(elapsed, 1),
        "onnx_parity": parity,
    }
    desc_path = out / f"{cfg.arch}.{cfg.tag}.json"
    desc = description(cfg, metrics)
    desc["sha256"] = {"onnx": file_sha256(graph), "safetensors": file_sha256(weights_path)}
    desc_path.write_text(json.dumps(desc, indent=2) + "\n", encoding="utf-8")
    return LineFitResult(
        weights_path, file_sha256(weights_path), graph, file_sha256(graph), desc_path, metrics
    )


def _write_history(out: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with (out / "history.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
