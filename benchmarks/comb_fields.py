"""Synthetic comb fields read whole (issue #23, deliverable 4): CER and exact share.

Generates comb fields from EMNIST **test** glyphs (:mod:`handocr.train.combs`: 6-20 cells of
10-40 px, pens of 1-4 px, glyphs touching and crossing walls, up to 2 degrees of skew, JPEG)
and reads each as ``handocr read`` does, with and without comb reading (``combs=False``: the
free reading with ruled-line removal). CER = Levenshtein distance / truth length, case folded,
whitespace removed, summed over fields, also by field kind and by cell pitch;
``--charset-by-kind`` reads digit fields with ``charset="digits"`` and letter fields with
``charset="upper"`` (what a user who knows the form passes); ``--codes`` also reads them with
``letter_prior=0`` (``handocr read --letter-prior 0``: the generator's letter fields are random
codes, not words, so English letter frequencies are the wrong prior for them).

    python benchmarks/comb_fields.py [--n 300] [--seed 0] [--charset-by-kind] [--codes] [--peers]
        [--json]
        # --peers: Tesseract and PP-OCRv5 recognition read the same fields (compare_peers.py)
    python benchmarks/comb_fields.py --samples DIR   # also write the first 12 images there
    python benchmarks/comb_fields.py --cells [--binary] [--n 150]
        # the cells alone: fields found with their cell count, and the share of characters
        # misread (field's charset) where every filled cell gave one piece, by cell pitch;
        # --binary reads binary masks instead of the ink's gray levels
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parents[1]
EMNIST = ROOT.parent / "shared" / "data" / "emnist47"


def fold(text: str) -> str:
    """Case folded, whitespace removed."""
    return "".join(text.split()).casefold()


def score(readers: dict, samples: list) -> dict:
    """CER, exact share and seconds per field of each reader (``reader(sample) -> text``)."""
    out = {}
    for name, reader in readers.items():
        errs = chars = exact = 0
        by_kind: dict[str, list[int]] = {}
        t0 = time.perf_counter()
        for s in samples:
            pred, truth = fold(reader(s)), fold(s.text)
            d = Levenshtein.distance(pred, truth)
            errs, chars, exact = errs + d, chars + len(truth), exact + (d == 0)
            for key in (s.kind, f"cells {s.pitch // 10 * 10}-{s.pitch // 10 * 10 + 9} px"):
                k = by_kind.setdefault(key, [0, 0])
                k[0] += d
                k[1] += len(truth)
        out[name] = {
            "cer": round(errs / max(chars, 1), 4),
            "exact": round(exact / max(len(samples), 1), 4),
            "cer_by": {k: round(e / max(c, 1), 4) for k, (e, c) in sorted(by_kind.items())},
            "seconds_per_field": round((time.perf_counter() - t0) / max(len(samples), 1), 4),
        }
    return out


def handocr_reader(combs: bool, by_kind: bool, codes: bool = False):
    """handocr as ``handocr read`` reads the field (with the field's charset when ``by_kind``,
    without the English letter prior when ``codes``)."""
    from handocr.api import Recognizer

    prior = {"letter_prior": 0.0} if codes else {}
    recs = {
        k: Recognizer(combs=combs, charset=c if by_kind else None, **prior) for k, c in CHARSETS
    }

    def read(s) -> str:
        (record,) = recs[s.kind].read_images([s.image])
        return record.page.text if record.page else ""

    return read


def peer_readers(by_kind: bool) -> dict:
    """Tesseract (``--psm 7``, one line; digits whitelisted for digit fields when ``by_kind``)
    and PP-OCRv5 mobile recognition on the whole field image as one line (non-digits masked),
    as ``benchmarks/compare_peers.py`` runs them."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from compare_peers import DIGITS, PpocrRecognizer
    from compare_tesseract import tesseract_text

    folder = Path(tempfile.mkdtemp())
    pp = PpocrRecognizer()

    def tesseract(s) -> str:
        path = folder / "field.png"
        cv2.imwrite(str(path), s.image)
        digits = by_kind and s.kind == "digits"
        extra = ["-l", "eng"] + (["-c", f"tessedit_char_whitelist={DIGITS}"] if digits else [])
        return tesseract_text(path, 7, extra=extra)

    def ppocr(s) -> str:
        return pp.read([s.image], digits=by_kind and s.kind == "digits")[0]

    return {"tesseract --psm 7": tesseract, "ppocrv5-rec": ppocr}


CHARSETS = (("digits", "digits"), ("upper", "upper"))
"""Field kind -> the charset a user who knows the form passes."""


def cells(samples: list, binary: bool) -> dict:
    """Per-cell reading of the found combs: detection and substitution rate by pitch."""
    from handocr.api import Recognizer
    from handocr.labels import LABELS, Charset
    from handocr.preprocess import ink_map, level_page
    from handocr.segment.comb import cell_pieces, find_combs

    rec = Recognizer()
    found = {"one comb, right cells and fills": 0, "other": 0}
    by_pitch: dict[str, list[int]] = {}
    for s in samples:
        lev = level_page(s.image)
        raw = ink_map(lev.gray, remove_lines=False)
        combs = find_combs(raw, gray=None if binary else lev.gray)
        pieces = [p for p in cell_pieces(combs[0]) if p is not None] if len(combs) == 1 else []
        if len(combs) != 1 or len(combs[0].cells) != s.cells or len(pieces) != len(s.text):
            found["other"] += 1
            continue
        found["one comb, right cells and fills"] += 1
        charset = Charset.parse("digits" if s.kind == "digits" else "upper")
        best = charset.restrict(rec.classify(pieces)[:, 0]).argmax(1)
        band = f"cells {s.pitch // 10 * 10}-{s.pitch // 10 * 10 + 9} px"
        row = by_pitch.setdefault(band, [0, 0])
        row[0] += sum(LABELS[k] != c for k, c in zip(best, s.text, strict=True))
        row[1] += len(s.text)
    return {
        "fields": found,
        "substitutions": {k: round(e / n, 3) for k, (e, n) in sorted(by_pitch.items())},
        "pieces": "binary masks" if binary else "gray levels",
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--charset-by-kind", action="store_true")
    ap.add_argument("--codes", action="store_true")
    ap.add_argument("--samples", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cells", action="store_true")
    ap.add_argument("--binary", action="store_true")
    ap.add_argument("--peers", action="store_true")
    args = ap.parse_args(argv)
    from handocr.train.combs import generate_combs
    from handocr.train.data import load_emnist, to_label_space

    split = load_emnist(EMNIST, "pool47", "test")
    samples = generate_combs(args.n, split.images, to_label_space(split), seed=args.seed)
    if args.samples:
        args.samples.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(samples[:12]):
            cv2.imwrite(str(args.samples / f"comb_{i:02d}_{s.text}.png"), s.image)
    if args.cells:
        print(json.dumps(cells(samples, args.binary), indent=2))
        return 0
    readers = {
        "combs": handocr_reader(True, args.charset_by_kind, args.codes),
        "free reading": handocr_reader(False, args.charset_by_kind, args.codes),
    }
    if args.peers:
        readers.update(peer_readers(args.charset_by_kind))
    result = {"fields": len(samples), "chars": sum(len(s.text) for s in samples)}
    result.update(score(readers, samples))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:14s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
