"""The command line under bad flags, stored paths, planted symlinks and killed workers (issue 22):
one error line naming the flag or path, exit 2, nothing written; passwords never on a worker's
command line; a run whose worker was killed still ends with its outputs."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

import search.cli_commands
import search.storage.workers
from search.cli import main
from search.keys import CONFIG_ATTR
from search.storage.urls import open_storage
from search.storage.workers import MLFLOW_ENV, STORAGE_ENV, WorkerExit, run_worker_processes
from tests.conftest import ENV, tiny_toml

SECRET = "s3cr3t-pw"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder holding one finished study 's' (3 trials) in runs/frontier.db."""
    root = tmp_path_factory.mktemp("template")
    (root / "s.toml").write_text(tiny_toml("s", n_trials=3))
    res = subprocess.run([sys.executable, "-m", "search", "run", "s.toml", "--quiet"], cwd=root,
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr  # a process of its own closes the SQLite file
    yield root


@pytest.fixture
def work(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the template as the current folder."""
    work = tmp_path / "w"
    shutil.copytree(template, work)
    monkeypatch.chdir(work)
    return work


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _refused(argv: list[str], field: str, root: Path, capfd: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``: exit 2, one error line naming ``field``, nothing printed or written."""
    capfd.readouterr()
    gc.collect()
    before = _snapshot(root)
    folders = sorted(str(p) for p in root.rglob("*") if p.is_dir())
    assert main(argv) == 2
    gc.collect()  # closes SQLite connections: an open one keeps its -wal and -shm files
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"frontier: error: {field}"), lines[0]
    assert "Traceback" not in err and out == ""
    assert _snapshot(root) == before, "a file was created or changed"
    assert sorted(str(p) for p in root.rglob("*") if p.is_dir()) == folders
    return lines[0]


NO_BROWSER = "BROWSER_PATH: /nonexistent is not an executable file"

# (name, argv, field the line starts with, BROWSER_PATH=/nonexistent)
CASES = [
    ("report png, no browser", ["report", "--study", "s", "--png", "figs"], "BROWSER_PATH", True),
    ("report svg, no browser", ["report", "--study", "s", "--out", "r.html", "--svg", "figs"],
     "BROWSER_PATH", True),
    ("report screenshot, no browser", ["report", "--study", "s", "--screenshot", "shot.png"],
     "BROWSER_PATH", True),
    ("report screenshot suffix", ["report", "--study", "s", "--screenshot", "shot.jpg"],
     "--screenshot", False),
    ("report png folder is a file", ["report", "--study", "s", "--png", "s.toml"], "--png",
     False),
    ("plot png, no browser", ["plot", "--study", "s", "--png", "p.png"], "BROWSER_PATH", True),
    ("plot gif", ["plot", "--study", "s", "--out", "p.html", "--png", "out.gif"], "--png", False),
    ("plot svg suffix", ["plot", "--study", "s", "--svg", "p.png"], "--svg", False),
    ("plot out is a folder", ["plot", "--study", "s", "--out", "runs"], "--out", False),
    ("plot out under a file", ["plot", "--study", "s", "--out", "s.toml/p.html"], "--out", False),
    ("pareto out is a file", ["pareto", "--study", "s", "--out", "s.toml"], "--out", False),
    ("ls ghost", ["ls", "--study", "ghost"], "--study", False),
    ("threads -1", ["worker", "--study", "s", "--threads", "-1"], "--threads", False),
    ("threads 0", ["worker", "--study", "s", "--threads", "0"], "--threads", False),
    ("workers 0", ["run", "s.toml", "--workers", "0"], "--workers", False),
    ("workers -2", ["run", "s.toml", "--storage", "j.log", "--workers", "-2"], "--workers",
     False),
    ("run out is a file", ["run", "s.toml", "--out", "s.toml"], "--out", False),
    ("run tensorboard is a file", ["run", "s.toml", "--tensorboard", "s.toml"], "--tensorboard",
     False),
    ("resume n-trials -1", ["resume", "--study", "s", "--n-trials", "-1"], "--n-trials", False),
    ("export trial -1", ["export", "--study", "s", "--trial", "-1", "--out", "m"], "--trial",
     False),
    ("export out is a file", ["export", "--study", "s", "--trial", "0", "--out", "s.toml"],
     "--out", False),
    ("dashboard port", ["dashboard", "--port", "0"], "--port", False),
]


@pytest.mark.parametrize(("name", "argv", "field", "no_browser"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_flag_is_one_line_and_writes_nothing(
        name: str, argv: list[str], field: str, no_browser: bool, work: Path,
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    if no_browser:
        monkeypatch.setenv("BROWSER_PATH", "/nonexistent")
    line = _refused(argv, field, work, capfd)
    if no_browser:
        assert NO_BROWSER in line


def _store_output_dir(value: str) -> None:
    storage = open_storage("runs/frontier.db", create=False)
    study = optuna.load_study(study_name="s", storage=storage)
    cfg = study.user_attrs[CONFIG_ATTR]
    cfg["study"]["output_dir"] = value
    study.set_user_attr(CONFIG_ATTR, cfg)


@pytest.mark.parametrize("command", ["pareto", "plot", "report", "resume"])
def test_a_stored_output_dir_outside_is_refused_without_out(
        command: str, work: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere"
    for stored in (str(outside), "../up"):
        _store_output_dir(stored)
        line = _refused([command, "--study", "s"], "output_dir", work, capfd)
        assert "pass --out" in line
        assert not outside.exists() and not (tmp_path / "up").exists()
    if command == "resume":
        return
    out = "front" if command == "pareto" else f"front/{command}.html"
    assert main([command, "--study", "s", "--out", out]) == 0
    assert (work / "front" / ("pareto.csv" if command == "pareto" else f"{command}.html")
            ).is_file()
    assert not outside.exists() and not (tmp_path / "up").exists()


@pytest.mark.parametrize(("argv", "name"), [
    (["pareto", "--study", "s", "--out", "front"], "pareto.csv"),
    (["pareto", "--study", "s", "--out", "front"], "pareto.html"),
    (["plot", "--study", "s", "--out", "front/plot.html"], "plot.html"),
    (["report", "--study", "s", "--out", "front/report.html"], "report.html"),
])
def test_a_planted_symlink_is_replaced_not_written_through(
        argv: list[str], name: str, work: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (work / "front").mkdir()
    (work / "front" / name).symlink_to(target)
    assert main(argv) == 0
    assert target.read_text() == "keep me\n"
    written = work / "front" / name
    assert not written.is_symlink() and written.is_file() and written.stat().st_size > 100


def test_report_prints_no_library_warnings(work: Path) -> None:
    """A subprocess: in-process, pytest would catch the warnings before the terminal."""
    env = {k: v for k, v in ENV.items() if k != "PYTHONWARNINGS"}
    res = subprocess.run([sys.executable, "-m", "search", "report", "--study", "s"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr  # 3 trials: PED-ANOVA warns about its regimes
    assert res.stderr == "" and res.stdout.strip() == "wrote runs/s/report.html"


class _FakeProcess:
    """What subprocess.Popen returns, for a worker that exits at once."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv, self.env, self.pid, self.returncode = argv, env, 4242, 0

    def poll(self) -> int:
        return 0

    def wait(self) -> int:
        return 0


def test_no_password_on_a_worker_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[_FakeProcess] = []

    def popen(argv: list[str], env: dict[str, str] | None = None) -> _FakeProcess:
        started.append(_FakeProcess(argv, env))
        return started[-1]

    monkeypatch.setattr(search.storage.workers.subprocess, "Popen", popen)
    study = optuna.create_study(study_name="pw")
    url = f"postgresql://frontier:{SECRET}@db.example:5432/frontier"
    mlflow = f"postgresql://mlflow:{SECRET}@db.example/mlflow"
    exits = run_worker_processes(study, url, 2, 4, progress=False, extra_env={MLFLOW_ENV: mlflow})
    assert exits == [WorkerExit(1, 4242, 0), WorkerExit(2, 4242, 0)]
    assert len(started) == 2
    for p in started:
        assert not [a for a in p.argv if SECRET in a], p.argv
        assert "--storage" not in p.argv and p.argv[3:6] == ["worker", "--study", "pw"]
        assert p.env is not None
        assert p.env[STORAGE_ENV] == url and p.env[MLFLOW_ENV] == mlflow


def test_worker_reads_the_storage_from_the_environment(
        work: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(STORAGE_ENV, "runs/frontier.db")
    capfd.readouterr()
    assert main(["worker", "--study", "s"]) == 0
    assert "holds 3 finished trials" in capfd.readouterr().out
    monkeypatch.setenv(STORAGE_ENV, "runs/none.db")
    assert "runs/none.db" in _refused(["worker", "--study", "s"], "storage", work, capfd)
    assert main(["worker", "--storage", "runs/frontier.db", "--study", "s"]) == 0  # flag wins


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_when_every_worker_was_killed_the_run_finishes_the_study(
        workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """Both workers die (one mid-trial) before any trial finished: the parent runs the rest,
    writes the outputs and says what happened."""

    def killed(study: optuna.Study, *_: Any, **__: Any) -> list[WorkerExit]:
        pids = [_dead_pid(), _dead_pid()]
        trial = study.ask()
        trial.set_user_attr("worker", f"{socket.gethostname()}:{pids[0]}")
        return [WorkerExit(1, pids[0], -signal.SIGKILL), WorkerExit(2, pids[1], -signal.SIGKILL)]

    monkeypatch.setattr(search.cli_commands, "run_worker_processes", killed)
    Path("s.toml").write_text(tiny_toml("k", n_trials=2))
    capfd.readouterr()
    assert main(["run", "s.toml", "--storage", "runs/k.log", "--workers", "2", "--quiet"]) == 0
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert lines[0].startswith("frontier: warning: worker 1 (pid ") and lines[0].endswith(
        "died (killed by signal 9, SIGKILL); its trial 0 was retried as trial 1")
    assert lines[1].endswith("died (killed by signal 9, SIGKILL); it was running no trial")
    assert lines[2] == ("frontier: warning: 0 of 2 trials finished; this process runs the "
                        "rest")
    assert len(lines) == 3 and "Traceback" not in err
    study = optuna.load_study(study_name="k", storage=open_storage("runs/k.log", create=False))
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 2
    assert study.trials[0].state == TrialState.FAIL
    assert (workdir / "runs" / "k" / "pareto.csv").is_file()
    assert "wrote runs/k/pareto.csv" in out


def test_a_worker_killed_mid_trial_under_run_workers(tmp_path: Path) -> None:
    """``run --workers 2`` with one worker ``kill -9``ed during a trial: its trial is retried,
    the study ends on exactly its target, the outputs are written, one warning line."""
    (tmp_path / "s.toml").write_text(tiny_toml("k", n_trials=4, epochs=30))
    run = subprocess.Popen([sys.executable, "-m", "search", "run", "s.toml", "--storage",
                            "runs/k.log", "--workers", "2", "--quiet"], cwd=tmp_path, env=ENV,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "runs" / "k.log"
    host = f"{socket.gethostname()}:"
    victim = None
    deadline = time.time() + 120
    while victim is None and time.time() < deadline and run.poll() is None:
        time.sleep(0.05)
        try:
            study = optuna.load_study(study_name="k", storage=open_storage(str(log), create=False))
        except Exception:  # not created yet
            continue
        trials = study.get_trials(deepcopy=False)
        for t in trials:
            owner = str(t.user_attrs.get("worker", ""))
            if t.state == TrialState.RUNNING and "spec" in t.user_attrs and \
                    owner.startswith(host) and int(owner.rsplit(":", 1)[1]) != run.pid:
                victim = (int(owner.rsplit(":", 1)[1]), t.number)
                os.kill(victim[0], signal.SIGKILL)
                break
    out, err = run.communicate(timeout=300)
    assert victim is not None, "no worker ran a trial"
    assert run.returncode == 0, err
    pid, number = victim
    study = optuna.load_study(study_name="k", storage=open_storage(str(log), create=False))
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 4
    assert study.trials[number].state == TrialState.FAIL
    retry = [t for t in study.trials if t.user_attrs.get("retry_of") == number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert err.strip().splitlines()[-1].endswith(
        f"(pid {pid}) died (killed by signal 9, SIGKILL); its trial {number} was retried as "
        f"trial {retry[0].number}"), err
    assert err.count("frontier: ") == 1 and "error" not in err
    assert (tmp_path / "runs" / "k" / "pareto.csv").is_file() and "pareto.csv" in out
