"""MLflow logger: one MLflow run per trial, nested under one run of the study.

The experiment is named after the study. The study's run is created once (under the claim lock
of the optimize loop) and its id stored as the study user attribute ``mlflow_run_id``, so
workers and resumes nest their trials under the same one (a store that lacks it gets a new one).
A trial's run (``trial-<n>``, tag ``frontier.trial``) holds the sampled parameters, per-epoch
metrics ``<phase>_loss``, ``<phase>_val_accuracy``, ``<phase>_lr``, ``<phase>_epoch_seconds``
(step: epochs across the trial's phases), the final metrics under their own names, and its
outcome (status FINISHED, KILLED for a stopped trial, FAILED) with the early-stopping reason
as the tag ``frontier.stop_reason``. The study's run holds ``hypervolume`` and ``front_size``
(step: finished trials). :func:`log_front_artifacts` adds the model folders of the front."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from search.errors import describe
from search.keys import RUN_ATTR

if TYPE_CHECKING:
    from search.config import StudyConfig

__all__ = ["TRIAL_TAG", "MlflowLogger", "log_front_artifacts"]

TRIAL_TAG = "frontier.trial"
_STATUS = {"COMPLETE": "FINISHED", "STOPPED": "KILLED", "FAIL": "FAILED"}


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient  # needs the 'mlflow' extra

    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 refuses its file store (maintenance mode) unless this is set; a file URI
        # is what was asked for, and needs no server (sqlite:///x.db works as well)
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=uri)


def study_run(client: Any, study: optuna.Study) -> tuple[str, str]:
    """``(experiment id, study run id)`` in ``client``'s store, created when missing."""
    exp = client.get_experiment_by_name(study.study_name)
    exp_id = exp.experiment_id if exp else client.create_experiment(study.study_name)
    run_id = study.user_attrs.get(RUN_ATTR)
    if run_id:
        try:
            client.get_run(run_id)
            return exp_id, str(run_id)
        except Exception:  # logged elsewhere before: start a new study run here
            pass
    run = client.create_run(exp_id, run_name=study.study_name, tags={"frontier.study": "1"})
    study.set_user_attr(RUN_ATTR, run.info.run_id)
    return exp_id, run.info.run_id


class MlflowLogger:
    """Logs a study's trials to the MLflow store at ``uri`` (see the module docstring)."""

    name = "mlflow"

    def __init__(self, uri: str, study: optuna.Study) -> None:
        from mlflow.entities import Metric, Param

        self._metric, self._param = Metric, Param
        self.client = _client(uri)
        self.experiment, self.parent = study_run(self.client, study)
        self.client.update_run(self.parent, status="RUNNING")  # again, on resume
        self._runs: dict[int, str] = {}

    def _log(self, run_id: str, values: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[self._metric(k, v, now, step)
                                               for k, v in values.items()])

    def trial_start(self, trial: int, params: dict[str, Any]) -> None:
        """Create the trial's run under the study's run, with its parameters."""
        run = self.client.create_run(self.experiment, run_name=f"trial-{trial}", tags={
            "mlflow.parentRunId": self.parent, TRIAL_TAG: str(trial)})
        self._runs[trial] = run.info.run_id
        self.client.log_batch(run.info.run_id,
                              params=[self._param(k, str(v)) for k, v in params.items()])

    def epoch(self, trial: int, phase: str, step: int, values: dict[str, float]) -> None:
        """``<phase>_<name>`` metrics at ``step``."""
        if trial in self._runs:
            self._log(self._runs[trial], {f"{phase}_{k}": v for k, v in values.items()}, step)

    def trial_end(self, trial: int, state: str, params: dict[str, Any],
                  metrics: dict[str, float], stop_reason: str | None) -> None:
        """Final metrics and outcome; ends the trial's run."""
        run_id = self._runs.pop(trial, None)
        if run_id is None:
            return
        if metrics:
            self._log(run_id, metrics, 0)
        self.client.set_tag(run_id, "frontier.state", state)
        if stop_reason:
            self.client.set_tag(run_id, "frontier.stop_reason", stop_reason[:5000])
        self.client.set_terminated(run_id, status=_STATUS.get(state, "FINISHED"))

    def study_update(self, finished: int, hypervolume: float, front_size: int) -> None:
        """The study run's ``hypervolume`` and ``front_size`` at step ``finished``."""
        self._log(self.parent, {"hypervolume": hypervolume, "front_size": float(front_size)},
                  finished)

    def close(self) -> None:
        """End the runs of trials this process did not finish (interrupted), and the study's
        run (a later worker or resume sets it running again)."""
        for run_id in self._runs.values():
            self.client.set_terminated(run_id, status="KILLED")
        self._runs.clear()
        self.client.set_terminated(self.parent, status="FINISHED")


def log_front_artifacts(study: optuna.Study, cfg: StudyConfig, uri: str) -> int:
    """Export each front trial's model folder and log it as the artifact folder ``model`` of
    that trial's MLflow run; returns how many were logged. A failure is a warning, never an
    error (as every logger call)."""
    from search.results.model_folder import export_trial
    from search.results.pareto import front_trials

    logged = 0
    try:
        client = _client(uri)
        experiment, parent = study_run(client, study)
        for t in front_trials(study):
            runs = client.search_runs(
                [experiment], filter_string=f"tags.`{TRIAL_TAG}` = '{t.number}' and "
                f"tags.`mlflow.parentRunId` = '{parent}'", max_results=1)
            if not runs:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / f"trial-{t.number}"
                export_trial(study, t.number, folder, cfg)
                client.log_artifacts(runs[0].info.run_id, str(folder), artifact_path="model")
            logged += 1
    except Exception as err:
        print(f"frontier: warning: mlflow logging failed: {describe(err)}; the "
              "search goes on", file=sys.stderr)
    return logged
