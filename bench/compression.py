"""Compression as the seed articles describe it, measured on digits with a fixed budget.

    .venv/bin/python bench/compression.py

Seeds 0, 1, 2; mean ± std of test accuracy. Three tables:
1. Distillation: a fixed small student (CNN 8-16, no compression) trained with and without
   distillation (kd_weight 0.5, T = 4) from the cached ``cnn-large`` teacher (64-64-64,
   trained once, cached in runs/teachers).
2. Pruning: a fixed CNN 32-32 unpruned, and unstructured (global magnitude) vs structured
   (group L1, Torch-Pruning) pruning at 50 % and 80 %, full precision: params, size_bytes, MACs
   and batch-1 CPU latency (median of 50 runs, one thread).
3. Int8: the CNN 32-32 at 8 bits (fake-quant QAT) vs its ONNX Runtime float32 and static int8
   (QDQ) exports (``objectives.deploy``), batch-1 CPU latency of each.
The CPU is shared with other jobs, so latencies are indicative; ratios are steadier.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import torch

from objectives.data import DataConfig, load_dataset
from objectives.data.batches import first_inputs
from objectives.deploy import compare, quantize_int8, session, to_onnx
from objectives.deploy.runtime import latency_ms as ort_latency_ms
from objectives.distill import Distill, load_teacher, teacher_logits
from objectives.metrics import latency_ms
from objectives.pipeline import Budget, evaluate
from spaces import CNNSpec, CompressSpec, TrainSpec, create_space

SEEDS = (0, 1, 2)
BUDGET = Budget(epochs=10, finetune_epochs=3, qat_epochs=3, batch_size=64, latency_reps=50)


def _ms(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = load_dataset(DataConfig())
    space = create_space("cnn")

    distill = Distill(teacher="cnn-large", teacher_epochs=10)
    teacher = load_teacher(distill, data, split_seed=0, seed=0, batch_size=BUDGET.batch_size)
    logits = teacher_logits(teacher.model, data.train.x)
    print(f"teacher cnn-large: {'trained' if teacher.trained else 'loaded from cache'} in "
          f"{teacher.seconds:.1f} s ({teacher.path})\n")
    print("| student CNN 8-16 | test accuracy |\n|---|---|")
    for label, weight in (("without distillation", 0.0), ("with distillation (α 0.5, T 4)", 0.5)):
        spec = CNNSpec((8, 16), train=TrainSpec(kd_weight=weight, kd_temperature=4.0))
        accs = [evaluate(space, spec, data, replace(BUDGET, latency_reps=0), seed=s,
                         teacher_logits=logits)[0].test_accuracy for s in SEEDS]
        print(f"| {label} | {_ms(accs)} |")

    print("\n| CNN 32-32 | test accuracy | params | size_bytes | MACs | latency ms |\n"
          "|---|---|---|---|---|---|")
    cases = [("unpruned", CompressSpec())] + [
        (f"{method} {int(r * 100)} %", CompressSpec(prune_ratio=r, method=method))
        for r in (0.5, 0.8) for method in ("unstructured", "structured")]
    for label, compress in cases:
        runs = [evaluate(space, CNNSpec((32, 32), compress=compress), data, BUDGET, seed=s)[0]
                for s in SEEDS]
        print(f"| {label} | {_ms([m.test_accuracy for m in runs])} | {runs[0].params} | "
              f"{runs[0].size_bytes} | {runs[0].macs} | "
              f"{statistics.median(m.latency_ms for m in runs):.3f} |")

    print("\n| CNN 32-32, 8 bits | fake-quant acc | ORT int8 acc | PyTorch ms | ORT fp32 ms | "
          "ORT int8 ms |\n|---|---|---|---|---|---|")
    for s in SEEDS:
        _, model = evaluate(space, CNNSpec((32, 32), compress=CompressSpec(bits=8)), data,
                            replace(BUDGET, latency_reps=0), seed=s)
        fp32 = to_onnx(model, first_inputs(data.test, 2))
        int8 = session(quantize_int8(fp32, first_inputs(data.train, 512)))
        c = compare(model, int8, data.test)
        shape = data.input_shape
        print(f"| seed {s} | {c['torch_score']:.3f} | {c['onnx_score']:.3f} | "
              f"{latency_ms(model, shape, reps=50):.3f} | "
              f"{ort_latency_ms(session(fp32), shape, reps=50):.3f} | "
              f"{ort_latency_ms(int8, shape, reps=50):.3f} |")
    print(f"\n({time.perf_counter() - start:.0f} s in all)")


if __name__ == "__main__":
    main()
