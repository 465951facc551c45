"""Write every output format of every development page, to compare two builds byte for byte.

A refactoring that should not change what handocr writes is checked by running this on the
build before and after and comparing the two folders (``diff -r``). Each set under
``../shared/data/pages`` and the shipped NIST form are read once per format by the command line
(``handocr read --output-dir``), exactly as a user would.

    python benchmarks/output_snapshot.py /tmp/after
    PYTHONPATH=/tmp/basepath python benchmarks/output_snapshot.py /tmp/before   # another build
    diff -r /tmp/before /tmp/after

``PYTHONPATH`` must name a folder holding ``handocr`` and ``handocr_cli`` (links to the other
checkout's ``handocr/`` and ``cli/``). Formats and sets can be narrowed with ``--formats`` and
``--sets``. Outputs are stamped with ``SOURCE_DATE_EPOCH`` (default 1700000000) so that PAGE
XML and PDF files compare too. On the 2-core M2 VM the whole run (452 images, 7 formats) takes
4 minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent / "shared" / "data" / "pages"
FORM = ROOT / "docs" / "examples" / "hsf_w4164_fullpage.png"
FORMATS = ("text", "json", "hocr", "tsv", "alto", "page", "pdf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    args = ap.parse_args()
    sets: dict[str, Path] = {"nist_form": FORM}
    if PAGES.is_dir():
        for d in sorted(p for p in PAGES.iterdir() if p.is_dir()):
            sets[d.name] = d
    if args.sets:
        keep = set(args.sets.split(","))
        sets = {k: v for k, v in sets.items() if k in keep}
    env = {"SOURCE_DATE_EPOCH": "1700000000", **os.environ}
    code = "from handocr_cli.app import main; main()"
    for name, src in sets.items():
        for fmt in args.formats.split(","):
            out = args.out / name / fmt
            out.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            cmd = [sys.executable, "-c", code, "read", "-f", fmt, "--output-dir", str(out)]
            rc = subprocess.run([*cmd, str(src)], env=env, capture_output=True, text=True)
            took = time.perf_counter() - t
            print(f"{name} {fmt}: exit {rc.returncode} in {took:.0f} s", flush=True)
            (out.parent / f"{fmt}.stderr").write_text(rc.stderr)


if __name__ == "__main__":
    main()
