"""The best transformer against the best CNN on the same data (the embedded digits).

    .venv/bin/python bench/transformer.py [--cnn-trials 60] [--transformer-trials 60]

Runs ``studies/digits_cnn.toml`` and ``studies/digits_transformer.toml`` (seed 0, their own
budgets) into a temporary folder. On each study's front it takes the most accurate candidate
(highest val accuracy, fewer parameters on a tie) and the smallest one reaching 0.90 val
accuracy, exports each with ``--onnx`` (``search.results.model_folder``) and prints its nonzero
parameters, ``size_bytes``, MACs, test accuracy and CPU latency at batch 1 and 32 in PyTorch and
in ONNX Runtime (median of 20, the same code for both models), with each search's wall time.
Sizes, MACs and accuracies are deterministic under the seed; latencies depend on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import optuna
import torch
from optuna.trial import FrozenTrial

from search.config import load_config
from search.keys import METRICS_ATTR
from search.results.model_folder import export_trial
from search.run import run_study
from search.storage.studies import create_or_load

ROOT = Path(__file__).resolve().parent.parent


def picks(study: optuna.Study) -> list[tuple[str, FrozenTrial]]:
    """The front's most accurate trial, and its smallest one at val accuracy >= 0.90."""
    front = study.best_trials
    best = max(front, key=lambda t: (t.values[0], -t.values[1]))
    good = [t for t in front if t.values[0] >= 0.90]
    out = [("most accurate", best)]
    if good:
        small = min(good, key=lambda t: (t.values[1], -t.values[0]))
        if small.number != best.number:
            out.append(("smallest >= 0.90", small))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cnn-trials", type=int, default=60)
    parser.add_argument("--transformer-trials", type=int, default=60)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(f"{torch.get_num_threads()} torch threads\n")
    print("| space | pick | trial | params | size_bytes | MACs | test acc | b1 ms PyTorch / ONNX "
          "| b32 ms PyTorch / ONNX | search |")
    print("|---" * 10 + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, trials in (("digits_cnn", args.cnn_trials),
                             ("digits_transformer", args.transformer_trials)):
            cfg = load_config(ROOT / "studies" / f"{name}.toml")
            cfg = dataclasses.replace(cfg, n_trials=trials, output_dir=str(Path(tmp) / name))
            study = create_or_load(cfg, f"sqlite:///{tmp}/bench.db")
            start = time.perf_counter()
            run_study(study, cfg, progress=False)
            wall = time.perf_counter() - start
            for pick, t in picks(study):
                done = export_trial(study, t.number, Path(tmp) / f"{name}-{t.number}", cfg,
                                    onnx=True)
                onnx = done.deployed[0]
                m = t.user_attrs[METRICS_ATTR]
                b1 = f"{onnx.torch_latency_ms[1]:.3f} / {onnx.latency_ms[1]:.3f}"
                b32 = f"{onnx.torch_latency_ms[32]:.3f} / {onnx.latency_ms[32]:.3f}"
                print(f"| {cfg.space.name} | {pick} | {t.number} | {m['params']:,.0f} | "
                      f"{m['size_bytes']:,.0f} | {m['macs']:,.0f} | {m['test_accuracy']:.4f} | "
                      f"{b1} | {b32} | {trials} trials, {wall:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
