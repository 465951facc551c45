"""How close classification is to this CPU's floor: MACs per character against measured speed.

For each member, the full ensemble and the fitted cascade: multiply-accumulates per character
(``handocr.models.registry.macs_per_crop``; the cascade's = first member + escalated share x the
others, the share measured on the same crops), the fastest possible characters per second at
the CPU's fp32 peak (theoretical: cores x clock x FMA lanes per cycle; practical: a large
float32 matrix product in torch), and the measured speed (ONNX Runtime, batch 256).

Run::

    python benchmarks/flops_floor.py                       # crops: the committed EMNIST sample
    python benchmarks/flops_floor.py --data ../shared/data/emnist47   # pool47 test crops

``--fma-lanes`` is fp32 multiply-accumulates per core per cycle: 16 on AMD Zen 4 (two 256-bit
FMA pipes; AVX-512 runs as two halves), 32 on Intel cores with two 512-bit FMA units.
"""

from __future__ import annotations

import argparse
import os
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


def gemm_gmacs(threads: int, n: int = 2048, seconds: float = 3.0) -> float:
    """Multiply-accumulates per second (G) of torch's float32 matrix product (oneDNN/MKL)."""
    import torch

    torch.set_num_threads(threads)
    a = torch.rand(n, n)
    b = torch.rand(n, n)
    a @ b
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        k += 1
    return k * n**3 / (time.perf_counter() - t0) / 1e9


def chars_per_s(fn: object, n: int, seconds: float = 3.0) -> float:
    fn()  # type: ignore[operator]
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()  # type: ignore[operator]
        k += 1
    return k * n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SAMPLE, help="EMNIST folder (test split)")
    ap.add_argument("--ghz", type=float, default=None, help="clock (default: /proc/cpuinfo)")
    ap.add_argument("--fma-lanes", type=int, default=16, help="fp32 FMA per core per cycle")
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()

    from handocr.ensemble import Ensemble, low_margin
    from handocr.models.registry import macs_per_crop, model_spec
    from handocr.runtime import cpu_threads
    from handocr.train.data import load_emnist

    x = (load_emnist(args.data, "pool47", "test").images.astype(np.float32) / 255.0)[:, None]
    batch = np.resize(x, (args.batch, 1, 28, 28))
    cores = cpu_threads()
    ghz = args.ghz or clock_ghz()
    peak = cores * ghz * args.fma_lanes  # G MAC/s
    blas = gemm_gmacs(cores)
    print(f"{cores} cores at {ghz:.2f} GHz x {args.fma_lanes} fp32 FMA/cycle: {peak:.0f} GMAC/s")
    print(f"torch float32 matmul 2048^3 (practical peak): {blas:.0f} GMAC/s")

    cascade = Ensemble.from_names(device="cpu", backend="onnx", cascade="fitted")
    full = Ensemble.from_names(device="cpu", backend="onnx", cascade="off")
    macs = [macs_per_crop(model_spec(m.info.name).build()) for m in full.members]
    first = cascade.cascade_first
    assert cascade.cascade is not None
    escalated = float(low_margin(full.member_proba(x, [first])[first], cascade.cascade).mean())
    configs: list[tuple[str, float, Ensemble]] = [
        (m.info.key, float(c), Ensemble([m], device="cpu", batch_size=args.batch))
        for m, c in zip(full.members, macs, strict=True)
    ]
    configs.append(("ensemble (full)", float(sum(macs)), full))
    cascade_macs = macs[first] + escalated * (sum(macs) - macs[first])
    configs.append((f"cascade ({escalated:.1%} escalated)", cascade_macs, cascade))
    print(f"crops: {len(x)} from {args.data}; batch {args.batch}; ONNX Runtime, {cores} threads")
    print()
    print(
        "| configuration | MMAC/char | floor chars/s (theoretical / matmul peak) "
        "| measured chars/s | % of matmul floor |"
    )
    print("|---|---|---|---|---|")
    for name, mac, ens in configs:
        ens.batch_size = args.batch
        speed = chars_per_s(lambda e=ens: e.predict_proba(batch), args.batch)
        floor_t, floor_b = peak * 1e9 / mac, blas * 1e9 / mac
        print(
            f"| {name} | {mac / 1e6:.1f} | {floor_t:,.0f} / {floor_b:,.0f} | {speed:,.0f} "
            f"| {100 * speed / floor_b:.0f} % |"
        )
    print(f"\n(os.cpu_count() = {os.cpu_count()})")


if __name__ == "__main__":
    main()
