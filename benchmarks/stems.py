"""Cost of each member and ResNet stem: parameters, MMAC per 28x28 crop, CPU crops/s.

MACs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2, convolutions and
matrix products). Inference throughput is measured at batch 256 in ``torch.inference_mode`` with
``--threads`` threads, float32 and bfloat16 autocast; training throughput is one AdamW step
(forward, backward, update) per batch of 256, float32 and under bfloat16 autocast (``handocr
train --precision``).
Prints a Markdown table.

    python benchmarks/stems.py --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from torch.utils.flop_counter import FlopCounterMode

from handocr.models import create_model

DEFAULT = ["cnn", "resnet10t-imagenet", "resnet10t", "resnet10t-nopool", "resnet18"]


def mmac(net: torch.nn.Module) -> float:
    """Multiply-accumulates of one crop, in millions."""
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        net(torch.zeros(1, 1, 28, 28))
    return counter.get_total_flops() / 2 / 1e6


def crops_per_s(fn: object, batch: int, seconds: float) -> float:
    """Run ``fn()`` repeatedly for about ``seconds`` after one warm-up call; crops per second."""
    fn()  # type: ignore[operator]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()  # type: ignore[operator]
        n += 1
    return n * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=DEFAULT)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.rand(args.batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 47, (args.batch,))
    print(
        "| member | params (M) | MMAC/crop | infer fp32 crops/s | infer bf16 crops/s "
        "| train fp32 crops/s | train bf16 crops/s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        net = create_model(name, weights=None).to(memory_format=torch.channels_last)
        params = sum(p.numel() for p in net.parameters()) / 1e6
        cost = mmac(net.eval())

        def infer(bf16: bool, net: torch.nn.Module = net) -> None:
            with (
                torch.inference_mode(),
                torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16),
            ):
                net(x)

        fp32 = crops_per_s(lambda: infer(False), args.batch, args.seconds)
        bf16 = crops_per_s(lambda: infer(True), args.batch, args.seconds)
        net.train()
        opt = torch.optim.AdamW(net.parameters())

        def step(bf16: bool, net: torch.nn.Module = net, opt: torch.optim.Optimizer = opt) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(net(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        t32 = crops_per_s(lambda: step(False), args.batch, args.seconds)
        t16 = crops_per_s(lambda: step(True), args.batch, args.seconds)
        print(
            f"| `{name}` | {params:.2f} | {cost:.1f} | {fp32:,.0f} | {bf16:,.0f} "
            f"| {t32:,.0f} | {t16:,.0f} |"
        )


if __name__ == "__main__":
    main()
