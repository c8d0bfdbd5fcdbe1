"""What fails inside a trial keeps its real reason, and what would fail every trial stops the
study at once; passwords are redacted in every URL form (issue 22's classes 3 and 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from objectives.pipeline import Measured
from search.cli import main
from search.keys import FAIL_REASON
from search.storage.urls import redact
from tests.conftest import tiny_toml


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:pw9@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://:pw9@h/db", "postgresql://:***@h/db"),
    ("postgresql+psycopg://u:pw9@h/db", "postgresql+psycopg://u:***@h/db"),
    ("postgresql+psycopg2://u:pw9@h/db", "postgresql+psycopg2://u:***@h/db"),
    ("mysql+pymysql://u:pw9@h/db", "mysql+pymysql://u:***@h/db"),
    ("postgresql://u:p@w9/x@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u@h/db?password=pw9", "postgresql://u@h/db?password=***"),
    ("postgresql://u@h/db?sslmode=require&password=pw9&x=1",
     "postgresql://u@h/db?sslmode=require&password=***&x=1"),
    ("postgresql://u@h/db?PASSWORD=pw9", "postgresql://u@h/db?PASSWORD=***"),
    ("postgresql://u@h/db?sslpassword=pw9", "postgresql://u@h/db?sslpassword=***"),
    ("host=h user=u password=pw9 dbname=d", "host=h user=u password=*** dbname=d"),
    ("cannot open postgresql://u:pw9@h/db (x) and postgresql://v:pw9@h/db",
     "cannot open postgresql://u:***@h/db (x) and postgresql://v:***@h/db"),
    ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
    ("postgresql://h:5432/db", "postgresql://h:5432/db"),
    ("sqlite:///runs/frontier.db", "sqlite:///runs/frontier.db"),
    ("runs/x.log", "runs/x.log"),
])
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "pw9" not in redact(url)


def _run_failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 capfd: pytest.CaptureFixture[str], n_trials: int = 3) -> tuple[str, list[Any]]:
    """Run a tiny study in ``tmp_path``; return its one error line and its trials."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(tiny_toml("f", n_trials=n_trials, epochs=1))
    assert main(["run", "c.toml", "--quiet"]) == 2
    _, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("frontier: error: "), err
    assert "Traceback" not in err
    study = optuna.load_study(study_name="f", storage="sqlite:///runs/frontier.db")
    return lines[0], study.get_trials()


def test_weights_that_cannot_be_saved_stop_the_study_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    def full_disk(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("search.objective.save_weights", full_disk)
    line, trials = _run_failing(tmp_path, monkeypatch, capfd)
    assert "study.output_dir: trial 0's weights cannot be saved" in line
    assert "OSError: [Errno 28] No space left on device" in line
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert trials[0].user_attrs[FAIL_REASON] == "OSError: [Errno 28] No space left on device"


def test_a_sampler_that_raises_stops_the_study_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("sampler broke")

    monkeypatch.setattr(optuna.samplers.NSGAIISampler, "sample_independent", broken)
    line, trials = _run_failing(tmp_path, monkeypatch, capfd)
    assert "sampler.name: the 'nsga2' sampler failed on trial 0" in line
    assert "RuntimeError: sampler broke" in line
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert trials[0].user_attrs[FAIL_REASON] == "RuntimeError: sampler broke"


def test_a_failure_outside_the_objective_is_stored_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("hook broke")

    monkeypatch.setattr(optuna.samplers.NSGAIISampler, "before_trial", broken)
    line, trials = _run_failing(tmp_path, monkeypatch, capfd)
    assert "RuntimeError: hook broke" in line
    assert [t.state for t in trials] == [TrialState.FAIL]  # not left RUNNING, not "heartbeats"
    assert trials[0].user_attrs[FAIL_REASON] == "RuntimeError: hook broke"


def test_non_finite_objective_values_are_a_stored_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    nan = float("nan")

    def diverged(*args: Any, **kwargs: Any) -> tuple[Measured, None]:
        return Measured(nan, nan, 10, 10, 10, 0.0, 0.0, 0.0, 1), None

    monkeypatch.setattr("search.objective.evaluate", diverged)
    line, trials = _run_failing(tmp_path, monkeypatch, capfd, n_trials=6)
    assert "5 trials failed in a row" in line and "objective val_accuracy is nan" in line
    assert all(t.user_attrs[FAIL_REASON].startswith("ValueError: objective val_accuracy is nan")
               for t in trials)
