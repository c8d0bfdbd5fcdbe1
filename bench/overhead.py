"""Frontier's per-trial overhead and the hypervolume of the default study's front.

    .venv/bin/python bench/overhead.py            # or: make bench

1. Overhead: the same fixed candidate (CNN 24-24, 50 % pruned, 4 bits, the default study's
   budget) is run (a) as a hand-written torch loop — train, prune with a mask hook, fine-tune,
   fake-quantize and fine-tune — twice, with plain AdamW in NCHW memory and with the fused
   AdamW and channels-last memory Frontier's loop uses, and (b) as a trial of a real Frontier
   study (SQLite storage, NSGA-II, all metrics measured and stored). Runs alternate; medians
   are compared, and the overhead is judged against the loop that trains as Frontier does.
2. Tracking: the same candidate as a trial of the default study with TensorBoard logging on
   (every epoch scored on the validation split and logged, hparams, final metrics, study
   hypervolume) and off, alternating; the per-trial overhead of logging is the difference of
   the median trial durations.
3. Hypervolume: the default study (studies/digits_cnn.toml) is run in a temporary storage and
   the hypervolume of its trials in (1 − val accuracy, log10 size in bits) with reference
   point (0.9, 6.5) is printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import optuna
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from objectives.data import load_dataset
from search.config import SpaceConfig, StudyConfig, load_config
from search.keys import METRICS_ATTR
from search.results.pareto import HV_REFERENCE, front_trials, hypervolume
from search.run import run_study
from search.storage.studies import create_or_load
from search.tracking import Logging
from spaces import CNNSpec, create_space

ROOT = Path(__file__).resolve().parents[1]

WIDTH = 24  # CNN 24-24: a mid-size candidate of the default space
FIXED = {"min_depth": 2, "max_depth": 2, "widths": [WIDTH], "prune_ratio": 0.5, "bits": [4]}


def bare_loop(cfg: StudyConfig, data, seed: int,  # type: ignore[no-untyped-def]
              fast: bool = False) -> float:
    """The hand-written script: what a user would write without Frontier. Returns seconds.

    ``fast`` gives it the two speed-ups of Frontier's loop (channels-last memory, fused AdamW),
    so that the difference left is Frontier's own overhead."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = create_space("cnn").build(CNNSpec((WIDTH, WIDTH)), data.input_shape, data.num_classes)
    x, y, b = data.train.x, data.train.y, cfg.budget.batch_size
    gen = torch.Generator().manual_seed(seed)

    def fit(epochs: int, lr: float) -> None:
        if fast:
            model.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4, fused=fast)
        steps = len(y) // b
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=gen)
            for i in range(steps):
                idx = order[i * b:(i + 1) * b]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        model.to(memory_format=torch.contiguous_format)  # torch's pruning needs it

    fit(cfg.budget.epochs, 0.01)
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    prune.global_unstructured([(m, "weight") for m in layers],
                              pruning_method=prune.L1Unstructured, amount=0.5)
    fit(cfg.budget.finetune_epochs, 0.001)

    def fake_quant(module: nn.Module, _: object) -> None:
        w = module.weight_orig * module.weight_mask  # type: ignore[operator]
        scale = (w.detach().abs().flatten(1).amax(1) / 7).clamp_min(1e-12)
        module.weight = torch.fake_quantize_per_channel_affine(
            w, scale, torch.zeros_like(scale, dtype=torch.int32), 0, -7, 7)

    for m in layers:
        m.register_forward_pre_hook(fake_quant)
    fit(cfg.budget.qat_epochs, 0.001)
    return time.perf_counter() - start


def overhead(repeats: int) -> None:
    base = load_config(ROOT / "studies" / "digits_cnn.toml")
    # the bare loop always fine-tunes, so Frontier must too for a like-for-like figure
    cfg = replace(base, name="overhead", n_trials=repeats, space=SpaceConfig("cnn", FIXED),
                  budget=replace(base.budget, skip_finetune=False))
    data = load_dataset(cfg.dataset)
    with tempfile.TemporaryDirectory() as tmp:
        study = create_or_load(cfg, f"sqlite:///{tmp}/bench.db")
        bare_loop(cfg, data, 0)  # warm-up
        bare_loop(cfg, data, 0, fast=True)
        bare, fast = [], []
        for i in range(repeats):  # alternate, so drift of the machine hits every side
            bare.append(bare_loop(cfg, data, i))
            fast.append(bare_loop(cfg, data, i, fast=True))
            run_study(study, cfg, n_trials=i + 1, progress=False)
        # A trial's stored duration runs from ask() (sampling) to tell() (storage): everything
        # per trial; the per-run set-up (loading the dataset) is not a per-trial cost.
        framework = [t.duration.total_seconds() for t in study.trials if t.duration]
        extra = [t.duration.total_seconds() - t.user_attrs[METRICS_ATTR]["train_seconds"]
                 for t in study.trials if t.duration]
    b, q, f = statistics.median(bare), statistics.median(fast), statistics.median(framework)
    print(f"overhead: bare loop median {b:.3f} s (plain AdamW, NCHW), {q:.3f} s (fused AdamW, "
          f"channels-last, as Frontier trains), Frontier trial median {f:.3f} s (incl. "
          f"sampling, storage, accuracy, MACs, latency) over {repeats} runs each")
    print(f"overhead: per-trial overhead = {(f - q) / q:+.2%} of the bare loop that trains as "
          f"Frontier does (target < 2%); {(f - b) / b:+.2%} against the plain one")
    print(f"overhead: time outside training per trial (sampling, storage, evaluation, MACs, "
          f"latency) median {statistics.median(extra) * 1000:.1f} ms = "
          f"{statistics.median(extra) / q:.2%} of the like-for-like bare loop")


def tracking_overhead(repeats: int) -> None:
    """Median trial duration with TensorBoard logging on vs off (same candidate, same seeds)."""
    base = load_config(ROOT / "studies" / "digits_cnn.toml")
    cfg = replace(base, name="tracking", n_trials=repeats, space=SpaceConfig("cnn", FIXED))
    data = load_dataset(cfg.dataset)
    with tempfile.TemporaryDirectory() as tmp:
        logged_cfg = replace(cfg, logging=Logging(tensorboard=f"{tmp}/tb"))
        off = create_or_load(cfg, f"sqlite:///{tmp}/off.db")
        on = create_or_load(logged_cfg, f"sqlite:///{tmp}/on.db")
        run_study(create_or_load(replace(cfg, name="warm"), f"sqlite:///{tmp}/warm.db"),
                  cfg, n_trials=1, progress=False, data=data)  # warm-up
        for i in range(repeats):  # alternate, so drift of the machine hits both sides
            run_study(off, cfg, n_trials=i + 1, progress=False, data=data)
            run_study(on, logged_cfg, n_trials=i + 1, progress=False, data=data)
        t_off, t_on = ([t.duration.total_seconds() for t in s.trials if t.duration]
                       for s in (off, on))
    a, b = statistics.median(t_off), statistics.median(t_on)
    print(f"tracking: default-study trial median {a:.3f} s without logging, {b:.3f} s with "
          f"TensorBoard logging, over {repeats} trials each")
    print(f"tracking: per-trial overhead of TensorBoard logging = {(b - a) / a:+.2%} "
          "(target < 2%)")


def default_study_hypervolume() -> None:
    cfg = load_config(ROOT / "studies" / "digits_cnn.toml")
    with tempfile.TemporaryDirectory() as tmp:
        study = create_or_load(cfg, f"sqlite:///{tmp}/bench.db")
        start = time.perf_counter()
        run_study(study, cfg, progress=False)
        wall = time.perf_counter() - start
        hv = hypervolume(study.trials)
        front = front_trials(study)
    best = max((t.user_attrs[METRICS_ATTR] for t in front), key=lambda m: m["val_accuracy"])
    print(f"hypervolume: default study ({cfg.n_trials} trials, {wall:.0f} s): "
          f"HV = {hv:.4f} in (1 - val acc, log10 size bits), reference {HV_REFERENCE}")
    print(f"hypervolume: front of {len(front)} trials; most accurate: val "
          f"{best['val_accuracy']:.4f}, test {best['test_accuracy']:.4f}, {best['params']} "
          f"params, {best['size_bytes']} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each side")
    parser.add_argument("--skip-hv", action="store_true", help="only the overhead figures")
    parser.add_argument("--only-tracking", action="store_true",
                        help="only the TensorBoard logging overhead")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.only_tracking:
        tracking_overhead(args.repeats)
        return
    overhead(args.repeats)
    tracking_overhead(args.repeats)
    if not args.skip_hv:
        default_study_hypervolume()


if __name__ == "__main__":
    main()
