"""How the hypervolume of each search of a kept efficiency run grew over its budget.

    .venv/bin/python bench/efficiency_curves.py DIR [--minutes 5]

DIR is the ``--keep`` folder of ``bench/search_efficiency.py`` (run with ``--workers 2`` or
more: each search's studies are then a journal file, ``seed<N>/a/handwritten.log`` for the
hand-written script and ``seed<N>/<key>/bench.log`` for Frontier's searches). Each search's
clock starts when its journal file is created (the bench creates it, then starts the clock and
the worker processes), read from the file's birth time. Prints per seed and search the
hypervolume, in the bench's space, of what had finished at 25, 50, 75 and 100 % of the budget
(the last is the bench's final figure, a check that the clock matches), and the share of its
final hypervolume the hand-written script (a) had at half its budget: how much a search must
gain over (a) at equal time to reach (a)'s final hypervolume in half the budget.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import optuna
from efficiency_report import History, from_trials, hv_at
from handwritten import STUDY
from handwritten import history as handwritten_history

#: Frontier's searches in the bench: key -> study name (bench/search_efficiency.py).
FRONTIER = {"b": "es-off", "c": "es-on", "d": "control", "e": "oneshot"}
SHARES = (0.25, 0.5, 0.75, 1.0)


def born(path: Path) -> float:
    """The file's creation time (``st_birthtime`` where Python has it, else ``stat %W``)."""
    birth = getattr(os.stat(path), "st_birthtime", None)
    if birth is None:
        out = subprocess.check_output(["stat", "-c", "%.9W", str(path)], text=True).strip()
        birth = float(out.replace(",", "."))
    if birth <= 0:
        sys.exit(f"{path}: this file system does not record creation times")
    return float(birth)


def history(folder: Path, key: str, budget_s: float) -> History | None:
    """The History of one kept search, or None when the folder has no journal for it."""
    path = folder / ("handwritten.log" if key == "a" else "bench.log")
    if not path.exists():
        return None
    start = born(path)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.load_study(study_name=STUDY if key == "a" else FRONTIER[key],
                              storage=storage)
    if key == "a":
        return handwritten_history(study, start, budget_s)
    trials = study.get_trials(deepcopy=False)
    stamps = {t.number: t.datetime_complete.timestamp() - start
              for t in trials if t.datetime_complete}
    return from_trials(trials, stamps, budget_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("keep", type=Path, help="the --keep folder of a finished run")
    parser.add_argument("--minutes", type=float, default=5.0, help="budget of each search")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    seeds = sorted(args.keep.glob("seed*"), key=lambda p: int(p.name[4:]))
    if not seeds:
        sys.exit(f"{args.keep}: no seed<N> folders; give the --keep folder of a finished run "
                 "of bench/search_efficiency.py")
    budget = args.minutes * 60
    print("curves: hypervolume at " + " / ".join(f"{s:.0%}" for s in SHARES) + " of the budget")
    for folder in seeds:
        ref = None
        for key in ("a", *FRONTIER):
            hist = history(folder / key, key, budget)
            if hist is None:
                continue
            hv = [hv_at(hist, share * budget) for share in SHARES]
            line = f"curves: {folder.name} ({key}) " + " / ".join(f"{h:.4f}" for h in hv)
            if key == "a":
                ref = hv[-1]
                line += f"; at half its budget (a) had {hv[1] / ref:.2%} of its final HV"
            elif ref:
                line += f"; at half the budget {hv[1] / ref:.3f}x (a)'s final HV"
            print(line)


if __name__ == "__main__":
    main()
