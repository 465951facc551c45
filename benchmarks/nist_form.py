"""Read the full NIST SD19 example form and score each of its 30 handprinted fields.

The form (``docs/examples/hsf_w4164_fullpage.png``, NIST SD19, public domain) is read whole, as
``handocr read`` does; the characters whose box centres fall inside each field's box
(``docs/examples/hsf_w4164_fields.tsv``: the crop boxes and prompts of the development set's
``nist_sd19_hsf``) make the field's text. Each field is scored with the development sets' rule
(upper-cased, whitespace removed, Levenshtein distance). Issue #4 asks for every digit field
exact or within one character.

    python benchmarks/nist_form.py            # table
    python benchmarks/nist_form.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from handocr.api import Recognizer
from handocr.evaluate import normalise_for_cer, text_in_box
from handocr.result import Box

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
FORM = EXAMPLES / "hsf_w4164_fullpage.png"
FIELDS = EXAMPLES / "hsf_w4164_fields.tsv"


def read_fields(path: Path = FIELDS) -> list[tuple[str, Box, str]]:
    """Return ``(field, box, truth)`` for every row of the field table."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        (r["field"], Box(int(r["x0"]), int(r["y0"]), int(r["x1"]), int(r["y1"])), r["truth"])
        for r in rows
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    args = ap.parse_args()
    page = Recognizer(device="cpu").read(FORM).pages[0]
    rows: list[dict[str, Any]] = []
    for name, box, truth in read_fields():
        text = text_in_box(page, box)
        dist = Levenshtein.distance(normalise_for_cer(text), normalise_for_cer(truth))
        rows.append({"field": name, "truth": truth, "read": text, "distance": dist})
    digits = [r for r in rows if r["truth"].isdigit()]
    summary = {
        "digit_fields": len(digits),
        "digit_fields_exact": sum(r["distance"] == 0 for r in digits),
        "digit_fields_within_one": sum(r["distance"] <= 1 for r in digits),
        "digit_cer": sum(r["distance"] for r in digits) / sum(len(r["truth"]) for r in digits),
        "letter_field_distances": [r["distance"] for r in rows if not r["truth"].isdigit()],
    }
    if args.json:
        print(json.dumps({"fields": rows, **summary}))
        return
    for r in rows:
        print(f"{r['field']:>5}  {r['truth']:<28} {r['read']:<28} {r['distance']}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
