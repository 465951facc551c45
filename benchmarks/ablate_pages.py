"""Issue #4's reading steps switched off one at a time, on the development sets.

Each row reads ``../shared/data/pages`` (orand_car_a with ``--charset digits``) with the
shipped ensemble and default cascade, like ``handocr eval-pages``, with some of this release's
reading steps undone:

- ``case``: the case context (:func:`handocr.decode.apply_case_context`) is skipped;
- ``satellites``: accents and detached strokes are not folded into the line they hang on, and
  stray marks are not dropped (:class:`handocr.segment.SegmentConfig`);
- ``join``: no recognition-based joining of broken characters (``MERGE_MARGIN`` = inf);
- ``prior``: no letter-frequency prior (``letter_prior=0``).

Rows are cumulative from "none of them" to "all of them" (the shipped reading), then each
step alone is removed from the shipped reading.

    python benchmarks/ablate_pages.py ../shared/data/pages
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from handocr import api, decode
from handocr.api import Recognizer
from handocr.evaluate import evaluate_page_set, find_page_sets
from handocr.segment import layout

STEPS = ("case", "satellites", "join", "prior")


@contextlib.contextmanager
def without(steps: set[str]) -> Iterator[None]:
    """Undo the named reading steps inside the block (module attributes restored after)."""
    saved = (decode.apply_case_context, layout.SegmentConfig, api.MERGE_MARGIN)
    try:
        if "case" in steps:

            def no_case(probs, word_starts):  # type: ignore[no-untyped-def]
                return probs, np.zeros(len(probs), bool)

            decode.apply_case_context = no_case
        if "satellites" in steps:
            off = dataclasses.replace(layout.SegmentConfig(), satellite_parts=0, mark_gap=np.inf)
            layout.SegmentConfig = lambda: off  # type: ignore[assignment,misc]
        if "join" in steps:
            api.MERGE_MARGIN = np.inf
        yield
    finally:
        decode.apply_case_context, api.MERGE_MARGIN = saved[0], saved[2]
        layout.SegmentConfig = saved[1]  # type: ignore[misc]


def score(root: Path, steps: set[str]) -> dict[str, float]:
    """CER per set with ``steps`` undone."""
    rec = Recognizer(letter_prior=0.0 if "prior" in steps else None)
    out = {}
    with without(steps):
        for folder in find_page_sets(root):
            if folder.name == "iam_stress":
                continue
            r = copy.copy(rec)
            if folder.name == "orand_car_a":
                r.charset = "digits"
            out[folder.name] = round(evaluate_page_set(r, folder).cer, 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="the development sets (../shared/data/pages)")
    args = ap.parse_args()
    rows = []
    for k in range(len(STEPS) + 1):
        rows.append(("+ " + ", ".join(STEPS[:k]) if k else "none", set(STEPS[k:])))
    rows += [(f"all but {s}", {s}) for s in STEPS]
    for label, steps in rows:
        print(json.dumps({"steps": label, **score(args.root, steps)}), flush=True)


if __name__ == "__main__":
    main()
