"""Printed words of the NIST example form read by PP-OCRv5's line recognizer (issue #23).

The form (``docs/examples/hsf_w4164_fullpage.png``) is read as ``handocr read`` does; its words
are marked printed by the ground-truth rule of ``benchmarks/form_kinds.py`` (box centre outside
every field box): an oracle, to measure the reader and not the kind decision. The printed words'
text is scored against ``docs/examples/hsf_w4164_printed.txt`` with ``form_kinds.cer`` (case
folded, whitespace removed), as read by the ensemble (before) and by
:func:`handocr.printed.read_printed` (after); with ``--tesseract``, Tesseract's text of the
page's printed lines (those of its lines that overlap no field box) is scored the same way.

    python benchmarks/printed_words.py [--json] [--tesseract] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from form_kinds import FORM, PRINTED, cer, field_boxes

from handocr.api import Recognizer
from handocr.io import load_pages
from handocr.printed import read_printed
from handocr.result import Box, Page


def inside(box: Box, boxes: list[Box]) -> bool:
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return any(b.x0 <= cx < b.x1 and b.y0 <= cy < b.y1 for b in boxes)


def printed_text(page: Page, printed: list[bool]) -> str:
    flags = iter(printed)
    lines = []
    for line in page.lines:
        words = [w.text for w in line.words if next(flags)]
        if words:
            lines.append(" ".join(words))
    return "\n".join(lines)


def tesseract_printed(boxes: list[Box]) -> str | None:
    """Tesseract's lines (TSV) whose box overlaps no field box."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    tsv = subprocess.run([exe, str(FORM), "-", "tsv"], capture_output=True, text=True, check=True)
    rows = [r.split("\t") for r in tsv.stdout.splitlines()[1:]]
    lines: dict[tuple[int, int, int], list[tuple[Box, str]]] = {}
    for r in rows:
        if len(r) == 12 and r[0] == "5" and r[11].strip():
            x, y, w, h = (int(v) for v in r[6:10])
            lines.setdefault((int(r[2]), int(r[3]), int(r[4])), []).append(
                (Box(x, y, x + w, y + h), r[11])
            )
    out = []
    for words in lines.values():
        if not any(inside(b, boxes) for b, _ in words):
            out.append(" ".join(t for _, t in words))
    return "\n".join(out)


def tesseract_runs(page: Page, gray: np.ndarray, printed: list[bool]) -> str | None:
    """Tesseract (``--psm 7``, one line per image) on the very crops read_printed reads."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    import cv2

    from handocr.printed import _chunks, _run_crop

    flags = iter(printed)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "run.png"
        for line in page.lines:
            marks = [next(flags) for _ in line.words]
            texts = []
            w = 0
            while w < len(marks):
                if not marks[w]:
                    w += 1
                    continue
                end = w
                while end < len(marks) and marks[end]:
                    end += 1
                for _, a, b in _chunks(line.words, 0, w, end):
                    crop, _ = _run_crop(gray, line.words, a, b)
                    cv2.imwrite(str(png), crop)
                    run = subprocess.run([exe, str(png), "-", "--psm", "7"], capture_output=True,
                                         text=True, check=True)  # fmt: skip
                    texts.append(run.stdout.strip())
                w = end
            if texts:
                lines.append(" ".join(texts))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tesseract", action="store_true", help="score Tesseract's printed lines")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of read_printed")
    args = ap.parse_args()
    rec = Recognizer()
    (page,) = rec.read(FORM).pages
    (gray,) = load_pages(FORM)
    boxes, _ = field_boxes()
    printed = [not inside(w.box, boxes) for line in page.lines for w in line.words]
    member = rec.line_members[0]
    truth = PRINTED.read_text()
    read_printed(page, gray, member, printed)  # warm the session
    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        after = read_printed(page, gray, member, printed)
        times.append(time.perf_counter() - t0)
    out: dict[str, object] = {
        "member": member.key,
        "printed_words": sum(printed),
        "cer_before": round(cer(printed_text(page, printed), truth), 4),
        "cer_after": round(cer(printed_text(after, printed_after(after)), truth), 4),
        "read_printed_s": round(min(times), 3),
    }
    if args.tesseract:
        text = tesseract_printed(boxes)
        out["cer_tesseract_printed_lines"] = None if text is None else round(cer(text, truth), 4)
        text = tesseract_runs(page, gray, printed)
        out["cer_tesseract_same_crops"] = None if text is None else round(cer(text, truth), 4)
    if args.json:
        print(json.dumps(out))
        return
    for key, value in out.items():
        print(f"{key:<30}{value}")


def printed_after(page: Page) -> list[bool]:
    return [w.kind == "printed" for line in page.lines for w in line.words]


if __name__ == "__main__":
    main()
