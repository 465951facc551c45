"""Read the NIST example form whole and score it by word kind (issue #23's targets).

The form (``docs/examples/hsf_w4164_fullpage.png``, NIST SD19, public domain) is read once as
``handocr read`` does (``kind="all"``); then

- **handwriting**: the handwritten words (``handocr read --kind handwritten``), in reading
  order, against the 30 handwritten fields of ``docs/examples/hsf_w4164_fields.tsv`` in their
  order; case folded, whitespace removed, CER = Levenshtein distance / truth length;
- **printed text**: the printed words (``--kind printed``) against the transcript
  ``docs/examples/hsf_w4164_printed.txt``, by the same rule;
- **word kinds**: a word is truly handwritten when its box centre lies inside one of the field
  boxes, printed otherwise; accuracy, and precision and recall of each kind.

    python benchmarks/form_kinds.py            # table
    python benchmarks/form_kinds.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from handocr.api import Recognizer
from handocr.kind import keep_kind
from handocr.result import KINDS, Box

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
FORM = EXAMPLES / "hsf_w4164_fullpage.png"
FIELDS = EXAMPLES / "hsf_w4164_fields.tsv"
PRINTED = EXAMPLES / "hsf_w4164_printed.txt"


def fold(text: str) -> str:
    """Case folded, whitespace removed: the rule of the targets."""
    return "".join(text.split()).casefold()


def cer(pred: str, truth: str) -> float:
    """Character error rate of ``pred`` against ``truth`` (both folded first)."""
    p, t = fold(pred), fold(truth)
    return Levenshtein.distance(p, t) / max(len(t), 1)


def field_boxes() -> tuple[list[Box], str]:
    """Return the field boxes and their truths joined in the table's order."""
    rows = [line.split("\t") for line in FIELDS.read_text().splitlines()[1:] if line.strip()]
    boxes = [Box(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]
    return boxes, "".join(r[5] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rec = Recognizer()
    rec.read(FORM)  # load the models outside the timing
    t0 = time.perf_counter()
    (page,) = rec.read(FORM).pages
    seconds = time.perf_counter() - t0
    boxes, hand_truth = field_boxes()
    counts = {(t, p): 0 for t in KINDS for p in KINDS}
    for line in page.lines:
        for word in line.words:
            cx, cy = (word.box.x0 + word.box.x1) / 2, (word.box.y0 + word.box.y1) / 2
            inside = any(b.x0 <= cx < b.x1 and b.y0 <= cy < b.y1 for b in boxes)
            counts["handwritten" if inside else "printed", word.kind] += 1
    n = sum(counts.values())
    out: dict[str, object] = {
        "seconds": round(seconds, 2),
        "words": n,
        "handwriting_cer": round(cer(keep_kind(page, "handwritten").text, hand_truth), 4),
        "printed_cer": round(cer(keep_kind(page, "printed").text, PRINTED.read_text()), 4),
        "kind_accuracy": round(sum(counts[k, k] for k in KINDS) / max(n, 1), 4),
    }
    for k in KINDS:
        said = sum(counts[t, k] for t in KINDS)
        true = sum(counts[k, p] for p in KINDS)
        out[f"{k}_precision"] = round(counts[k, k] / said, 4) if said else None
        out[f"{k}_recall"] = round(counts[k, k] / true, 4) if true else None
    if args.json:
        print(json.dumps(out))
        return
    for key, value in out.items():
        print(f"{key:<24}{value}")


if __name__ == "__main__":
    main()
