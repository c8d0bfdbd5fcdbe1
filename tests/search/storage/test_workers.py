"""Three worker processes on one study (journal file and PostgreSQL), one killed mid-trial."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from objectives.pipeline import Budget
from search.config import SamplerConfig, SpaceConfig, StudyConfig
from search.errors import FrontierError
from search.storage.studies import create_or_load
from search.storage.urls import open_storage
from search.storage.workers import check_multiprocess_storage
from tests.conftest import ENV

TARGET = 8


def _study(url: str) -> StudyConfig:
    cfg = StudyConfig(name=f"w{uuid.uuid4().hex[:8]}", n_trials=TARGET,
                      budget=Budget(epochs=8, finetune_epochs=1, qat_epochs=1, latency_reps=2),
                      sampler=SamplerConfig(population_size=4),
                      space=SpaceConfig("cnn", {"max_depth": 2, "widths": [8, 16]}))
    create_or_load(cfg, url)
    return cfg


def _kill_one_mid_trial(url: str, name: str) -> tuple[int, list[subprocess.Popen[bytes]]]:
    cmd = [sys.executable, "-m", "search", "worker", "--storage", url, "--study", name,
           "--threads", "1", "--quiet"]
    procs = [subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL) for _ in range(3)]
    victim = procs[0]
    study = optuna.load_study(study_name=name, storage=open_storage(url, create=False))
    deadline = time.time() + 120
    while time.time() < deadline:
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state == TrialState.COMPLETE for t in trials)
        mine = [t for t in trials if t.state == TrialState.RUNNING
                and str(t.user_attrs.get("worker", "")).endswith(f":{victim.pid}")]
        if done >= 1 and mine and "spec" in mine[0].user_attrs:
            victim.kill()
            victim.wait()
            return mine[0].number, procs[1:]
        time.sleep(0.05)
    raise AssertionError("the victim never ran a trial")


def _first_draws(trials: list[optuna.trial.FrozenTrial]) -> list[dict[str, object]]:
    """The parameters of each worker's first trial (retries, which repeat a dead trial's
    parameters on purpose, left out)."""
    first: dict[str, dict[str, object]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if "retry_of" not in t.user_attrs:
            first.setdefault(str(t.user_attrs["worker"]), t.params)
    return list(first.values())


def _distinct(draws: list[dict[str, object]]) -> bool:
    return len({tuple(sorted(d.items())) for d in draws}) == len(draws)


def _check(url: str, name: str, killed: int) -> None:
    study = optuna.load_study(study_name=name, storage=open_storage(url, create=False))
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == TARGET
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == max(numbers) + 1
    for t in complete:  # every finished trial's values intact
        m = t.user_attrs["metrics"]
        assert t.values == [m["val_accuracy"], m["params"]]
    dead = study.trials[killed]
    assert dead.state == TrialState.FAIL
    assert "died while running this trial" in dead.user_attrs["fail_reason"]
    retries = [t for t in complete if t.user_attrs.get("retry_of") == killed]
    assert len(retries) == 1 and retries[0].params == dead.params
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # Each worker seeds its sampler apart (search.storage.studies.session_seed): with the
    # study's seed in every worker, each one's first trial would be the same candidate.
    draws = _first_draws(trials)
    assert len(draws) == 3 and _distinct(draws)


def _run(url: str) -> None:
    cfg = _study(url)
    killed, others = _kill_one_mid_trial(url, cfg.name)
    for p in others:
        assert p.wait(timeout=300) == 0
    _check(url, cfg.name, killed)


def test_three_workers_on_a_journal_file(tmp_path: Path) -> None:
    _run(str(tmp_path / "study.log"))


def test_three_workers_on_postgresql(postgres_url: str) -> None:
    _run(postgres_url)


def test_sqlite_is_refused_for_several_workers() -> None:
    with pytest.raises(FrontierError, match=r"--workers: .* is SQLite"):
        check_multiprocess_storage("runs/x.db")
    check_multiprocess_storage("runs/x.log")
    check_multiprocess_storage("postgresql://u:p@h/db")


def test_run_with_workers_on_a_journal(tmp_path: Path) -> None:
    from tests.conftest import tiny_toml

    # One worker may start a second or so after the other (two cores, both importing torch):
    # trials of ~1 s keep the first from finishing all six before the second claims one.
    (tmp_path / "s.toml").write_text(tiny_toml("two", n_trials=6, epochs=30))
    res = subprocess.run([sys.executable, "-m", "search", "run", "s.toml", "--storage",
                          "runs/two.log", "--workers", "2", "--quiet"], cwd=tmp_path, env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="two", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "runs" / "two.log"))))
    workers = {t.user_attrs["worker"] for t in study.trials}
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 6
    assert len(workers) == 2
    assert _distinct(_first_draws(study.trials))
    assert (tmp_path / "runs" / "two" / "pareto.csv").exists()
