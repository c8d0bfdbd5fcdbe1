"""How well one-shot estimates rank candidates, and what an estimate costs against a training.

    .venv/bin/python bench/oneshot.py [--candidates 30] [--seed 0] [--epochs N]

On MNIST-1D with the space of ``studies/mnist1d_cnn.toml`` (and its ``[oneshot]`` settings,
unless ``--epochs`` overrides the supernet's), trains the supernet once, then draws
``--candidates`` random candidates (architecture and compression knobs, Optuna's
RandomSampler) and for each one measures

- its **estimate**: weights sliced from the supernet, batch norm recalibrated on
  ``[oneshot] calibration`` training inputs, pruned and quantized as its Spec says, no
  training (``objectives.pipeline.evaluate`` with zero epochs), as the one-shot mode does;
- its **stand-alone** result: trained from scratch by the study's own budget (train, prune,
  fine-tune, QAT), as a standard trial does.

Prints Kendall's τ (tau-b, ``scipy.stats.kendalltau``) between the two validation accuracies
(target ≥ 0.6) and between the estimate and the stand-alone test accuracy, the median cost of
an estimate against the median cost of a training (target ≤ 1/50), and the supernet's
training time. Deterministic under the seed on one machine; times depend on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import optuna
import torch
from scipy.stats import kendalltau

from objectives.data import load_dataset
from objectives.data.batches import first_inputs
from objectives.oneshot import SuperCNN, train_supernet
from objectives.pipeline import evaluate
from search.config import load_config
from spaces.space import create_space

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="supernet epochs")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    cfg = load_config(ROOT / "studies" / "mnist1d_cnn.toml")
    o = cfg.oneshot if args.epochs is None else dataclasses.replace(cfg.oneshot,
                                                                     epochs=args.epochs)
    data = load_dataset(cfg.dataset)
    space = create_space("cnn", cfg.space.options)
    print(f"oneshot bench: MNIST-1D, {torch.get_num_threads()} torch threads, seed {args.seed}, "
          f"supernet {o.epochs} epochs, {args.candidates} random candidates")
    torch.manual_seed(args.seed)  # the supernet's initial weights, as a one-shot study seeds them
    net = SuperCNN(space, data.input_shape, data.num_classes)
    start = time.perf_counter()
    train_supernet(net, data, epochs=o.epochs, lr=o.lr, batch_size=cfg.budget.batch_size,
                   seed=args.seed, random_subnets=o.random_subnets)
    supernet_s = time.perf_counter() - start
    calibration = first_inputs(data.train, o.calibration)
    zero = dataclasses.replace(cfg.budget, epochs=0, finetune_epochs=0, qat_epochs=0,
                               latency_reps=0)
    full = dataclasses.replace(cfg.budget, latency_reps=0)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=args.seed))
    rows = []
    print("| # | spec | estimate val | stand-alone val | stand-alone test | estimate ms | "
          "training s |")
    print("|---" * 7 + "|")
    for i in range(args.candidates):
        spec = space.sample(study.ask())
        began = time.perf_counter()
        est, _ = evaluate(space, spec, data, zero, seed=args.seed,
                          init=net.inherit(spec, calibration))
        est_s = time.perf_counter() - began
        began = time.perf_counter()
        real, _ = evaluate(space, spec, data, full, seed=args.seed + i)
        real_s = time.perf_counter() - began
        rows.append((est.val_accuracy, real.val_accuracy, real.test_accuracy, est_s, real_s))
        c = spec.compress
        desc = (f"{'-'.join(map(str, spec.widths))} k{spec.kernel}, {c.method[:5]} "
                f"{c.prune_ratio:.2f}, {c.bits} bits")
        print(f"| {i} | {desc} | {est.val_accuracy:.4f} | {real.val_accuracy:.4f} | "
              f"{real.test_accuracy:.4f} | {1000 * est_s:.0f} | {real_s:.2f} |", flush=True)
    est_val, val, test, est_s, real_s = map(list, zip(*rows, strict=True))
    tau_val = kendalltau(est_val, val).statistic
    tau_test = kendalltau(est_val, test).statistic
    cost = statistics.median(est_s) / statistics.median(real_s)
    print(f"oneshot bench: Kendall tau (estimate vs stand-alone val accuracy) = {tau_val:.3f} "
          f"(target >= 0.6); vs stand-alone test accuracy = {tau_test:.3f}")
    print(f"oneshot bench: an estimate costs {1000 * statistics.median(est_s):.0f} ms, a "
          f"stand-alone training {statistics.median(real_s):.2f} s (medians): 1/{1 / cost:.0f} "
          f"(target <= 1/50); the supernet trained in {supernet_s:.0f} s = "
          f"{supernet_s / statistics.median(real_s):.1f} stand-alone trainings")


if __name__ == "__main__":
    main()
