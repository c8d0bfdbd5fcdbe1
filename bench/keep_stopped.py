"""Does keeping early-stopped trials in NSGA-II's population help? The default study
(studies/digits_cnn.toml, 60 trials, early stopping on) under several seeds, once with
Frontier's NSGA-II (stopped trials kept in the population) and once with Optuna's unchanged
NSGA-II (stopped trials ignored by the sampler).

    .venv/bin/python bench/keep_stopped.py [--seeds 1 2 3]

The two variants run side by side in two processes of one torch thread each (a fixed number of
trials, so the machine's speed does not change the result). Prints the hypervolume of each
study in (1 − val accuracy, log10 size in bits), reference (0.9, 6.5), and how many trials
were stopped early.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(variant: str, seeds: list[int]) -> None:
    """Run the default study under each seed with one variant of NSGA-II."""
    import optuna
    import torch

    import search.samplers as samplers
    from search.config import load_config
    from search.results.pareto import hypervolume
    from search.run import run_study
    from search.storage.studies import create_or_load

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if variant == "optuna":
        samplers.SAMPLERS.replace("nsga2", lambda seed, pop: optuna.samplers.NSGAIISampler(
            seed=seed, population_size=pop))
    for seed in seeds:
        cfg = load_config(ROOT / "studies" / "digits_cnn.toml")
        with tempfile.TemporaryDirectory() as tmp:
            cfg = dataclasses.replace(cfg, seed=seed, output_dir=f"{tmp}/out",
                                      sampler=dataclasses.replace(cfg.sampler, seed=seed))
            study = create_or_load(cfg, f"sqlite:///{tmp}/bench.db")
            run_study(study, cfg, progress=False)
            stopped = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
            print(f"keep_stopped: seed {seed}, {variant:>8} NSGA-II: HV "
                  f"{hypervolume(study.trials):.4f}, {stopped} of {len(study.trials)} stopped",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--one", choices=["frontier", "optuna"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.seeds)
        return
    seeds = [str(s) for s in args.seeds]
    procs = [subprocess.Popen([sys.executable, __file__, "--one", v, "--seeds", *seeds])
             for v in ("frontier", "optuna")]
    sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
