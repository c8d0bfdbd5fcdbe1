"""Structured pruning (``objectives.compress.structured``, Torch-Pruning underneath) on
torchvision models.

    .venv/bin/python bench/structured.py

resnet18, mobilenet_v2 and mobilenet_v3_small (``weights=None``, 10 classes, 3×64×64 input) are
pruned at ratios 0.3, 0.5 and 0.7. For each: parameters, MACs (``objectives.metrics.macs``) and
batch-1 CPU latency (``objectives.metrics.latency_ms``, median, one thread) before and after,
and the wall time of the pruning itself (tracing the dependency graph included). The CPU may be
shared with other jobs, so latencies are indicative; params and MACs are exact.
"""

from __future__ import annotations

import time

import torch
import torchvision

from objectives.compress.structured import prune_structured
from objectives.metrics import latency_ms, macs

MODELS = ("resnet18", "mobilenet_v2", "mobilenet_v3_small")
RATIOS = (0.3, 0.5, 0.7)
SHAPE = (3, 64, 64)
REPS = 30


def _row(label: str, model: torch.nn.Module, prune_s: float | None) -> str:
    params = sum(p.numel() for p in model.parameters())
    ms = latency_ms(model, SHAPE, reps=REPS)
    seconds = "–" if prune_s is None else f"{prune_s:.2f}"
    return (f"| {label} | {params / 1e6:.3f} M | {macs(model, SHAPE) / 1e6:.1f} M | {ms:.2f} | "
            f"{seconds} |")


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start = time.perf_counter()
    print(f"input {SHAPE}, batch 1, {torch.get_num_threads()} CPU thread, median of {REPS}\n")
    print("| model | params | MACs | latency ms | prune s |\n|---|---|---|---|---|")
    for name in MODELS:
        print(_row(f"{name} dense", getattr(torchvision.models, name)(weights=None,
                                                                     num_classes=10), None))
        for ratio in RATIOS:
            model = getattr(torchvision.models, name)(weights=None, num_classes=10)
            t = time.perf_counter()
            prune_structured(model, torch.zeros(1, *SHAPE), ratio)
            print(_row(f"{name} {ratio:.1f}", model, time.perf_counter() - t))
    print(f"\n({time.perf_counter() - start:.0f} s in all)")


if __name__ == "__main__":
    main()
