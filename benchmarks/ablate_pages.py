"""Issue #4's reading steps switched off one at a time, on the development sets.

Each row reads ``../shared/data/pages`` (orand_car_a with ``--charset digits``) with the
shipped ensemble and default cascade, like ``handocr eval-pages``, with some of this release's
reading steps undone:

- ``case``: the case context is skipped (``ReadOptions(case_context=False)``);
- ``satellites``: accents and detached strokes are not folded into the line they hang on, and
  stray marks are not dropped (``SegmentConfig(satellite_parts=0, mark_gap=inf)``);
- ``join``: no recognition-based joining of broken characters (``join_broken=False``);
- ``prior``: no letter-frequency prior (``letter_prior=0``).

Rows are cumulative from "none of them" to "all of them" (the shipped reading), then each
step alone is removed from the shipped reading. Steps are switched off through
:class:`handocr.ReadOptions`, as a user would.

    python benchmarks/ablate_pages.py ../shared/data/pages
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from handocr import ReadOptions, Recognizer, SegmentConfig
from handocr.evaluate import evaluate_page_sets

STEPS = ("case", "satellites", "join", "prior")
SKIP = {"iam_stress"}  # cursive: out of scope for character segmentation


def options_without(steps: set[str]) -> ReadOptions:
    """The default reading options with ``steps`` switched off."""
    off: dict[str, object] = {}
    if "case" in steps:
        off["case_context"] = False
    if "satellites" in steps:
        off["segment"] = SegmentConfig(satellite_parts=0, mark_gap=math.inf)
    if "join" in steps:
        off["join_broken"] = False
    if "prior" in steps:
        off["letter_prior"] = 0.0
    return ReadOptions.of(**off)


def score(root: Path, steps: set[str], rec: Recognizer) -> dict[str, float]:
    """CER per set with ``steps`` undone (the loaded models are shared)."""
    reader = rec.with_options(**options_without(steps).as_dict())
    results = evaluate_page_sets(reader, root, charsets={"orand_car_a": "digits"})
    return {name: round(s.cer, 4) for name, s in results.items() if name not in SKIP}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="the development sets (../shared/data/pages)")
    args = ap.parse_args()
    rec = Recognizer()
    rows = []
    for k in range(len(STEPS) + 1):
        rows.append(("+ " + ", ".join(STEPS[:k]) if k else "none", set(STEPS[k:])))
    rows += [(f"all but {s}", {s}) for s in STEPS]
    for label, steps in rows:
        print(json.dumps({"steps": label, **score(args.root, steps, rec)}), flush=True)


if __name__ == "__main__":
    main()
