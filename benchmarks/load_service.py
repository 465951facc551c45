"""Load test of ``handocr serve`` on 127.0.0.1: N requests, C at a time; latency percentiles.

Starts the service in a subprocess (``--workers``, ``--concurrency`` as given), waits for
``/healthz``, then posts the same small page image (a two-line synthetic page of the committed
EMNIST sample, about the size of a form field) N times from C client threads (httpx) and prints
one JSON line: requests, failures, requests per second, p50/p95/p99 latency in milliseconds.
With ``--clients 1`` the latencies are those of one warm request at a time.

    python benchmarks/load_service.py --requests 1000 --clients 8
    python benchmarks/load_service.py --requests 200 --clients 1 \
        --image ../shared/data/pages/kaggle_names/VALIDATION_0005.jpg
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).parents[1] / "tests" / "data" / "emnist47-sample"


def page_png() -> bytes:
    from PIL import Image

    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.synth import PageStyle, render_page

    s = load_emnist(SAMPLE, "pool47", "test")
    page = render_page(s.images, to_label_space(s), PageStyle(lines=2, words_per_line=3), seed=0)
    buf = io.BytesIO()
    Image.fromarray(page.image).save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    import httpx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--concurrency", type=int, default=2, help="readings at once per process")
    ap.add_argument("--image", type=Path, help="post this file instead of the synthetic page")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "handocr_cli", "serve", "--port", str(port)]
    cmd += ["--workers", str(args.workers), "--concurrency", str(args.concurrency)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        data = args.image.read_bytes() if args.image else page_png()
        client = httpx.Client(timeout=120)

        def one(_: int) -> tuple[float, int]:
            t = time.perf_counter()
            try:
                res = client.post(f"{url}/v1/read", files={"file": ("p.png", data)})
                status = res.status_code
            except httpx.HTTPError:
                status = 0
            return time.perf_counter() - t, status

        one(0)  # warm-up
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat = np.array([r[0] for r in results]) * 1000
    print(json.dumps({
        "requests": args.requests, "clients": args.clients, "workers": args.workers,
        "concurrency": args.concurrency, "failures": sum(r[1] != 200 for r in results),
        "requests_per_second": round(args.requests / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "image_bytes": len(data),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
