"""``handocr train``, ``calibrate`` and ``export-onnx``: producing a member's weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from handocr_cli.common import (
    Device,
    TrainingData,
    Verbose,
    configure_cli_logging,
    fail,
    log,
    need_extra,
    progress_bar,
)

from handocr.errors import HandocrError, OptionError


def train(
    arch: Annotated[
        str, typer.Option(metavar="ARCH", help="registered architecture, e.g. cnn or resnet18")
    ],
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(metavar="DIR", help="EMNIST IDX folder (default: $HANDOCR_DATA)"),
    ] = None,
    split: Annotated[
        str, typer.Option(metavar="SPLIT", help="EMNIST split: pool47, balanced, bymerge...")
    ] = ("pool47"),
    out: Annotated[Path, typer.Option(metavar="DIR", help="output folder")] = Path("runs/train"),
    tag: Annotated[str, typer.Option(metavar="TAG", help="weights tag")] = "emnist47-v1",
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    lr: Annotated[float, typer.Option(metavar="RATE", help="peak OneCycle learning rate")] = 3e-3,
    weight_decay: Annotated[float, typer.Option(help="AdamW decoupled weight decay")] = 5e-4,
    label_smoothing: Annotated[float, typer.Option(metavar="EPSILON", help="in [0, 1)")] = 0.05,
    val_fraction: Annotated[
        float,
        typer.Option(metavar="SHARE", help="share of train held out (stratified) for validation"),
    ] = 0.05,
    ema: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            metavar="DECAY", help="export an EMA of the weights with this decay, e.g. 0.999"
        ),
    ] = None,
    patience: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            metavar="EPOCHS", help="stop after this many epochs without a validation gain"
        ),
    ] = None,
    seed: int = 0,
    time_budget: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(metavar="SECONDS", help="fewer epochs are run to fit it"),
    ] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads")] = None,  # noqa: UP045
    max_train: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="use at most this many training images"),
    ] = None,
    resume: Annotated[bool, typer.Option(help="continue from the --out DIR/checkpoint.pt")] = False,
    precision: Annotated[
        str,
        typer.Option(
            metavar="MODE", help="auto, fp32 or bf16 (autocast for the training forward pass)"
        ),
    ] = "auto",
    init: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            metavar="FILE", help="fine-tune: start from these weights (.safetensors, same arch)"
        ),
    ] = None,
    lowres: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, metavar="SHARE", help="share of crops re-rendered at low resolution"
        ),
    ] = 0.0,
    real: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            metavar="DIR",
            help="also train on real handprint in this folder (boxes.tsv, a folder per class, "
            "or images + truth.tsv aligned by handocr itself); repeatable",
        ),
    ] = None,
    real_share: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.99, metavar="SHARE", help="share of each epoch drawn from --real crops"
        ),
    ] = 0.25,
    real_holdout: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.5, metavar="SHARE", help="share of --real images held out and scored"
        ),
    ] = 0.1,
    min_agreement: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, metavar="SHARE", help="weak labels: least share of glyphs agreeing"
        ),
    ] = 0.5,
    synth_pages: Annotated[
        int,
        typer.Option(min=0, help="pages of pipeline-matched synthetic crops (EMNIST train glyphs)"),
    ] = 0,
    device: Device = "auto",
    classes: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="CHARSET",
            help="train on these classes only (a charset: digits, upper, letters...)",
        ),
    ] = None,
    lines: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            metavar="DIR",
            help="--arch crnn: a folder of line images with truth.tsv (filename<TAB>text), "
            "e.g. your own writers; repeatable (--real folders are read the same way)",
        ),
    ] = None,
    steps: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="--arch crnn: optimiser steps (default: 500 per --epochs)"),
    ] = None,
    checkpoint_every: Annotated[
        int, typer.Option(min=1, help="--arch crnn: steps between validations and checkpoints")
    ] = 250,
    verbose: Verbose = 0,
) -> None:
    """Train one member on EMNIST (and real handprint) into --out DIR/<arch>.<tag>.safetensors.

    With --arch crnn it trains the CTC line member instead, on synthetic EMNIST lines and
    the line folders of --real/--lines, and also writes DIR/crnn.<tag>.onnx and .json.
    """
    configure_cli_logging(max(verbose, 1))
    need_extra("handocr train", verbose)
    from handocr.models.crnn import LINE_ARCHS

    if arch in LINE_ARCHS:
        _train_line_member(
            arch=arch,
            data=data,
            split=split,
            out=out,
            tag="lines-v1" if tag == "emnist47-v1" else tag,
            steps=steps or 500 * epochs,
            batch_size=32 if batch_size == 256 else batch_size,
            lr=lr,
            weight_decay=weight_decay,
            seed=seed,
            folders=[*(real or ()), *(lines or ())],
            real_share=real_share,
            real_holdout=real_holdout,
            checkpoint_every=checkpoint_every,
            time_budget=time_budget,
            device=device,
            threads=threads,
            init=init,
            resume=resume,
            verbose=verbose,
        )
        return
    if lines or steps:
        raise fail(OptionError("--lines and --steps are for line members (--arch crnn)"), verbose)
    from handocr.train.config import TrainConfig
    from handocr.train.fit import fit

    try:
        cfg = TrainConfig(
            arch=arch,
            data=str(data) if data else None,
            split=split,
            out_dir=str(out),
            tag=tag,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            label_smoothing=label_smoothing,
            val_fraction=val_fraction,
            ema=ema,
            patience=patience,
            seed=seed,
            time_budget_s=time_budget,
            device=device,
            threads=threads,
            max_train=max_train,
            precision=precision,
            init=str(init) if init else None,
            lowres=lowres,
            real=tuple(str(r) for r in real or ()),
            real_share=real_share,
            real_holdout=real_holdout,
            min_agreement=min_agreement,
            synth_pages=synth_pages,
            classes=classes,
        )
        update, stop = progress_bar(f"training {arch}")
        try:
            result = fit(cfg, resume=resume, progress=update)
        finally:
            stop()
    except HandocrError as err:  # OptionError (exit 2) for a bad value, DataError, ...
        raise fail(err, verbose) from None
    typer.echo(
        json.dumps({"weights": str(result.weights), "sha256": result.sha256, **result.metrics})
    )


def _train_line_member(
    *,
    arch: str,
    folders: list[Path],
    out: Path,
    data: Path | None,
    init: Path | None,
    resume: bool,
    verbose: int,
    **options: Any,
) -> None:
    """``handocr train --arch crnn``: train the CTC line member (:mod:`handocr.train.linefit`)."""
    from handocr.train.linefit import LineTrainConfig, fit_lines

    try:
        cfg = LineTrainConfig(
            arch=arch,
            data=str(data) if data else None,
            out_dir=str(out),
            lines=tuple(str(f) for f in folders),
            init=str(init) if init else None,
            time_budget_s=options.pop("time_budget"),
            **options,
        )
        update, stop = progress_bar(f"training {arch}")
        try:
            result = fit_lines(cfg, resume=resume, progress=update)
        finally:
            stop()
    except HandocrError as err:
        raise fail(err, verbose) from None
    typer.echo(
        json.dumps(
            {
                "weights": str(result.weights),
                "sha256": result.sha256,
                "onnx": str(result.graph),
                "onnx_sha256": result.graph_sha256,
                "json": str(result.description),
                **result.metrics,
            }
        )
    )


def calibrate(
    weights: Annotated[
        Path, typer.Argument(metavar="WEIGHTS", help="a .safetensors file written by train")
    ],
    data: TrainingData = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(metavar="FILE", help="write here instead of replacing WEIGHTS"),
    ] = None,
    device: Device = "cpu",
    verbose: Verbose = 0,
) -> None:
    """Fit a member's temperature on its validation split (Guo et al. 2017) and store it."""
    configure_cli_logging(max(verbose, 1))
    need_extra("handocr calibrate", verbose)
    from handocr.train.calibrate import calibrate_weights

    try:
        result = calibrate_weights(
            weights, data=str(data) if data else None, out=out, device=device
        )
    except HandocrError as err:
        raise fail(err, verbose) from None
    typer.echo(json.dumps(result))


def export_onnx(
    members: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            metavar="MEMBER", help="arch.tag names (default: every weights file of the folder)"
        ),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Export ONNX graphs for ONNX Runtime inference, check parity, update MANIFEST.json.

    Each graph (arch.tag.onnx, written beside its weights) references the tensors inside the
    safetensors file, so the weights stay in one place. A graph is kept only if its
    probabilities match the torch model's within 1e-4 on random crops.
    """
    configure_cli_logging(max(verbose, 1))
    need_extra("handocr export-onnx", verbose)
    from handocr.models.manifest import load_manifest, weights_dir
    from handocr.models.weights import refresh_manifest, write_manifest
    from handocr.train.export import PARITY_ATOL, export_member

    try:
        refresh_manifest(weights_dir())  # files added since the manifest was written
        manifest = load_manifest()
        names = list(members or manifest.weights)
        for name in names:
            diff = export_member(name)
            log.info("%s: graph written, max |p_onnx - p_torch| = %.2e", name, diff)
        write_manifest(manifest.folder, list(manifest.default_ensemble))
    except HandocrError as err:
        raise fail(err, verbose) from None
    typer.echo(json.dumps({"exported": names, "parity_atol": PARITY_ATOL}))
