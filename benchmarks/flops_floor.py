"""How close classification is to this CPU's floor: MACs per character against measured speed.

For each member, the full ensemble and the fitted cascade: multiply-accumulates per character
(``handocr.models.factory.macs_per_crop``; the cascade's = each stage's members' MACs times
the share of crops that reach the stage, measured on the same crops), the fastest possible
characters per second at the CPU's fp32 peak (nominal: cores x reported clock x FMA lanes per
cycle; empirical: the best MAC rate any single member sustains), and the measured speed (ONNX
Runtime, batch 256).

Run::

    python benchmarks/flops_floor.py                       # crops: the committed EMNIST sample
    python benchmarks/flops_floor.py --data ../shared/data/emnist47   # pool47 test crops

``--fma-lanes`` is fp32 multiply-accumulates per core per cycle: 16 on AMD Zen 4 (two 256-bit
FMA pipes; AVX-512 runs as two halves), 32 on Intel cores with two 512-bit FMA units.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).parents[1] / "tests" / "data" / "emnist47-sample"


def clock_ghz() -> float:
    """The CPU clock the kernel reports (``cpu MHz`` of /proc/cpuinfo), in GHz."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1]) / 1000
    raise SystemExit("no 'cpu MHz' in /proc/cpuinfo: pass --ghz")


_TORCH_PART = """
import json, sys, time, torch
from handocr.models.factory import macs_per_crop, model_spec
torch.set_num_threads({threads})
macs = [macs_per_crop(model_spec(a).build()) for a in {archs!r}]
a, b = torch.rand({n}, {n}), torch.rand({n}, {n})
for _ in range(3):
    a @ b
k, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < {seconds}:
    a @ b
    k += 1
print(json.dumps([macs, k * {n} ** 3 / (time.perf_counter() - t0) / 1e9]))
"""


def torch_measurements(
    archs: list[str], threads: int, n: int = 2048, seconds: float = 5.0
) -> tuple[list[int], float]:
    """MACs per crop of each arch, and torch's float32 matmul speed in G MAC/s (oneDNN/MKL).

    Run in a child process: torch's threads and libraries in this process slow ONNX Runtime
    down by about a tenth (measured), which would bias the figures below.
    """
    code = _TORCH_PART.format(threads=threads, n=n, seconds=seconds, archs=archs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    macs, gmacs = json.loads(out.stdout)
    return [int(m) for m in macs], float(gmacs)


def chars_per_s(fn: object, n: int, windows: int = 7, seconds: float = 1.0) -> float:
    """Median over ``windows`` windows of ``seconds`` of ``n`` / time per call of ``fn()``."""
    fn()  # type: ignore[operator]
    rates = []
    for _ in range(windows):
        k, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn()  # type: ignore[operator]
            k += 1
        rates.append(k * n / (time.perf_counter() - t0))
    return float(np.median(rates))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SAMPLE, help="EMNIST folder (test split)")
    ap.add_argument("--ghz", type=float, default=None, help="clock (default: /proc/cpuinfo)")
    ap.add_argument("--fma-lanes", type=int, default=16, help="fp32 FMA per core per cycle")
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()

    from handocr.ensemble import Ensemble, staged_combine
    from handocr.models.runtime import cpu_threads
    from handocr.train.data import load_emnist

    x = (load_emnist(args.data, "pool47", "test").images.astype(np.float32) / 255.0)[:, None]
    x = x[np.random.default_rng(0).permutation(len(x))]  # test files are sorted by class
    batch = np.resize(x, (args.batch, 1, 28, 28))
    cores = cpu_threads()
    ghz = args.ghz or clock_ghz()
    peak = cores * ghz * args.fma_lanes  # G MAC/s
    cascade = Ensemble.from_names(device="cpu", backend="onnx", cascade="fitted")
    full = Ensemble.from_names(device="cpu", backend="onnx", cascade="off")
    macs, blas = torch_measurements([m.info.name for m in full.members], cores)
    print(f"{cores} cores at {ghz:.2f} GHz x {args.fma_lanes} fp32 FMA/cycle: {peak:.0f} GMAC/s")

    _, reached = staged_combine(
        full.member_proba(x),
        full.weights,
        full.voting,
        cascade.cascade_stages,
        cascade.cascade_margins,
    )
    stage_macs = [sum(macs[k] for k in stage) for stage in cascade.cascade_stages]
    shares = [1.0] + [float(r.mean()) for r in reached]
    cascade_macs = sum(c * sh for c, sh in zip(stage_macs, shares, strict=True))
    configs: list[tuple[str, float, Ensemble]] = [
        (m.info.key, float(c), Ensemble([m], device="cpu", batch_size=args.batch))
        for m, c in zip(full.members, macs, strict=True)
    ]
    configs.append(("ensemble (full)", float(sum(macs)), full))
    reach = " / ".join(f"{sh:.1%}" for sh in shares[1:])
    configs.append(
        (f"cascade ({len(stage_macs)} stages, later stages read {reach})", cascade_macs, cascade)
    )
    print(f"crops: {len(x)} from {args.data}; batch {args.batch}; ONNX Runtime, {cores} threads")
    measured = []
    for _name, _mac, ens in configs:
        ens.batch_size = args.batch
        measured.append(chars_per_s(lambda e=ens: e.predict_proba(batch), args.batch))
    # The best sustained MAC rate of any single member: an empirical peak of this CPU for this
    # kind of work (it can exceed the nominal-clock figure when the cores boost).
    best = max(s * c for s, (_, c, _) in zip(measured[: len(macs)], configs, strict=False))
    share = 100 * best / (peak * 1e9)
    print(f"best member rate: {best / 1e9:.0f} GMAC/s ({share:.0f} % of the nominal peak)")
    print()
    print(
        "| configuration | MMAC/char | floor at nominal peak (chars/s) | floor at best member "
        "rate (chars/s) | measured chars/s | % of best-rate floor |"
    )
    print("|---|---|---|---|---|---|")
    for (name, mac, _), speed in zip(configs, measured, strict=True):
        print(
            f"| {name} | {mac / 1e6:.1f} | {peak * 1e9 / mac:,.0f} | {best / mac:,.0f} "
            f"| {speed:,.0f} | {100 * speed * mac / best:.0f} % |"
        )
    print(f"torch float32 matmul 2048^3 (child process), for reference: {blas:.0f} GMAC/s")
    print(f"\n(os.cpu_count() = {os.cpu_count()})")


if __name__ == "__main__":
    main()
