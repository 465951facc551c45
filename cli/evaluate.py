"""``handocr eval``, ``eval-pages`` and ``report``: measuring the members and the reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from handocr_cli.common import (
    DEFAULT_VOTING,
    DEFAULTS,
    BackendOpt,
    Binarize,
    CascadeOpt,
    Deskew,
    Device,
    LetterPrior,
    LineModels,
    Models,
    TrainingData,
    Verbose,
    VotingOpt,
    configure_cli_logging,
    fail,
    log,
    need_extra,
    progress_bar,
    read_options,
)

from handocr.errors import HandocrError


def eval_(
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(metavar="DIR", help="EMNIST IDX folder (default: $HANDOCR_DATA)"),
    ] = None,
    split: Annotated[str, typer.Option(metavar="SPLIT", help="EMNIST split")] = "pool47",
    models: Models = None,
    voting: VotingOpt = DEFAULT_VOTING,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable summary")] = False,
    confusion: Annotated[
        Path, typer.Option(metavar="FILE", help="confusion-matrix PNG to write")
    ] = Path("confusion_matrix.png"),
    device: Device = DEFAULTS.device,
    backend: BackendOpt = DEFAULTS.backend,
    cascade: CascadeOpt = str(DEFAULTS.cascade),
    classes: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="CHARSET",
            help="score only the test images of these classes (digits, upper, ...)",
        ),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Classifier accuracy on an EMNIST test split: every member, the ensemble and its cascade."""
    configure_cli_logging(verbose)
    need_extra("handocr eval", verbose, ("sklearn", "matplotlib"))
    from sklearn.metrics import classification_report

    from handocr.ensemble import Ensemble
    from handocr.labels import LABELS
    from handocr.train.data import load_emnist, select_classes, to_label_space
    from handocr.train.metrics import FOLDED_GROUPS, confusion_png, evaluate_classifier

    try:
        test = load_emnist(data, split, "test")
        images, labels = select_classes((test.images, to_label_space(test)), classes)
        cfg = read_options(
            models=tuple(models) if models else None, voting=voting, device=device,
            backend=backend, cascade=cascade,
        ).model  # fmt: skip
        ens = Ensemble.from_config(cfg)
        report = evaluate_classifier(ens, images, labels)
    except HandocrError as err:  # OptionError too: a bad --backend or --cascade
        raise fail(err, verbose) from None
    confusion_png(report.y_true, report.y_pred, LABELS, confusion)
    log.info("wrote %s", confusion)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    typer.echo(f"{'model':<32}{'top-1':>8}{'top-2':>8}{'folded':>8}{'ECE':>8}{'NLL':>8}")
    rows = [*report.members.items(), ("ensemble", report.ensemble)]
    if report.cascade is not None:
        rows.append(("cascade", report.cascade))
    for name, sc in rows:
        typer.echo(
            f"{name:<32}{sc.top1:>8.4f}{sc.top2:>8.4f}{sc.folded:>8.4f}{sc.ece:>8.4f}{sc.nll:>8.4f}"
        )
    typer.echo(
        f"n = {report.n}; folded: {' '.join('{' + ','.join(g) + '}' for g in FOLDED_GROUPS)}"
    )
    if len(report.members) > 1:
        typer.echo(
            f"members agree on {report.agreement:.4f}; oracle (any member right) "
            f"{report.oracle:.4f}"
        )
    if report.cascade is not None:
        stages = " > ".join(
            "+".join(ens.members[k].info.key for k in stage) for stage in ens.cascade_stages
        )
        margins = ", ".join(f"{m:g}" for m in ens.cascade_margins)
        typer.echo(
            f"cascade: {stages} (margins {margins}); {report.escalated:.4f} of the characters "
            "went past the first stage"
        )
    typer.echo(
        "most confused (truth -> prediction: count): "
        + ", ".join(f"{t}->{p}: {c}" for t, p, c in report.most_confused())
    )
    typer.echo("")
    typer.echo(
        classification_report(
            report.y_true,
            report.y_pred,
            labels=list(range(len(LABELS))),
            target_names=list(LABELS),
            digits=4,
            zero_division=0,
        )
    )
    typer.echo(f"confusion matrix: {confusion}")


def _per_set(specs: list[str] | None) -> tuple[str | None, dict[str, str]]:
    """Split ``[SET=]VALUE`` options: the value for every set (None) and those per set.

    A spec is split at its first ``=`` unless what precedes it cannot be a set's name (it
    holds a ``/``) or the whole spec is an existing file (a word list's path may hold ``=``).
    """
    per_set: dict[str, str] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if sep and name and "/" not in name and not Path(spec).exists():
            per_set[name] = value
        else:
            per_set[""] = spec
    return per_set.pop("", None), per_set


def eval_pages(
    root: Annotated[
        Path, typer.Argument(metavar="ROOT", help="folder of sets (sub-folders with truth.tsv)")
    ],
    models: Models = None,
    line_models: LineModels = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    rows: Annotated[bool, typer.Option(help="include per-image rows in --json")] = False,
    voting: VotingOpt = DEFAULT_VOTING,
    charset: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            metavar="[SET=]CHARSET",
            help="restrict output of every set (digits, upper, ...), or of one set with "
            "SET=CHARSET (e.g. orand_car_a=digits); repeatable",
        ),
    ] = None,
    lexicon: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            metavar="[SET=]LEXICON",
            help="read every set, or one set with SET=LEXICON (e.g. kaggle_names_more=names), "
            "with a lexicon: names, words-en, words-de or a word list file; repeatable",
        ),
    ] = None,
    deskew: Deskew = DEFAULTS.deskew,
    binarize: Binarize = DEFAULTS.binarize,
    device: Device = DEFAULTS.device,
    backend: BackendOpt = DEFAULTS.backend,
    cascade: CascadeOpt = str(DEFAULTS.cascade),
    letter_prior: LetterPrior = DEFAULTS.letter_prior,
    verbose: Verbose = 0,
) -> None:
    """Score every set under ROOT with the CER rule of the development data."""
    configure_cli_logging(verbose)
    need_extra("handocr eval-pages", verbose, ("scipy", "sklearn"))
    from handocr.api import Recognizer
    from handocr.evaluate import evaluate_page_sets

    default_charset, per_set = _per_set(charset)
    default_lexicon, lexicons = _per_set(lexicon)
    options = read_options(
        models=tuple(models) if models else None, device=device, backend=backend,
        voting=voting, cascade=cascade, binarize=binarize, deskew=deskew,
        charset=default_charset, letter_prior=letter_prior, line_models=line_models,
        lexicon=default_lexicon,
    )  # fmt: skip
    update, stop = progress_bar("evaluating")
    try:
        results = evaluate_page_sets(
            Recognizer(options), root, charsets=per_set, lexicons=lexicons, progress=update
        )
    except HandocrError as err:
        raise fail(err, verbose) from None
    finally:
        stop()
    for name, s in results.items():
        for f in s.failures:
            log.warning("%s: %s", name, f)
    if as_json:
        typer.echo(json.dumps({k: v.to_dict(rows=rows) for k, v in results.items()}, indent=2))
        return
    typer.echo(
        f"{'set':<18}{'images':>7}{'CER':>7} {'95% CI':<12}{'exact':>6} {'95% CI':<12}"
        f"{'read@1%':>8}{'read@0.1%':>10}{'ECE':>6}{'s/image':>9}"
    )
    for name, s in results.items():
        notes = ["digits only"] if s.digits_only else []
        notes += [f"--charset {s.charset}"] if s.charset else []
        notes += [f"--lexicon {s.lexicon}"] if s.lexicon else []
        note = f"  ({', '.join(notes)})" if notes else ""
        rates = [s.read_rates.get(str(e), (0.0, 0.0, 0.0))[0] for e in (0.01, 0.001)]
        typer.echo(
            f"{name:<18}{s.images:>7}{s.cer:>7.3f} {s.cer_low:.3f}-{s.cer_high:.3f} "
            f"{s.exact:>6.3f} {s.exact_low:.3f}-{s.exact_high:.3f} {rates[0]:>7.3f}"
            f"{rates[1]:>10.3f}{s.calibration_error:>6.3f}{s.seconds_per_image:>9.3f}{note}"
        )
    typer.echo(
        "read@E: largest share of images accepted (most confident first) with at most E of "
        "them wrong; ECE: calibration of the field confidence (--json: intervals of each)"
    )


def report(
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="DIR", help="folder of the report")
    ],
    data: TrainingData = None,
    split: Annotated[str, typer.Option(metavar="SPLIT", help="EMNIST split")] = "pool47",
    models: Models = None,
    pages: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(metavar="DIR", help="page sets (as eval-pages) for CER and an error gallery"),
    ] = None,
    history: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(metavar="FILE", help="history.csv of a training run (repeatable): its curves"),
    ] = None,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="evaluate at most this many test images"),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Write one HTML page (--output DIR/index.html) with every plot of the members' quality.

    Data, training curves, per-class precision/recall/F1, confusion matrix, most-confused
    pairs, ROC and precision-recall curves with AUC, reliability before and after temperature
    scaling, member agreement, and with --pages each set's CER and its worst images.
    """
    configure_cli_logging(max(verbose, 1))
    need_extra("handocr report", verbose, ("sklearn", "matplotlib", "jinja2"))
    from handocr.train.report import build_report

    try:
        index = build_report(
            output,
            data=str(data) if data else None,
            split=split,
            models=tuple(models) if models else None,
            pages=pages,
            histories=list(history or []),
            limit=limit,
        )
    except HandocrError as err:
        raise fail(err, verbose) from None
    typer.echo(str(index))
