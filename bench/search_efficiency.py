"""Head-to-head on MNIST-1D: a hand-written Optuna script vs. Frontier without and with early
stopping.

    .venv/bin/python bench/search_efficiency.py [--minutes 5] [--seeds 0 1 2] [--keep DIR]
                                                [--control] [--fast-baseline]
                                                [--always-finetune] [--workers N]

Per seed, searches one after the other, each with the same wall-clock budget, the same 1-D CNN
space on MNIST-1D ((1, 40) signals, 3,000 / 1,000 / 1,000 split; depth 1-4, widths 4-64,
kernel 3/5/7, prune ratio 0-0.9, bits 2-32, weight decay 1e-5-1e-3, four learning-rate
schedules), the same training epochs, NSGA-II with the same seed and population, objectives
(val accuracy, size_bytes, Frontier's packed-file size for all of them):

  (a) a plain hand-written Optuna NSGA-II script: trains every candidate fully, then prunes
      and quantizes it after training, without fine-tuning (what people write by hand);
  (b) Frontier with early stopping off (prune → fine-tune with mask → QAT fine-tune, each
      fine-tune only where compression cost more than 0.01 val accuracy);
  (c) Frontier default (early stopping on);
  (e) Frontier's one-shot mode (``mode = "one-shot"``, search/oneshot): a supernet trained
      once (40 epochs), 500 candidates estimated on it, the best fine-tuned from inherited
      weights (10 epochs, then prune / fine-tune / QAT as (b), without early stopping); the
      supernet's training and the exploration count in its budget. ``--no-oneshot`` leaves
      it out.

Every search runs as ``--workers`` processes (default 2, both cores of the bench machine) on
one journal file, each with cores / N torch threads: (a) as Optuna's documentation runs a
script on several cores, (b), (c) and (d) as ``python -m search run --workers N`` does; the
processes' start-up counts in the budget. ``--workers 1`` runs each search in this process.

Prints per seed the hypervolume of each front in (1 − val accuracy, log10 size in bits) with
reference point (0.9, 6.5), the ceiling no front in this space can pass (a perfect accuracy at
the size of the smallest candidate), the ratios to (a), the share of the gap between (a) and
the ceiling closed, the hypervolume at 25, 50 and 75 % of the budget, the wall time at which
each search first reached (a)'s final hypervolume,
the best test accuracy on each front (in val accuracy and size) among candidates of at most
1,000 and 2,600 nonzero params, and a replay of the early-stopping rule over (b)'s trials
(which trials it would have stopped, whether any is on (b)'s final front, the share of (b)'s
epochs saved); then a summary over the seeds. ``--control`` adds (d): (c) with Optuna's
unchanged NSGA-II, which leaves stopped trials out of its population (search/samplers.py).
``--always-finetune`` makes (b) and (c) run every fine-tune phase. ``--fast-baseline`` gives
(a) fused AdamW, the one speed-up of Frontier's loop that applies to 1-D signals
(channels-last memory is for 4-D tensors).

A search is one entry of ``searches()``: a name and a function ``(budget_s, seed, tmp) ->
(History, trials or None)``; everything printed loops over that list.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import NamedTuple

import optuna
import torch
from efficiency_report import (
    History,
    Outcome,
    best_line,
    curve_line,
    final_hv,
    fine_tuning,
    first_reach,
    from_trials,
    replay,
    run_processes,
    share,
    summary,
    trial_count,
)
from handwritten import (
    BITS,
    DATA,
    EPOCHS,
    KERNELS,
    LR,
    MAX_DEPTH,
    MAX_RATIO,
    POPULATION,
    WEIGHT_DECAY,
    WIDTHS,
    handwritten,
)
from optuna.trial import FrozenTrial

from objectives.compress.prune import prune_magnitude
from objectives.compress.quantize import fake_quantize
from objectives.metrics import size_bytes
from objectives.pipeline import Budget
from search import samplers
from search.config import SamplerConfig, SpaceConfig, StudyConfig
from search.early_stop import EarlyStopping
from search.oneshot.settings import OneShot
from search.results.pareto import HV_REFERENCE, hv_point, points_hypervolume
from search.run import run_study
from search.storage.reaper import worker_id
from search.storage.studies import create_or_load
from search.storage.workers import threads_per_worker
from spaces.cnn import CNNSpace, CNNSpec
from spaces.layers import prunable_layers
from spaces.spec import SCHEDULES

SEEDS = [0, 1, 2]
BUDGET = Budget(epochs=EPOCHS, finetune_epochs=5, qat_epochs=5)  # (b) and (c)
# All searches sample the same parameters from the same domains (bench/handwritten.py):
# depth, widths, kernel, prune ratio, bits and the two training knobs, weight decay and schedule.
SPACE = {"min_depth": 1, "max_depth": MAX_DEPTH, "widths": WIDTHS, "kernels": KERNELS,
         "prune_ratio": {"low": 0.0, "high": MAX_RATIO}, "bits": BITS, "lr": LR,
         "weight_decay": {"low": WEIGHT_DECAY[0], "high": WEIGHT_DECAY[1], "log": True},
         "schedule": list(SCHEDULES)}
INPUT = (1, 40)
#: (e): the supernet's training and the exploration count in its budget, so both are short.
ONESHOT = OneShot(epochs=40, candidates=500, finetune_epochs=10)

#: A search: ``run(budget_s, seed, tmp) -> (History, Frontier trials or None)``.
Run = Callable[[float, int, str], tuple[History, list[FrozenTrial] | None]]


class Search(NamedTuple):
    key: str  # "a": printed "(a)", its studies under <tmp>/seed<N>/a
    name: str
    run: Run


def candidate_bytes(widths: tuple[int, ...], kernel: int, ratio: float, bits: int) -> int:
    """size_bytes of an (untrained) candidate of SPACE, pruned and quantized as Frontier does."""
    torch.manual_seed(0)
    model = CNNSpace(SPACE).build(CNNSpec(widths=widths, kernel=kernel), INPUT, 10)
    prune_magnitude(model, ratio)
    with torch.no_grad():
        for m in prunable_layers(model).values():
            m.weight.copy_(fake_quantize(m.weight, bits) + 0.0)
    return size_bytes(model, bits)


def ceiling() -> tuple[int, int, float]:
    """Bytes of the smallest candidate of SPACE (one conv of the fewest filters and the
    smallest kernel, pruned at the largest ratio, fewest bits), of the largest (every conv of
    the most filters and the largest kernel, dense float32), and the hypervolume of a
    perfect-accuracy model of the smallest size: the most any front of this space can have."""
    smallest = candidate_bytes((min(WIDTHS),), min(KERNELS), MAX_RATIO, min(BITS))
    largest = candidate_bytes((max(WIDTHS),) * MAX_DEPTH, max(KERNELS), 0.0, 32)
    return smallest, largest, points_hypervolume([hv_point(1.0, smallest)])


# ---------------------------------------------------------------- (b), (c), (d) Frontier
@contextmanager
def _sampler(plain_nsga2: bool) -> Iterator[None]:
    """With ``plain_nsga2``, Optuna's unchanged NSGA-II as "nsga2" in this process ((d))."""
    ours = samplers.SAMPLERS.get("nsga2")
    if plain_nsga2:
        samplers.SAMPLERS.replace("nsga2", lambda seed, pop: optuna.samplers.NSGAIISampler(
            seed=seed, population_size=pop))
    try:
        yield
    finally:
        samplers.SAMPLERS.replace("nsga2", ours)


def _worker(cfg: StudyConfig, url: str, deadline: float, threads: int, plain: bool) -> None:
    """One of ``--workers`` processes: join the study and start trials until ``deadline``
    (``time.time()``), so that the seconds spent starting the process count in the budget."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with _sampler(plain):
        study = create_or_load(cfg, url, worker=worker_id())
        run_study(study, cfg, progress=False, timeout=max(0.0, deadline - time.time()),
                  threads=threads)


def frontier(budget_s: float, seed: int, tmp: str, *, early: bool, name: str = "",
             budget: Budget = BUDGET, workers: int = 1, plain_nsga2: bool = False,
             oneshot: OneShot | None = None) -> tuple[History, list[FrozenTrial]]:
    cfg = StudyConfig(name=name or f"es-{'on' if early else 'off'}", n_trials=100_000, seed=seed,
                      objectives=("val_accuracy", "size_bytes"), output_dir=f"{tmp}/out",
                      budget=budget, dataset=DATA,
                      sampler=SamplerConfig(seed=seed, population_size=POPULATION),
                      space=SpaceConfig("cnn", SPACE),
                      early_stopping=EarlyStopping(enabled=early),
                      mode="one-shot" if oneshot else "standard", oneshot=oneshot or OneShot())
    Path(tmp).mkdir(parents=True, exist_ok=True)
    url = f"{tmp}/bench.log" if workers > 1 else f"sqlite:///{tmp}/bench.db"
    with _sampler(plain_nsga2):
        study = create_or_load(cfg, url)
    stamps: dict[int, float] = {}
    if workers > 1:  # spawn, not fork: this process has started torch's thread pools
        threads = threads_per_worker(workers)
        started = time.time()
        run_processes(_worker, [(cfg, url, started + budget_s, threads, plain_nsga2)] * workers,
                      "Frontier")
        stamps = {t.number: t.datetime_complete.timestamp() - started
                  for t in study.get_trials(deepcopy=False) if t.datetime_complete}
    else:
        start = time.monotonic()

        def stamp(_: optuna.Study, trial: FrozenTrial) -> None:
            stamps[trial.number] = time.monotonic() - start

        with _sampler(plain_nsga2):
            run_study(study, cfg, progress=False, timeout=budget_s, callbacks=[stamp])
    # trials that finished after the deadline (in flight when it came) count nowhere
    trials = [t for t in study.get_trials() if stamps.get(t.number, budget_s + 1) <= budget_s]
    return from_trials(trials, stamps, budget_s), trials


def searches(args: argparse.Namespace, tuning: Budget) -> list[Search]:
    """The searches of one seed, in the order they run; the first is the reference. (b), (c)
    and (d) train with ``tuning``."""
    procs = f", {args.workers} processes" if args.workers > 1 else ", one process"
    every = (", every fine-tune run" if args.always_finetune else "") + procs
    loop = ", fused AdamW as Frontier trains" if args.fast_baseline else ""
    out = [
        Search("a", f"hand-written script{loop}{procs}",
               lambda b, s, tmp: (handwritten(b, s, tmp, fast=args.fast_baseline,
                                              workers=args.workers), None)),
        Search("b", f"Frontier, early stopping off{every}",
               partial(frontier, early=False, budget=tuning, workers=args.workers)),
        Search("c", f"Frontier default{every}",
               partial(frontier, early=True, budget=tuning, workers=args.workers)),
    ]
    if not args.no_oneshot:
        out.append(Search("e", f"Frontier one-shot{every}",
                          partial(frontier, early=False, name="oneshot", budget=tuning,
                                  workers=args.workers, oneshot=ONESHOT)))
    if args.control:
        out.append(Search("d", f"(c) with Optuna's NSGA-II{every}",
                          partial(frontier, early=True, name="control", budget=tuning,
                                  workers=args.workers, plain_nsga2=True)))
    return out


def run_seed(seed: int, todo: list[Search], budget_s: float, tmp: str,
             tuning: Budget, ceiling_hv: float) -> dict[str, Outcome]:
    """Run every search of ``todo`` on ``seed`` and print its lines; the first is the
    reference whose final hypervolume the others are timed to."""
    out: dict[str, Outcome] = {}
    ref = todo[0].key
    for s in todo:
        history, trials = s.run(budget_s, seed, f"{tmp}/seed{seed}/{s.key}")
        hv = final_hv(history)
        reach = None if s.key == ref else first_reach(history, final_hv(out[ref].history))
        out[s.key] = Outcome(history, trials, reach)
        line = f"efficiency: seed {seed} ({s.key}) {s.name}: {trial_count(out[s.key])}, HV {hv:.4f}"
        if s.key != ref:
            ha = final_hv(out[ref].history)
            line += f" = {hv / ha:.3f}x ({ref})" if ha else ""
            line += (f", reached ({ref})'s final HV after {reach:.0f} s = "
                     f"{share(reach, budget_s)} of the budget" if reach is not None
                     else f", never reached ({ref})'s final HV")
            if ceiling_hv > ha:
                line += f", closed {(hv - ha) / (ceiling_hv - ha):.1%} of the gap to the ceiling"
        print(line)
        print(f"efficiency:   HV at 25 / 50 / 75% of the budget: {curve_line(history, budget_s)}")
        print(f"efficiency:   best test accuracy on its front: {best_line(history)}")
        if trials is not None:
            print(f"efficiency:   {fine_tuning(trials, tuning)}")
    if "b" in out and out["b"].trials is not None:
        trials = out["b"].trials
        would, size, hit, saved = replay(trials, tuning)
        print(f"efficiency: seed {seed} replay of the stopping rule on (b): would stop {would} of "
              f"{len(out['b'].history)} trials, saving {saved:.1%} of (b)'s epochs; {hit} of them "
              f"on (b)'s final front of {size} (target 0)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="budget of each search")
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS, metavar="SEED",
                        help="seeds of the samplers and of every trial's training; the searches "
                             "run once per seed (default: 0 1 2)")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the studies in DIR/seed<N>/{a,b,c,d}")
    parser.add_argument("--control", action="store_true",
                        help="also run (d): (c) with Optuna's unchanged NSGA-II, which ignores "
                             "stopped trials (one more budget per seed)")
    parser.add_argument("--fast-baseline", action="store_true",
                        help="give (a) Frontier's fused AdamW, to separate it from the search")
    parser.add_argument("--always-finetune", action="store_true",
                        help="(b) and (c) run every fine-tune phase (skip_finetune = false), "
                             "the ablation of fine-tuning only where compression hurt")
    parser.add_argument("--no-oneshot", action="store_true",
                        help="leave out (e), Frontier's one-shot mode")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="run every search as N local processes on a journal file, each "
                             "with cores / N torch threads (default 2; 1: in this process)")
    args = parser.parse_args()
    if args.workers < 1:
        sys.exit(f"--workers: {args.workers} must be >= 1")
    if args.keep and Path(args.keep).exists() and any(Path(args.keep).iterdir()):
        sys.exit(f"--keep {args.keep}: it already holds studies from an earlier run, which "
                 "this run would continue; give a new or empty folder")
    budget = args.minutes * 60
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tuning = replace(BUDGET, skip_finetune=not args.always_finetune)
    todo = searches(args, tuning)
    smallest, largest, top = ceiling()
    threads = threads_per_worker(args.workers) if args.workers > 1 else torch.get_num_threads()
    print(f"efficiency: MNIST-1D, {args.minutes:g} min per search, seeds "
          f"{' '.join(map(str, args.seeds))}, {args.workers} process(es) per search of "
          f"{threads} torch thread(s)")
    print(f"efficiency: ceiling of this space: HV {top:.4f} (accuracy 1.0 at the smallest "
          f"candidate's {smallest:,} bytes); the largest candidate is {largest:,} bytes "
          f"(log10 bits {hv_point(0.0, largest)[1]:.2f}; reference point {HV_REFERENCE})")
    runs: dict[str, list[Outcome]] = {s.key: [] for s in todo}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            for key, outcome in run_seed(seed, todo, budget, args.keep or scratch, tuning,
                                         top).items():
                runs[key].append(outcome)
    summary({s.key: s.name for s in todo}, runs, args.seeds, budget, reference="a",
            targets={"c": 0.5, "e": 0.2}, ceiling_hv=top)


if __name__ == "__main__":
    main()
