"""Pareto-aware early stopping: the rule, stopped trials (Optuna's PRUNED) with reasons, resume,
off switch."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from objectives.pipeline import Budget
from search.config import Constraints, SamplerConfig, SpaceConfig, StudyConfig
from search.early_stop import EarlyStopping, ParetoStopper, checkpoint_epochs
from search.results.pareto import front_frame, trials_frame
from search.run import run_study
from search.storage.studies import create_or_load
from tests.conftest import ENV

OBJ = ("val_accuracy", "params")


def _finished(number: int, acc: float, params: int,
              curve: dict[str, float]) -> optuna.trial.FrozenTrial:
    t = create_trial(state=TrialState.COMPLETE, values=[acc, params],
                     params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
                     user_attrs={"metrics": {"val_accuracy": acc, "params": params},
                                 "curve": {**curve, "final": acc}})
    t.number = number
    return t


def test_checkpoints() -> None:
    assert checkpoint_epochs(20, 0) == {5, 10, 15, 20}
    assert checkpoint_epochs(6, 4) == {4, 6}
    assert checkpoint_epochs(2, 0) == {1, 2}


def test_rule_stops_only_what_cannot_reach_the_front() -> None:
    # Three finished trials: from train:5 each gained at most 0.20 to its final accuracy.
    done = [_finished(0, 0.95, 1000, {"train:5": 0.75}),
            _finished(1, 0.90, 500, {"train:5": 0.75}),
            _finished(2, 0.97, 4000, {"train:5": 0.85})]
    stopper = ParetoStopper(EarlyStopping(min_completed=3, size_slack=0.2), OBJ, done)
    # 0.60 + 0.20 = 0.80 at best, with >= 800 params: trial 1 (0.90, 500) dominates it.
    reason = stopper.check("train:5", 0.60, {"params": 1000})
    assert reason is not None and "trial 1 already has" in reason and "train:5" in reason
    # 0.75 + 0.20 = 0.95 with >= 640 params: nothing finished dominates it -> goes on.
    assert stopper.check("train:5", 0.75, {"params": 800}) is None
    # 0.68 + 0.20 + margin: 0.90 at 560 params is dominated by trial 1 without a margin of
    # its own, not once the margin lifts it above trial 1's accuracy.
    assert stopper.check("train:5", 0.68, {"params": 700}) is not None
    wide = ParetoStopper(EarlyStopping(min_completed=3, accuracy_margin=0.05), OBJ, done)
    assert wide.check("train:5", 0.68, {"params": 700}) is None
    # A tiny candidate is never dominated by larger ones, however slow it learns.
    assert stopper.check("train:5", 0.20, {"params": 300}) is None
    # Unknown checkpoint or too few finished trials: no decision.
    assert stopper.check("train:10", 0.1, {"params": 5000}) is None
    few = ParetoStopper(EarlyStopping(min_completed=4), OBJ, done)
    assert few.check("train:5", 0.1, {"params": 5000}) is None
    off = ParetoStopper(EarlyStopping(enabled=False, min_completed=1), OBJ, done)
    assert off.check("train:5", 0.1, {"params": 5000}) is None
    latency = ParetoStopper(EarlyStopping(min_completed=1), ("val_accuracy", "latency_ms"), done)
    assert latency.check("train:5", 0.1, {"params": 5000}) is None


def test_envelope_bound_uses_trials_that_were_no_better_at_the_checkpoint() -> None:
    # Trial 2 gained 0.35 from train:5, so the gain bound alone lets a 0.62 candidate hope for
    # 0.99; but no finished trial at <= 0.63 on train:5 ended above 0.80.
    done = [_finished(0, 0.80, 300, {"train:5": 0.60}),
            _finished(1, 0.75, 400, {"train:5": 0.55}),
            _finished(2, 0.75, 500, {"train:5": 0.40}),
            _finished(3, 0.90, 800, {"train:5": 0.85})]
    stopper = ParetoStopper(EarlyStopping(min_completed=3), OBJ, done)
    assert stopper.ready("train:5") and not stopper.ready("train:10")
    assert not ParetoStopper(EarlyStopping(enabled=False, min_completed=3), OBJ,
                             done).ready("train:5")
    reason = stopper.check("train:5", 0.62, {"params": 1000})
    assert reason is not None
    assert "at best 0.820" in reason and "best final of the 3 finished trials" in reason
    assert "trial 3 already has" in reason
    # Above trial 3 on the curve, trial 3's own final (0.90) joins the envelope: goes on.
    assert stopper.check("train:5", 0.86, {"params": 1000}) is None
    # Fewer than min_completed trials below: only the gain bound (0.99) applies, goes on.
    assert ParetoStopper(EarlyStopping(min_completed=4), OBJ, done).check(
        "train:5", 0.62, {"params": 1000}) is None
    # A wider envelope takes in trial 3 (0.85 <= 0.62 + 0.25): its 0.90 + margin is not
    # dominated by trial 3 itself.
    wide = ParetoStopper(EarlyStopping(min_completed=3, envelope_width=0.25), OBJ, done)
    assert wide.check("train:5", 0.62, {"params": 1000}) is None


def _cfg(name: str, n: int, **es: object) -> StudyConfig:
    return StudyConfig(
        name=name, n_trials=n,
        # every trial whose weights are pruned fine-tunes, so its curve has the pruning checkpoints
        budget=Budget(epochs=4, finetune_epochs=1, qat_epochs=1, latency_reps=0,
                      skip_finetune=False),
        sampler=SamplerConfig(name="random", population_size=4),
        space=SpaceConfig("cnn", {"max_depth": 2, "widths": [4, 8, 16],
                                  "lr": [0.01, 0.00001], "bits": [4, 32]}),
        early_stopping=EarlyStopping(min_completed=4, **es),  # type: ignore[arg-type]
    )


def test_hopeless_trials_are_stopped_with_a_reason(workdir: Path) -> None:
    cfg = _cfg("es", 16)
    study = create_or_load(cfg)
    assert run_study(study, cfg, progress=False) == 16
    stopped = study.get_trials(states=(TrialState.PRUNED,))
    assert stopped, "a learning rate of 1e-5 learns nothing: such trials must be stopped"
    for t in stopped:
        assert "already has" in t.user_attrs["stop_reason"]
        assert t.user_attrs["curve"]  # the checkpoints it reached
        assert "final" not in t.user_attrs["curve"]
        # For the sampler: the accuracy at the checkpoint it was stopped at, projected params.
        acc, params = t.user_attrs["stopped_values"]
        assert acc == list(t.user_attrs["curve"].values())[-1]
        assert 0 < params < 10_000
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert all("final" in t.user_attrs["curve"] for t in complete)
    table = trials_frame(study).set_index("trial")
    assert table.loc[stopped[0].number, "state"] == "STOPPED"
    assert table.loc[stopped[0].number, "reason"].startswith("stopped early at ")


def test_off_switch(workdir: Path) -> None:
    cfg = _cfg("es-off", 10, enabled=False)
    study = create_or_load(cfg)
    run_study(study, cfg, progress=False)
    assert not study.get_trials(states=(TrialState.PRUNED,))
    assert all("curve" in t.user_attrs for t in study.trials)
    # Curves are still recorded, with the pruning fine-tune's checkpoint where weights are pruned.
    pruned_ones = [t for t in study.trials if t.params["prune_ratio"] > 0]
    assert pruned_ones and all("prune:1" in t.user_attrs["curve"] for t in pruned_ones)


def test_rule_uses_trials_of_earlier_runs_and_other_workers(workdir: Path) -> None:
    # First process: 8 trials, all finished with curves (min_completed is 8, so none stopped).
    cfg = replace(_cfg("es-resume", 8), early_stopping=EarlyStopping(min_completed=8))
    study = create_or_load(cfg)
    run_study(study, cfg, progress=False)
    assert not study.get_trials(states=(TrialState.PRUNED,))
    first = {t.number for t in study.trials}
    # A worker in a new process continues to 20: its stops rely on the stored curves.
    res = subprocess.run([sys.executable, "-m", "search", "worker", "--storage",
                          "runs/frontier.db", "--study", "es-resume", "--n-trials", "20",
                          "--quiet"], env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="es-resume", storage="sqlite:///runs/frontier.db")
    stopped = study.get_trials(states=(TrialState.PRUNED,))
    assert stopped and all(t.number not in first for t in stopped)
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 20


def test_constraints_keep_infeasible_trials_off_the_front(workdir: Path) -> None:
    cfg = replace(_cfg("constrained", 10, enabled=False),
                  constraints=Constraints(max_params=400, min_accuracy=0.3))
    study = create_or_load(cfg)
    run_study(study, cfg, progress=False)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    infeasible = [t for t in complete if any(v > 0 for v in t.constraints.values())]
    feasible = [t for t in complete if t not in infeasible]
    assert infeasible and feasible, "the space must produce both kinds for this test"
    for t in complete:
        m = t.user_attrs["metrics"]
        assert t.constraints["max_params"] == m["params"] - 400
    front = front_frame(study)
    assert set(front.trial) <= {t.number for t in feasible}
    assert (front.params <= 400).all() and (front.val_accuracy >= 0.3).all()
