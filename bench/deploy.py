"""What the default study's front is worth deployed: packed weights, ONNX float32 and ONNX int8.

    .venv/bin/python bench/deploy.py [--trials 60]

Runs the default study (``studies/digits_cnn.toml``, seed 0) into a temporary folder, exports
every trial on its front with ``export --int8``, prints the study's hypervolume (as
``bench/overhead.py`` does, now over packed sizes), (``search.results.model_folder``), and prints
per trial: ``size_bytes``, the bytes on disk of ``weights.safetensors`` (packed), ``model.onnx``
and ``model.int8.onnx``; the test accuracy of PyTorch, ONNX Runtime float32 and int8; and the
batch-1 and batch-32 CPU latency (median of 20) of each. Then how the front moved when
``size_bytes`` became the packed file's size: the (val accuracy, size) front under the old
accounting (zeros free, batch-norm statistics and index not counted) and under the new one, both
over the same trials. Latencies depend on the machine and its load; sizes and accuracies are
exact and deterministic under the seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import optuna
import torch

from objectives.compress.plan import bits_by_layer
from objectives.compress.prune import prunable_layers
from search.config import load_config
from search.keys import METRICS_ATTR, SPEC_ATTR
from search.results.model_folder import export_trial, load
from search.results.pareto import HV_REFERENCE, front_trials, hypervolume
from search.run import run_study
from search.storage.studies import create_or_load
from spaces.space import load_spec

ROOT = Path(__file__).resolve().parent.parent


def old_size(model: torch.nn.Module, bits: dict[str, int]) -> int:
    """size_bytes as Frontier counted it before the packed format: nonzero prunable weights
    at their bits plus one float32 scale per output channel, other parameters at 4 bytes per
    nonzero; zeros, indexes and batch-norm running statistics free."""
    total, owned = 0, set()
    for name, layer in prunable_layers(model).items():
        w, b = layer.weight, bits[name]
        owned.add(id(w))
        nz = int(torch.count_nonzero(w))
        total += nz * b + w.shape[0] * 32 if b < 32 else nz * 32
    total += sum(int(torch.count_nonzero(p)) * 32 for p in model.parameters() if id(p) not in owned)
    return math.ceil(total / 8)


def pareto(points: list[tuple[int, float, int]]) -> list[tuple[int, float, int]]:
    """(trial, val accuracy, size) points not dominated (higher accuracy, smaller size)."""
    return sorted((p for p in points if not any(
        q[1] >= p[1] and q[2] <= p[2] and (q[1] > p[1] or q[2] < p[2]) for q in points)),
        key=lambda p: p[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=60, help="trials of the default study")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    cfg = load_config(ROOT / "studies" / "digits_cnn.toml")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(cfg, n_trials=args.trials, output_dir=str(Path(tmp) / "out"))
        study = create_or_load(cfg, f"sqlite:///{tmp}/bench.db")
        start = time.perf_counter()
        run_study(study, cfg, progress=False)
        print(f"default study: {args.trials} trials in {time.perf_counter() - start:.0f} s, "
              f"{torch.get_num_threads()} torch threads; hypervolume "
              f"{hypervolume(study.trials):.4f} in (1 - val acc, log10 size bits), reference "
              f"{HV_REFERENCE}\n")
        print("| trial | bits | params | size_bytes | packed B | ONNX B | int8 ONNX B | "
              "acc PyTorch | acc ONNX | acc int8 | b1 ms PyTorch / ONNX / int8 | "
              "b32 ms PyTorch / ONNX / int8 |")
        print("|---" * 12 + "|")
        front = sorted(front_trials(study), key=lambda t: t.user_attrs[METRICS_ATTR]["params"])
        for t in front:
            m = t.user_attrs[METRICS_ATTR]
            done = export_trial(study, t.number, Path(tmp) / f"m{t.number}", cfg, int8=True)
            fp32, int8 = done.deployed
            bits = load_spec(t.user_attrs[SPEC_ATTR])[1].compress.bits
            b1 = " / ".join(f"{x:.3f}" for x in (fp32.torch_latency_ms[1], fp32.latency_ms[1],
                                                  int8.latency_ms[1]))
            b32 = " / ".join(f"{x:.3f}" for x in (fp32.torch_latency_ms[32], fp32.latency_ms[32],
                                                   int8.latency_ms[32]))
            print(f"| {t.number} | {bits} | {m['params']:,} | {m['size_bytes']:,} | "
                  f"{done.weights_bytes:,} | {fp32.bytes:,} | {int8.bytes:,} | "
                  f"{fp32.torch_accuracy:.4f} | {fp32.accuracy:.4f} | {int8.accuracy:.4f} | "
                  f"{b1} | {b32} |")
        points_old, points_new = [], []
        for t in study.trials:
            if t.state != optuna.trial.TrialState.COMPLETE:
                continue
            m = t.user_attrs[METRICS_ATTR]
            folder = Path(tmp) / f"m{t.number}"
            if not folder.exists():
                export_trial(study, t.number, folder, cfg)
            model = load(folder)
            spec = load_spec(t.user_attrs[SPEC_ATTR])[1]
            points_old.append((t.number, m["val_accuracy"],
                               old_size(model, bits_by_layer(model, spec.compress))))
            points_new.append((t.number, m["val_accuracy"], m["size_bytes"]))
    for label, points in (("old accounting (zeros free)", points_old),
                          ("packed file (new size_bytes)", points_new)):
        front_pts = pareto(points)
        print(f"\nfront by (val accuracy, size), {label}: {len(front_pts)} trials")
        print("  " + ", ".join(f"#{n} {acc:.3f}@{size:,}B" for n, acc, size in front_pts))


if __name__ == "__main__":
    main()
