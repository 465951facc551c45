"""Pages per second of ``handocr batch`` with 1 and 2 local workers and with Ray (issue #16).

The input is the shipped NIST form repeated ``--pages`` times (symbolic links) plus two corrupt
files, as issue #16's acceptance run asks: every run must give one row per page with the text
of ``handocr read``, two error rows, and a re-run must skip every page.

    python benchmarks/batch_scaling.py --pages 200 --out /tmp/scaling
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from handocr import recognize
from handocr.batch import run_batch

FORM = Path(__file__).parents[1] / "docs" / "examples" / "hsf_w4164_fullpage.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--ray", action="store_true", help="also run the Ray engine (2 actors)")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    inputs = args.out / "in"
    inputs.mkdir(parents=True)
    for k in range(args.pages):
        (inputs / f"form{k:04d}.png").symlink_to(FORM.resolve())
    (inputs / "corrupt.png").write_bytes(b"not an image")
    (inputs / "corrupt.pdf").write_bytes(b"%PDF-1.4 garbage")
    truth = recognize(FORM).text
    runs = [("local", 1), ("local", 2)] + ([("ray", 2)] if args.ray else [])
    for engine, workers in runs:
        out = args.out / f"{engine}{workers}"
        if engine == "ray":
            import ray

            ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
        t = time.perf_counter()
        summary = run_batch([inputs], out, engine=engine, workers=workers)
        seconds = time.perf_counter() - t
        rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
        same = all(r["text"] == truth for r in rows if r["error"] is None)
        again = run_batch([inputs], out, engine=engine, workers=workers)
        if engine == "ray":
            ray.shutdown()
        print(json.dumps({
            "engine": engine, "workers": workers, "pages": summary.pages, "errors": summary.errors,
            "seconds": round(seconds, 1), "pages_per_second": round(summary.pages / seconds, 2),
            "text_as_read": same, "rerun_read": again.read, "rerun_skipped": again.skipped,
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
