"""Every switchable reading rule re-measured on the large sets, with paired confidence intervals.

A rule stays only where it pays on many writers (issue #14): ``kaggle_names_more`` (250 writers)
and the held-out part of the ORAND-CAR-A **train** split (the images that ``handocr train
--real`` holds out by the hash of their name, :func:`handocr.train.realdata.held_out`, read
with ``--charset digits``), besides the small development sets. Each row reads every set
with the shipped ensemble and default cascade, with one rule switched off through
:class:`handocr.ReadOptions`, as a user would:

- ``search``: no segmentation search, the layout's glyphs stand (``search=False``);
- ``case``: no case context (``case_context=False``);
- ``marks``: stray marks far from their line are kept (``SegmentConfig(mark_gap=inf)``);
- ``prior``: no letter-frequency prior (``letter_prior=0``);
- ``context``: no letter/digit, case or prior context at all (``word_context=False``);
- ``deskew``: no deskewing (``deskew=False``);
- ``lines``: ruled lines and box borders are not removed (``remove_lines=False``);
- ``hysteresis``: faint strokes are not completed by hysteresis (``hysteresis=False``);
- ``bars``: a bar filed under ``L`` in a line of capitals stays ``L`` (``bars_as_i=False``).

For every set the script prints the CER with all rules, and for each rule the CER without it
and the difference (without minus with) with its 95% paired bootstrap interval
(:func:`handocr.evaluate.cer_difference_interval`): a positive interval means the rule pays
on that set, an interval around 0 that the set cannot tell.

    python benchmarks/ablate_pages.py ../shared/data/pages \
        --orand-train ../shared/data/train/orand_car_a
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from handocr import Recognizer, SegmentConfig
from handocr.evaluate import (
    PageSetScore,
    cer_difference_interval,
    evaluate_page_set,
    evaluate_page_sets,
    read_truth,
)
from handocr.train.realdata import held_out

RULES: dict[str, dict[str, object]] = {
    "search": {"search": False},
    "case": {"case_context": False},
    "marks": {"segment": SegmentConfig(mark_gap=math.inf)},
    "prior": {"letter_prior": 0.0},
    "context": {"word_context": False},
    "deskew": {"deskew": False},
    "lines": {"remove_lines": False},
    "hysteresis": {"hysteresis": False},
    "bars": {"bars_as_i": False},
}
SKIP = {"iam_stress"}  # cursive: out of scope for character segmentation
HOLDOUT = 0.1  # the default of `handocr train --real-holdout`


def heldout_orand(train_dir: Path, into: Path) -> Path:
    """A set folder of the held-out ORAND train images (symbolic links and truth.tsv)."""
    folder = into / "orand_train_heldout"
    folder.mkdir()
    rows = [(n, t) for n, t in read_truth(train_dir / "truth.tsv") if held_out(n, HOLDOUT)]
    for name, _ in rows:
        (folder / name).symlink_to((train_dir / "images" / name).resolve())
    (folder / "truth.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in rows), encoding="utf-8")
    return folder


def read_all(rec: Recognizer, root: Path, extra: Path | None) -> dict[str, PageSetScore]:
    scores = evaluate_page_sets(rec, root, charsets={"orand_car_a": "digits"})
    out = {k: v for k, v in scores.items() if k not in SKIP}
    if extra is not None:
        out[extra.name] = evaluate_page_set(
            rec.with_options(charset="digits"), extra, digits_only=True
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="the development sets (../shared/data/pages)")
    ap.add_argument("--orand-train", type=Path, help="../shared/data/train/orand_car_a")
    ap.add_argument("--rules", nargs="*", default=list(RULES), choices=list(RULES))
    args = ap.parse_args()
    rec = Recognizer()
    with tempfile.TemporaryDirectory() as tmp:
        extra = heldout_orand(args.orand_train, Path(tmp)) if args.orand_train else None
        full = read_all(rec, args.root, extra)
        print(json.dumps({"rule": "all", **{k: round(v.cer, 4) for k, v in full.items()}}))
        for rule in args.rules:
            off = read_all(rec.with_options(**RULES[rule]), args.root, extra)
            row: dict[str, object] = {"rule": f"without {rule}"}
            for name, base in full.items():
                lengths = [r["length"] for r in base.rows]
                diff, low, high = cer_difference_interval(
                    [r["distance"] for r in base.rows],
                    [r["distance"] for r in off[name].rows],
                    lengths,
                )
                row[name] = {"cer": round(off[name].cer, 4), "delta": round(diff, 4),
                             "ci95": [round(low, 4), round(high, 4)]}  # fmt: skip
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
