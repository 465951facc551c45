"""handocr and Tesseract side by side on the same images: images per second and CER.

handocr reads the whole folder in ONE process (``handocr read DIR --output-dir``, wall time
including start-up); Tesseract runs once per image (``tesseract IMG stdout --psm 7``, the
reference setting of ../shared/data/pages/README.md), as a user would script it. Both outputs
are scored with the development sets' CER rule (``handocr.evaluate.normalise_for_cer``) when the
folder has a ``truth.tsv``.

Run::

    python benchmarks/compare_tesseract.py ../shared/data/pages/kaggle_names
    python benchmarks/compare_tesseract.py DIR --handocr-args "--cascade off"

Tesseract is optional: without it on PATH only handocr's figures print.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from handocr.evaluate import normalise_for_cer
from handocr.io import IMAGE_SUFFIXES


def _truth(folder: Path) -> dict[str, str]:
    path = folder / "truth.tsv"
    if not path.is_file():
        return {}
    rows = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines())
    return {r[0]: r[1] for r in rows if len(r) == 2}


def _cer(outputs: dict[str, str], truth: dict[str, str], digits_only: bool) -> float | None:
    if not truth:
        return None
    dist = total = 0
    for name, text in truth.items():
        t = normalise_for_cer(text, digits_only=digits_only)
        o = normalise_for_cer(outputs.get(name, ""), digits_only=digits_only)
        dist += Levenshtein.distance(o, t)
        total += len(t)
    return dist / max(total, 1)


def run_handocr(images: list[Path], extra: list[str]) -> tuple[float, dict[str, str]]:
    """Read every image in one ``handocr read`` process; return (wall seconds, outputs)."""
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "in"
        files.mkdir()
        for p in images:  # one folder argument, like a user pointing at a directory
            (files / p.name).symlink_to(p.resolve())
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "handocr_cli", "read", str(files), "--output-dir", str(out)]
        t0 = time.perf_counter()
        subprocess.run([*cmd, *extra], check=True, capture_output=True)
        wall = time.perf_counter() - t0
        texts = {p.name: (out / (p.name + ".txt")).read_text(encoding="utf-8") for p in images}
    return wall, texts


def tesseract_version() -> str:
    """First line of ``tesseract --version``, e.g. ``tesseract 5.3.0``."""
    done = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.split("\n")[0]


def tesseract_text(image: Path, psm: int, *, extra: Sequence[str] = ()) -> str:
    """Run ``tesseract IMG stdout --psm N [EXTRA]`` in its own process; return its text."""
    done = subprocess.run(
        ["tesseract", str(image), "stdout", "--psm", str(psm), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout


def run_tesseract(images: list[Path], psm: int) -> tuple[float, dict[str, str]]:
    """Run ``tesseract IMG stdout --psm N`` once per image; return (wall seconds, outputs)."""
    t0 = time.perf_counter()
    texts = {p.name: tesseract_text(p, psm) for p in images}
    return time.perf_counter() - t0, texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="images (and optionally truth.tsv)")
    ap.add_argument("--psm", type=int, default=7, help="Tesseract page segmentation mode")
    ap.add_argument("--handocr-args", default="", help="extra options for handocr read")
    ap.add_argument("--digits-only", action="store_true", help="score digits only (cheques)")
    args = ap.parse_args()
    images = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        sys.exit(f"no images in {args.folder}")
    truth = _truth(args.folder)
    rows = []
    wall, texts = run_handocr(images, shlex.split(args.handocr_args))
    rows.append(("handocr (1 process)", wall, _cer(texts, truth, args.digits_only)))
    if shutil.which("tesseract"):
        version = tesseract_version()
        wall_t, texts_t = run_tesseract(images, args.psm)
        cer_t = _cer(texts_t, truth, args.digits_only)
        rows.append((f"{version} (1 process/image)", wall_t, cer_t))
    else:
        print("tesseract is not on PATH: only handocr was measured")
    print(f"{len(images)} images from {args.folder}")
    print(f"{'reader':<36}{'wall s':>9}{'images/s':>10}{'CER':>8}")
    for name, wall_s, cer in rows:
        cer_s = f"{cer:.3f}" if cer is not None else "-"
        print(f"{name:<36}{wall_s:>9.2f}{len(images) / wall_s:>10.1f}{cer_s:>8}")
    if len(rows) == 2:
        print(f"handocr / tesseract images per second: {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
