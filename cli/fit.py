"""``handocr fit-ensemble``, ``fit-verifier`` and ``fit-fusion``: fitting what joins the members."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from handocr_cli.common import (
    Device,
    TrainingData,
    Verbose,
    configure_cli_logging,
    fail,
    log,
    need_extra,
)

from handocr.errors import ExitCode, HandocrError


def fit_ensemble(
    members: Annotated[list[str], typer.Argument(help="arch.tag names of the members")],
    data: TrainingData = None,
    write: Annotated[
        bool,
        typer.Option(help="make MEMBERS the default ensemble with these weights in MANIFEST.json"),
    ] = False,
    device: Device = "cpu",
    verbose: Verbose = 0,
) -> None:
    """Fit the voting weights and the cascade of MEMBERS on their validation split.

    Weights minimise the log-loss; the cascade is the cheapest within 0.1 point of the full
    ensemble's accuracy.
    """
    configure_cli_logging(max(verbose, 1))
    need_extra("handocr fit-ensemble", verbose)
    from handocr.models.manifest import weights_dir
    from handocr.models.weights import refresh_manifest, write_manifest
    from handocr.train.ensemble import fit_ensemble as fit

    try:
        refresh_manifest(weights_dir())  # members copied in since the manifest was written
        result = fit(list(members), data=str(data) if data else None, device=device)
        if write:
            write_manifest(
                weights_dir(), list(members), result["voting_weights"], result.get("cascade")
            )
            log.info("wrote %s", weights_dir() / "MANIFEST.json")
    except HandocrError as err:
        raise fail(err, verbose) from None
    typer.echo(json.dumps(result))


def fit_verifier(
    data: TrainingData = None,
    split: Annotated[
        str, typer.Option(help="EMNIST split whose train glyphs are laid out")
    ] = "pool47",
    pages: Annotated[int, typer.Option(min=1, help="synthetic pages to fit on")] = 150,
    val_pages: Annotated[
        int, typer.Option(min=1, help="synthetic pages to tune the bonus on")
    ] = 50,
    boxes: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(help="folder of scans with boxes.tsv (e.g. the ORAND-CAR train split)"),
    ] = None,
    boxes_charset: Annotated[
        str, typer.Option(help="charset the --boxes scans are read with")
    ] = "digits",
    holdout: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="share of --boxes images kept out (as train --real-holdout)"
        ),
    ] = 0.1,
    hidden: Annotated[int, typer.Option(min=0, help="hidden units (0: logistic regression)")] = 32,
    seed: int = 0,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            help="file to write (default: the weights folder's verifier.safetensors)",
        ),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Fit the segmentation search's verifier ("is this candidate one character?").

    Synthetic pages of EMNIST train glyphs (and optional box-labelled scans) are read with the
    shipped ensemble up to each line's lattice of candidate glyphs; candidates matching a true
    box are positives, the rest negatives. The file is listed (sha256, the members it was
    fitted for, the report) in the MANIFEST.json of its folder, when that folder has one.
    Prints the fitting report as JSON.
    """
    configure_cli_logging(max(verbose, 1))
    need_extra("handocr fit-verifier", verbose, ("sklearn",))
    from handocr.api import Recognizer
    from handocr.models.manifest import MANIFEST, VERIFIER_FILE, weights_dir
    from handocr.models.weights import set_verifier_entry
    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.verifier import fit_from_sources

    try:
        emnist = load_emnist(data, split, "train")
        recognizer = Recognizer(device="cpu", line_models=())
        verifier, report = fit_from_sources(
            recognizer,
            emnist.images,
            to_label_space(emnist),
            pages=pages,
            val_pages=val_pages,
            boxes=list(boxes or []),
            boxes_charset=boxes_charset or None,
            holdout=holdout,
            hidden=hidden,
            seed=seed,
            progress=lambda name, n: log.debug("%s: %d pages", name, n),
        )
        path = output or weights_dir() / VERIFIER_FILE
        verifier.save(path, json.dumps(report))
        log.info("wrote %s", path)
        if (path.parent / MANIFEST).is_file():
            set_verifier_entry(
                path.parent,
                [m.key for m in recognizer.ensemble.models],
                report=report,
                command="handocr " + " ".join(sys.argv[1:]),
                file=path.name,
            )
            log.info("listed it in %s", path.parent / MANIFEST)
        else:
            log.warning("%s has no %s: reading uses only a listed verifier", path.parent, MANIFEST)
    except HandocrError as err:
        raise fail(err, verbose) from None
    typer.echo(json.dumps(report))


def fit_fusion_cmd(
    fields: Annotated[
        list[Path],
        typer.Argument(help="folders of labelled line images (truth.tsv), e.g. the train splits"),
    ],
    charset: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="SET=CHARSET: read that folder with a charset (orand_car_a=digits)"),
    ] = None,
    captioned: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="folder names whose images begin with text the truth leaves out"),
    ] = None,
    dates: Annotated[
        int,
        typer.Option(
            min=0, help="generated date fields (EMNIST train digits, drawn / - .), default fit"
        ),
    ] = 300,
    data: TrainingData = None,
    holdout: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="share of each folder kept out and scored")
    ] = 0.2,
    rounds: Annotated[int, typer.Option(min=1, help="gather-and-fit rounds")] = 1,
    seed: int = 0,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="at most this many images per folder"),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="store the weights in the weights folder's manifest")
    ] = False,
    verbose: Verbose = 0,
) -> None:
    """Fit the weights that fuse the line members with the character members.

    Every image is read with the shipped members; the weights minimise the expected errors of
    the chosen reading (handocr.train.fusion). Prints the report as JSON (held-out CER of the
    fused reading, the character members alone and each line member alone).
    """
    configure_cli_logging(max(verbose, 1))
    need_extra("handocr fit-fusion", verbose, ("scipy",))
    from handocr.models.manifest import weights_dir
    from handocr.models.weights import set_manifest_entry
    from handocr.train.fusion import FitSet, fit_fusion

    per_set = dict(spec.partition("=")[::2] for spec in charset or [])
    sets = [FitSet(f, per_set.get(f.name) or None, f.name in set(captioned or [])) for f in fields]
    for f in fields:
        if not (f / "truth.tsv").is_file():
            log.error("%s has no truth.tsv", f)
            raise typer.Exit(code=int(ExitCode.USAGE))
    try:
        if dates:
            import numpy as np

            from handocr.train.data import load_emnist, to_label_space
            from handocr.train.synthfields import date_fields, digits_by_value

            emnist = load_emnist(data, "pool47", "train")
            digits = digits_by_value(emnist.images, to_label_space(emnist))
            items = tuple(date_fields(np.random.default_rng(seed), digits, dates))
            sets.append(FitSet(Path("dates"), None, False, items))
        entry, report = fit_fusion(sets, rounds=rounds, limit=limit, holdout=holdout)
    except HandocrError as err:
        raise fail(err, verbose) from None
    except ValueError as err:
        log.error("%s", err)
        raise typer.Exit(code=int(ExitCode.USAGE)) from None
    entry |= {"report": report, "command": "handocr " + " ".join(sys.argv[1:])}
    if write:
        set_manifest_entry(weights_dir(), "fusion", entry)
        log.info("wrote the fusion weights into %s", weights_dir() / "MANIFEST.json")
    typer.echo(json.dumps(entry, indent=2, default=float))
