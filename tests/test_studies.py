"""The shipped example studies load, and the user-code examples run a tiny study each."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from objectives.classification import Budget
from search.config import load_config
from search.run import run_study
from search.study import create_or_load

STUDIES = Path(__file__).resolve().parents[1] / "studies"
TINY = Budget(epochs=1, finetune_epochs=1, qat_epochs=1, latency_reps=1)


@pytest.mark.parametrize("name", ["digits_cnn", "wine", "torchvision_mobilenet"])
def test_a_shipped_study_loads_from_any_folder(workdir: Path, name: str) -> None:
    cfg = load_config(STUDIES / f"{name}.toml")  # the cwd is a fresh tmp folder
    assert cfg.name == name


@pytest.mark.parametrize("name", ["wine", "torchvision_mobilenet"])
def test_a_user_code_example_runs(workdir: Path, name: str) -> None:
    cfg = dataclasses.replace(load_config(STUDIES / f"{name}.toml"), n_trials=2, budget=TINY,
                              storage=str(workdir / "s.db"))
    study = create_or_load(cfg)
    assert run_study(study, cfg, progress=False) == 2
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 2, [t.user_attrs.get("fail_reason") for t in study.trials]
    assert all(t.user_attrs["metrics"]["params"] > 0 for t in trials)
    assert isinstance(study, optuna.Study)
