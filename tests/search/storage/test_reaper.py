"""Bad trials fail alone, with their reason stored; dead workers' trials are retried once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState

import search.objective
from objectives.pipeline import evaluate
from search.config import SamplerConfig, SpaceConfig, StudyConfig
from search.results.pareto import trials_frame
from search.run import run_study
from search.storage.studies import create_or_load
from search.storage.urls import open_storage
from spaces import create_space
from tests.conftest import TINY


def _cfg(name: str, n: int = 6) -> StudyConfig:
    return StudyConfig(name=name, n_trials=n, budget=TINY,
                       sampler=SamplerConfig(population_size=4),
                       space=SpaceConfig("cnn", {"max_depth": 2, "widths": [4, 8]}))


class _NaNSpace:
    """Wraps a space so its models start with NaN weights: the real training loop must notice."""

    def __init__(self, space: Any) -> None:
        self._space = space
        self.name, self.spec_type = space.name, space.spec_type

    def sample(self, trial: optuna.Trial) -> Any:
        return self._space.sample(trial)

    def build(self, spec: Any, input_shape: tuple[int, ...], num_classes: int) -> torch.nn.Module:
        model = self._space.build(spec, input_shape, num_classes)
        with torch.no_grad():
            next(model.parameters()).fill_(float("nan"))
        return model


def test_nan_loss_and_exception_fail_only_their_trials(workdir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _cfg("faults")

    def faulty(space: Any, spec: Any, data: Any, budget: Any, *, seed: int = 0,
               **kw: Any) -> Any:
        if seed == 1:  # trial 1: NaN loss
            return evaluate(_NaNSpace(space), spec, data, budget, seed=seed, **kw)
        if seed == 3:  # trial 3: an exception in the candidate
            raise RuntimeError("injected failure")
        return evaluate(space, spec, data, budget, seed=seed, **kw)

    monkeypatch.setattr(search.objective, "evaluate", faulty)
    study = create_or_load(cfg)
    assert run_study(study, cfg, progress=False) == 6
    states = {t.number: t.state for t in study.trials}
    assert states[1] == states[3] == TrialState.FAIL
    assert sum(s == TrialState.COMPLETE for s in states.values()) == 6
    reasons = {t.number: t.user_attrs.get("fail_reason") for t in study.trials}
    assert reasons[1] == "NonFiniteLossError: training loss became nan in epoch 1"
    assert reasons[3] == "RuntimeError: injected failure"
    table = trials_frame(study).set_index("trial")
    assert table.loc[3, "reason"] == "RuntimeError: injected failure"
    assert table.loc[0, "reason"] == "" or table.loc[0, "reason"] != table.loc[0, "reason"]


def test_heartbeat_stale_trial_is_failed_and_retried_once(workdir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTIER_HEARTBEAT_SECONDS", "1")
    cfg = _cfg("beat", n=2)
    url = "sqlite:///runs/beat.db"
    create_or_load(cfg, url)
    storage = open_storage(url)
    study = optuna.load_study(study_name="beat", storage=storage)
    with pytest.warns(UserWarning, match="Heartbeat"):
        orphan = study.ask()
    create_space("cnn", cfg.space.options).sample(orphan)
    orphan.set_user_attr("worker", "another-host:1")  # not ours to reap: only heartbeats
    storage.record_heartbeat(orphan._trial_id)
    time.sleep(3.5)  # three missed heartbeats
    assert run_study(study, cfg, progress=False) == 2
    dead = study.trials[orphan.number]
    assert dead.state == TrialState.FAIL
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == orphan.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == dead.params
    assert "heartbeats" in trials_frame(study).set_index("trial").loc[orphan.number, "reason"]
