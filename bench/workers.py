"""Trials per minute with 1, 2 and 4 worker processes on a journal file and on PostgreSQL.

    .venv/bin/python bench/workers.py [--trials 40] [--postgres URL]

A short-trial study (digits, CNN, 2 training epochs, no fine-tuning) is run to a fixed target by
K worker processes (``python -m search worker``, the same as ``run --workers K``). Throughput is
finished trials divided by the time from the first trial's start to the last trial's end, so
process start-up is not counted. PostgreSQL comes from --postgres, $FRONTIER_TEST_POSTGRES, or
the throwaway server of .ci/postgres.sh.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import optuna
from optuna.trial import TrialState

from objectives.pipeline import Budget
from search.config import SamplerConfig, SpaceConfig, StudyConfig
from search.storage.studies import create_or_load
from search.storage.workers import run_workers

ROOT = Path(__file__).resolve().parents[1]

BUDGET = Budget(epochs=2, finetune_epochs=0, qat_epochs=0, latency_reps=2)
SPACE = SpaceConfig("cnn", {"max_depth": 2, "widths": [8, 16], "prune_ratio": 0.0, "bits": [32]})


def throughput(url: str, workers: int, trials: int) -> float:
    """Finished trials per minute of ``workers`` processes on a fresh study in ``url``."""
    cfg = StudyConfig(name=f"bench-{uuid.uuid4().hex[:8]}", n_trials=trials, budget=BUDGET,
                      space=SPACE, sampler=SamplerConfig(population_size=8))
    study = create_or_load(cfg, url)
    failed = run_workers(study, url, workers, trials, progress=False)
    if failed:
        raise SystemExit(f"{failed} workers failed")
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    start = min(t.datetime_start for t in done if t.datetime_start)
    end = max(t.datetime_complete for t in done if t.datetime_complete)
    return len(done) / ((end - start).total_seconds() / 60.0)


def postgres_url(given: str | None) -> str | None:
    url = given or os.environ.get("FRONTIER_TEST_POSTGRES")
    if url:
        return url
    res = subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh")], capture_output=True,
                         text=True)
    return res.stdout.strip() or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40, help="target per measurement")
    parser.add_argument("--postgres", help="PostgreSQL URL (default: throwaway server)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(f"workers: {os.cpu_count()} CPU cores, {args.trials} trials per measurement")
    with tempfile.TemporaryDirectory() as tmp:
        storages = {"journal": str(Path(tmp) / "bench.log")}
        pg = postgres_url(args.postgres)
        if pg:
            storages["postgresql"] = pg
        else:
            print("workers: no PostgreSQL server; measuring the journal only")
        for name, url in storages.items():
            rates = {k: throughput(url, k, args.trials) for k in (1, 2, 4)}
            line = ", ".join(f"{k} worker{'s' if k > 1 else ''} {r:.0f}/min"
                             for k, r in rates.items())
            print(f"workers: {name}: {line}; scaling vs 1 worker: 2 → "
                  f"{rates[2] / rates[1]:.2f}×, 4 → {rates[4] / rates[1]:.2f}×")


if __name__ == "__main__":
    main()
