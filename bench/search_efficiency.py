"""Head-to-head: a hand-written Optuna script vs. Frontier without and with early stopping.

    .venv/bin/python bench/search_efficiency.py [--minutes 5] [--seed 0] [--keep DIR] [--control]
                                                [--fast-baseline] [--always-finetune]
                                                [--workers N]

Three searches on digits, one after the other in this process, each with the same wall-clock
budget, the same CNN space (depth 1-4, widths 4-32, prune ratio 0-0.9, bits 2-32, weight decay
1e-5-1e-3, four learning-rate schedules), the same training epochs, NSGA-II with the same seed
and population, objectives (val accuracy, size):

  (a) a plain hand-written Optuna NSGA-II script: trains every candidate fully, then prunes
      and quantizes it after training, without fine-tuning (what people write by hand);
  (b) Frontier with early stopping off (prune → fine-tune with mask → QAT fine-tune, each
      fine-tune only where compression cost more than 0.01 val accuracy);
  (c) Frontier default (early stopping on).

Prints the hypervolume of each front in (1 − val accuracy, log10 size in bits) with reference
point (0.9, 6.5), the ceiling no front in this space can pass (a perfect accuracy at the size of
the smallest candidate), the ratio (c)/(a), the share of the gap between (a) and that ceiling
that (b) and (c) closed, the wall time at which (c) (and, for comparison, (b)) first reached
(a)'s final hypervolume, and a replay of the early-stopping rule over (b)'s trials: which
trials it would have stopped, whether any of them is on (b)'s final front, and the share of
(b)'s epochs the stops would have saved. ``--control`` adds (d): (c) with Optuna's
unchanged NSGA-II, which leaves stopped trials out of its population (search/samplers.py).
``--always-finetune`` makes (b) and (c) run every fine-tune phase (the ablation of fine-tuning
only where compression hurt). ``--fast-baseline`` gives (a) the two speed-ups of Frontier's
training loop (fused AdamW, channels-last memory), so that what is left of the difference is
the search itself. ``--workers N`` runs (b), (c) and (d) as N local worker processes on one
journal file, each with cores / N torch threads, as ``python -m search run --workers N`` does;
(a) stays the one process a hand-written script is.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import optuna
import torch
from handwritten import (
    BITS,
    EPOCHS,
    LR,
    MAX_DEPTH,
    MAX_RATIO,
    POPULATION,
    WEIGHT_DECAY,
    WIDTHS,
    History,
    handwritten,
)
from optuna.trial import FrozenTrial, TrialState

from objectives.compress.prune import prune_magnitude
from objectives.metrics import size_bytes
from objectives.pipeline import Budget
from search import samplers
from search.config import SamplerConfig, SpaceConfig, StudyConfig
from search.early_stop import EarlyStopping, ParetoStopper
from search.results.pareto import hv_point, points_hypervolume
from search.run import run_study
from search.storage.reaper import worker_id
from search.storage.workers import threads_per_worker
from search.study import create_or_load
from spaces.cnn import CNNSpace, CNNSpec
from spaces.spec import SCHEDULES

SEED = 0
BUDGET = Budget(epochs=EPOCHS, finetune_epochs=5, qat_epochs=5)  # (b) and (c)
# All three searches sample the same parameters from the same domains (bench/handwritten.py):
# depth, widths, prune ratio, bits and the two training knobs, weight decay and schedule.
SPACE = {"min_depth": 1, "max_depth": MAX_DEPTH, "widths": WIDTHS, "kernels": [3],
         "prune_ratio": {"low": 0.0, "high": MAX_RATIO}, "bits": BITS, "lr": LR,
         "weight_decay": {"low": WEIGHT_DECAY[0], "high": WEIGHT_DECAY[1], "log": True},
         "schedule": list(SCHEDULES)}


def ceiling() -> tuple[int, float]:
    """Bytes of the smallest candidate of SPACE (one conv of the fewest filters, pruned at the
    largest ratio, fewest bits) and the hypervolume of a perfect-accuracy model of that size:
    the most any front of this space can have."""
    spec = CNNSpec(widths=(min(WIDTHS),))
    model = CNNSpace({"widths": WIDTHS}).build(spec, (1, 8, 8), 10)
    prune_magnitude(model, MAX_RATIO)
    smallest = size_bytes(model, min(BITS))
    return smallest, points_hypervolume([hv_point(1.0, smallest)])


# ---------------------------------------------------------------- (b), (c) Frontier
def _worker(cfg: StudyConfig, url: str, deadline: float, threads: int) -> None:
    """One of ``--workers`` processes: join the study and start trials until ``deadline``
    (``time.time()``), so that the seconds spent starting the process count in the budget."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = create_or_load(cfg, url, worker=worker_id())
    run_study(study, cfg, progress=False, timeout=max(0.0, deadline - time.time()),
              threads=threads)


def frontier(budget_s: float, early: bool, tmp: str, seed: int = SEED,
             name: str = "", budget: Budget = BUDGET,
             workers: int = 1) -> tuple[History, list[FrozenTrial]]:
    cfg = StudyConfig(name=name or f"es-{'on' if early else 'off'}", n_trials=100_000, seed=seed,
                      objectives=("val_accuracy", "size_bytes"), output_dir=f"{tmp}/out",
                      budget=budget,
                      sampler=SamplerConfig(seed=seed, population_size=POPULATION),
                      space=SpaceConfig("cnn", SPACE),
                      early_stopping=EarlyStopping(enabled=early))
    Path(tmp).mkdir(parents=True, exist_ok=True)
    url = f"{tmp}/bench.log" if workers > 1 else f"sqlite:///{tmp}/bench.db"
    study = create_or_load(cfg, url)
    stamps: dict[int, float] = {}
    if workers > 1:  # spawn, not fork: this process has started torch's thread pools
        context = multiprocessing.get_context("spawn")
        threads = threads_per_worker(workers)
        started = time.time()
        procs = [context.Process(target=_worker, args=(cfg, url, started + budget_s, threads))
                 for _ in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        stamps = {t.number: t.datetime_complete.timestamp() - started
                  for t in study.get_trials(deepcopy=False) if t.datetime_complete}
    else:
        start = time.monotonic()

        def stamp(_: optuna.Study, trial: FrozenTrial) -> None:
            stamps[trial.number] = time.monotonic() - start

        run_study(study, cfg, progress=False, timeout=budget_s, callbacks=[stamp])
    trials = study.get_trials()
    history = [(stamps[t.number], hv_point(t.user_attrs["metrics"]["val_accuracy"],
                                           t.user_attrs["metrics"]["size_bytes"]))
               for t in trials if t.state == TrialState.COMPLETE and t.number in stamps
               and stamps[t.number] <= budget_s]
    return sorted(history), trials


def final_hv(history: list[tuple[float, tuple[float, float]]]) -> float:
    return points_hypervolume([p for _, p in history])


def first_reach(history: list[tuple[float, tuple[float, float]]], target: float) -> float | None:
    points: list[tuple[float, float]] = []
    for t, p in history:
        points.append(p)
        if points_hypervolume(points) >= target:
            return t
    return None


def fine_tuning(trials: list[FrozenTrial]) -> str:
    """How many fine-tune phases the finished trials ran and skipped (Budget.skip_finetune)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    epochs = [t.user_attrs["metrics"]["epochs_run"] for t in done]
    full = [EPOCHS + BUDGET.finetune_epochs * (t.params["prune_ratio"] > 0)
            + BUDGET.qat_epochs * (t.params["bits"] < 32) for t in done]
    none = sum(e == EPOCHS < f for e, f in zip(epochs, full, strict=True))
    some = sum(EPOCHS < e < f for e, f in zip(epochs, full, strict=True))
    return (f"fine-tuning skipped entirely in {none} and in part in {some} of {len(done)} "
            f"finished trials; {sum(epochs) / max(1, len(done)):.1f} epochs per trial against "
            f"{sum(full) / max(1, len(done)):.1f} if every phase ran")


def replay(trials: list[FrozenTrial]) -> tuple[int, int, int, float]:
    """Would the rule have stopped any trial of a study run without early stopping that ended
    on its final front? Each trial is checked against the trials finished before it, with its
    final sizes standing in for the projection. Returns (would stop, front size, front stopped,
    fraction of the study's epochs the stops would have saved).
    """
    done = sorted((t for t in trials if t.state == TrialState.COMPLETE),
                  key=lambda t: t.datetime_complete)  # type: ignore[arg-type, return-value]
    objectives = ("val_accuracy", "size_bytes")
    front = {t.number for t in optuna.study._multi_objective._get_pareto_front_trials_by_trials(
        done, [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE])}
    stopped = set()
    total = saved = 0
    for i, t in enumerate(done):
        epochs = t.user_attrs["metrics"]["epochs_run"]  # fine-tune phases may be skipped
        total += epochs
        stopper = ParetoStopper(EarlyStopping(), objectives, done[:i])
        projected = {"size_bytes": t.user_attrs["metrics"]["size_bytes"]}
        for point, acc in t.user_attrs["curve"].items():
            if point != "final" and stopper.check(point, acc, projected):
                stopped.add(t.number)
                phase, epoch = point.split(":")
                saved += epochs - int(epoch) - (EPOCHS if phase == "prune" else 0)
                break
    return len(stopped), len(front), len(stopped & front), saved / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="budget of each search")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the studies of (b) and (c) in DIR/{b,c}/bench.db")
    parser.add_argument("--control", action="store_true",
                        help="also run (d): (c) with Optuna's unchanged NSGA-II, which ignores "
                             "stopped trials (one more budget)")
    parser.add_argument("--fast-baseline", action="store_true",
                        help="give (a) Frontier's training-loop speed-ups (fused AdamW, "
                             "channels-last), to separate them from the search")
    parser.add_argument("--always-finetune", action="store_true",
                        help="(b) and (c) run every fine-tune phase (skip_finetune = false), "
                             "the ablation of fine-tuning only where compression hurt")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="run (b), (c) and (d) as N local worker processes on a journal "
                             "file, as `run --workers N` does ((a) stays one process)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="seed of the three samplers and of every trial's training")
    args = parser.parse_args()
    if args.workers < 1:
        sys.exit(f"--workers: {args.workers} must be >= 1")
    if args.workers > 1 and args.control:
        sys.exit("--control with --workers: (d) swaps the sampler in this process only, which "
                 "worker processes do not see; run --control with one worker")
    if args.keep and any((Path(args.keep) / k).exists() for k in "bcd"):
        sys.exit(f"--keep {args.keep}: it already holds studies from an earlier run, which "
                 "this run would continue; give a new or empty folder")
    budget = args.minutes * 60
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    procs = (f"; (b), (c): {args.workers} worker processes of "
             f"{threads_per_worker(args.workers)} thread(s)" if args.workers > 1
             else "")
    print(f"efficiency: {args.minutes:g} min per search, seed {args.seed}, "
          f"{torch.get_num_threads()} torch threads{procs}")
    a = handwritten(budget, args.seed, fast=args.fast_baseline)
    loop = ", training as Frontier does" if args.fast_baseline else ""
    print(f"efficiency: (a) hand-written script{loop}: {len(a)} trials, HV {final_hv(a):.4f}")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        tuning = replace(BUDGET, skip_finetune=not args.always_finetune)
        b, b_trials = frontier(budget, early=False, tmp=f"{tmp}/b", seed=args.seed,
                               budget=tuning, workers=args.workers)
        every = ", every fine-tune run" if args.always_finetune else ""
        every += f", {args.workers} workers" if args.workers > 1 else ""
        print(f"efficiency: (b) Frontier, early stopping off{every}: {len(b)} trials, "
              f"HV {final_hv(b):.4f}")
        c, c_trials = frontier(budget, early=True, tmp=f"{tmp}/c", seed=args.seed,
                               budget=tuning, workers=args.workers)
        stopped = sum(t.state == TrialState.PRUNED for t in c_trials)
        print(f"efficiency: (c) Frontier default{every}: {len(c)} complete + {stopped} stopped "
              f"early, HV {final_hv(c):.4f}")
        for name, trials in (("(b)", b_trials), ("(c)", c_trials)):
            print(f"efficiency: {name} {fine_tuning(trials)}")
        d: History = []
        if args.control:
            samplers.SAMPLERS.replace("nsga2", lambda seed, pop: optuna.samplers.NSGAIISampler(
                seed=seed, population_size=pop))
            d, d_trials = frontier(budget, early=True, tmp=f"{tmp}/d", seed=args.seed,
                                   name="control", budget=tuning,
                                   workers=args.workers)
            stopped = sum(t.state == TrialState.PRUNED for t in d_trials)
            print(f"efficiency: (d) (c) with Optuna's NSGA-II: {len(d)} complete + {stopped} "
                  f"stopped early, HV {final_hv(d):.4f}")
    ha, hb, hc = final_hv(a), final_hv(b), final_hv(c)
    smallest, top = ceiling()
    print(f"efficiency: ceiling of this space: HV {top:.4f} (accuracy 1.0 at the smallest "
          f"candidate's {smallest} bytes), so no search can beat (a) by more than "
          f"{top / ha:.3f}x")
    print(f"efficiency: HV ratio (c)/(a) = {hc / ha:.3f} (target >= 1.15); "
          f"(b)/(a) = {hb / ha:.3f}")
    if top > ha:  # a figure that does not depend on where the space's floor sits
        print(f"efficiency: share of the gap between (a) and the ceiling closed: (c) "
              f"{(hc - ha) / (top - ha):.1%}, (b) {(hb - ha) / (top - ha):.1%}")
    for name, history in (("(c)", c), ("(b)", b), ("(d)", d)):
        if not history:
            continue
        reach = first_reach(history, ha)
        if reach is None:
            print(f"efficiency: {name} never reached (a)'s final hypervolume")
        else:
            target = " (target <= 50%)" if name == "(c)" else ""
            print(f"efficiency: {name} reached (a)'s final HV after {reach:.0f} s = "
                  f"{reach / budget:.0%} of the budget{target}")
    would, front, hit, saved = replay(b_trials)
    print(f"efficiency: replay of the stopping rule on (b): would stop {would} of "
          f"{sum(t.state == TrialState.COMPLETE for t in b_trials)} trials, saving {saved:.1%} "
          f"of (b)'s epochs; {hit} of them on (b)'s final front of {front} (target 0)")


if __name__ == "__main__":
    main()
