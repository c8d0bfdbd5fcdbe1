"""search.tracking: every trial logged to TensorBoard and MLflow, read back with their own
readers; workers; a failing logger never fails a trial."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest

from search import cli
from search.config import StudyConfig, load_config
from search.storage.studies import FINISHED
from search.storage.urls import open_storage
from search.tracking import Logging
from search.tracking.tensorboard import TensorBoardLogger
from tests.conftest import tiny_toml

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)
from tensorboard.plugins.hparams import plugin_data_pb2


def _events(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def _finished(storage: str, name: str = "tiny") -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=open_storage(storage, create=False))
    return study.get_trials(deepcopy=False, states=FINISHED)


def test_logging_section_round_trips_and_is_optional() -> None:
    cfg = StudyConfig(name="t", logging=Logging(tensorboard="runs/tb", mlflow="file:m",
                                                mlflow_artifacts=True))
    data = cfg.to_dict()
    assert data["logging"] == {"tensorboard": "runs/tb", "mlflow": "file:m",
                               "mlflow_artifacts": True}
    assert StudyConfig.from_dict(data) == cfg
    assert cfg.logging.worker_args() == ["--tensorboard", "runs/tb", "--mlflow", "file:m"]
    assert not StudyConfig(name="t").logging.enabled


def test_tensorboard_logs_epochs_hparams_final_and_hypervolume(workdir: Path) -> None:
    Path("s.toml").write_text(tiny_toml(n_trials=3))
    assert cli.main(["run", "s.toml", "--storage", "s.db", "--quiet",
                     "--tensorboard", "tb"]) == 0
    trials = _finished("s.db")
    assert len(trials) == 3
    root = workdir / "tb" / "tiny"
    for t in trials:
        acc = _events(root / f"trial-{t.number}")
        scalars = acc.Tags()["scalars"]
        steps = [e.step for e in acc.Scalars("train/val_accuracy")]
        assert steps == [1, 2]  # every training epoch (budget.epochs = 2)
        assert {"train/loss", "train/lr", "train/epoch_seconds"} <= set(scalars)
        if t.state == optuna.trial.TrialState.COMPLETE:
            final = acc.Scalars("final/val_accuracy")[0].value
            assert final == pytest.approx(t.user_attrs["metrics"]["val_accuracy"], abs=1e-6)
            assert "final/params" in scalars
        content = acc.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_start_info"]).session_start_info
        assert set(t.params) <= set(start.hparams)
        assert "early_stopping/text_summary" in acc.Tags()["tensors"]
    studies = list(root.glob("study-*"))
    assert len(studies) == 1
    hv = _events(studies[0]).Scalars("study/hypervolume")
    assert [e.step for e in hv] == [1, 2, 3]
    assert hv[-1].value >= hv[0].value > 0


def test_mlflow_nests_one_run_per_trial_under_the_study_run(workdir: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"file:{workdir / 'mlruns'}"
    Path("s.toml").write_text(tiny_toml(n_trials=2, extra="") + f"""
[logging]
mlflow = "{uri}"
mlflow_artifacts = true
""")
    assert load_config("s.toml").logging.mlflow == uri
    assert cli.main(["run", "s.toml", "--storage", "s.db", "--quiet"]) == 0
    # a resume nests under the same study run
    assert cli.main(["resume", "--storage", "s.db", "--study", "tiny", "--n-trials", "3",
                     "--quiet"]) == 0
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert "hypervolume" in parent.data.metrics
    children = {int(r.data.tags["frontier.trial"]): r for r in runs
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    trials = _finished("s.db")
    assert sorted(children) == sorted(t.number for t in trials)
    for t in trials:
        run = children[t.number]
        assert run.data.params == {k: str(v) for k, v in t.params.items()}
        history = client.get_metric_history(run.info.run_id, "train_val_accuracy")
        assert [m.step for m in history] == [1, 2]
        assert {"train_loss", "train_lr", "train_epoch_seconds"} <= set(run.data.metrics)
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert run.data.metrics["val_accuracy"] == pytest.approx(
                t.user_attrs["metrics"]["val_accuracy"])
    study = optuna.load_study(study_name="tiny", storage=open_storage("s.db", create=False))
    front = {t.number for t in study.best_trials}
    logged = {n for n, r in children.items()
              if client.list_artifacts(r.info.run_id, "model")}
    assert logged == front and front


def test_workers_log_one_folder_per_trial(workdir: Path) -> None:
    Path("s.toml").write_text(tiny_toml(n_trials=4))
    assert cli.main(["run", "s.toml", "--storage", "s.log", "--workers", "2", "--quiet",
                     "--tensorboard", "tb"]) == 0
    trials = _finished("s.log")
    assert len(trials) == 4
    root = workdir / "tb" / "tiny"
    folders = {p.name for p in root.glob("trial-*")}
    assert {f"trial-{t.number}" for t in trials} <= folders
    for t in trials:
        assert _events(root / f"trial-{t.number}").Scalars("train/val_accuracy")
    steps = sorted(e.step for p in root.glob("study-*")
                   for e in _events(p).Scalars("study/hypervolume"))
    assert steps and max(steps) == 4 and len(list(root.glob("study-*"))) == 2


def test_a_failing_logger_warns_once_and_the_trials_go_on(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(TensorBoardLogger, "epoch", broken)
    Path("s.toml").write_text(tiny_toml(n_trials=2))
    assert cli.main(["run", "s.toml", "--storage", "s.db", "--quiet",
                     "--tensorboard", "tb"]) == 0
    assert len(_finished("s.db")) == 2
    err = capsys.readouterr().err
    assert err.count("frontier: warning: tensorboard logging failed: OSError: disk full; "
                     "the search goes on") == 1
    assert not list((workdir / "tb" / "tiny").glob("study-*"))  # turned off for the process
