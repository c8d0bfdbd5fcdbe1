"""End-to-end: the CLI in subprocesses, as a user runs it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.conftest import ENV, tiny_toml

DB = "sqlite:///runs/frontier.db"


def cli(*args: str, cwd: Path, timeout: float = 300,
        columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m search ARGS`` in ``cwd``; ``columns`` sets the terminal width it sees."""
    env = ENV if columns is None else {**ENV, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_run_ls_pareto_plot(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(tiny_toml("cli", n_trials=4))
    res = cli("run", "s.toml", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "runs" / "cli"
    for name in ("pareto.csv", "pareto.json", "trials.csv", "pareto.html"):
        assert (out / name).stat().st_size > 0
    assert "Traceback" not in res.stderr
    ls = cli("ls", cwd=tmp_path)
    assert ls.returncode == 0
    assert ls.stdout.splitlines()[0].split()[3:6] == ["complete", "stopped", "failed"]
    row = ls.stdout.splitlines()[1].split()
    front = len(pd.read_csv(out / "pareto.csv"))
    assert row[0] == "cli" and row[2] == "4" and row[-1] == str(front)
    (out / "pareto.csv").unlink()
    res = cli("pareto", "--study", "cli", "--out", "again", cwd=tmp_path)
    assert res.returncode == 0 and (tmp_path / "again" / "pareto.csv").exists()
    assert "val_accuracy" in res.stdout
    res = cli("plot", "--study", "cli", "--out", "p.html", cwd=tmp_path)
    assert res.returncode == 0 and (tmp_path / "p.html").stat().st_size > 1_000_000


BUILDER = """
import optuna
from torch import nn


def build(trial: optuna.Trial, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    features = 64
    for _ in range(trial.suggest_int("depth", 1, 2)):
        width = trial.suggest_categorical("width", [4, 8])
        layers += [nn.Linear(features, width), nn.ReLU()]
        features = width
    return nn.Sequential(*layers, nn.Linear(features, num_classes))
"""


def test_the_printed_front_names_a_user_builders_parameters(tmp_path: Path) -> None:
    """``run`` and ``pareto`` print each front trial's objectives, test accuracy and sampled
    parameters: a builder's own (depth, width) and the pruning method it searched."""
    (tmp_path / "net.py").write_text(BUILDER)
    toml = tiny_toml("user", n_trials=3, epochs=1).replace('name = "cnn"', 'model = "net:build"')
    toml = toml.replace("max_depth = 2\nwidths = [4, 8]\n",
                        'prune_method = ["unstructured", "structured"]\n')
    (tmp_path / "s.toml").write_text(toml)
    res = cli("run", "s.toml", cwd=tmp_path, columns=72)
    assert res.returncode == 0, res.stderr
    head = res.stdout.index("trial ")
    printed = res.stdout[head:res.stdout.index("wrote ", head)].splitlines()
    assert printed[0].split() == ["trial", "val_accuracy", "params", "test_accuracy",
                                  "parameters"]
    assert all(len(line) <= 72 for line in printed)
    front = pd.read_csv(tmp_path / "runs" / "user" / "pareto.csv")
    text = " ".join(printed)
    for row in front.itertuples():
        assert f"depth={row.param_depth} width={row.param_width}" in text
        assert f"prune_method={row.param_prune_method}" in text
    wide = cli("pareto", "--study", "user", "--out", "again", cwd=tmp_path, columns=250)
    assert wide.returncode == 0, wide.stderr
    assert wide.stdout.split()[:8] == ["trial", "val_accuracy", "params", "test_accuracy",
                                       "depth", "width", "prune_method", "prune_ratio"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "missing.toml"), "missing.toml: no such config file"),
        (("run", "bad.toml"), "budget.epochs: 0 must be >= 1"),
        (("resume", "--study", "nope"), "does not exist"),
        (("pareto", "--storage", "x.db", "--study", "nope"), "does not exist"),
        (("run", "good.toml", "--n-trials", "0"), "--n-trials: 0 must be >= 1"),
        (("ls", "--storage", "postgresql://u:hunter2@127.0.0.1:1/db"), "cannot open"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path: Path, args: tuple[str, ...],
                                                   message: str) -> None:
    (tmp_path / "bad.toml").write_text(tiny_toml().replace("epochs = 2", "epochs = 0"))
    (tmp_path / "good.toml").write_text(tiny_toml())
    before = sorted(p.name for p in tmp_path.iterdir())
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert "hunter2" not in res.stderr + res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _count(db: Path, state: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return int(con.execute("select count(*) from trials where state=?", (state,))
                       .fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _finished(db: Path) -> int:
    return _count(db, "COMPLETE")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupt_then_resume_reaches_exactly_n(tmp_path: Path, sig: signal.Signals) -> None:
    # 8 trials: room for a slow poll to catch a running trial before the study ends
    (tmp_path / "s.toml").write_text(tiny_toml("kill", n_trials=8, epochs=12))
    proc = subprocess.Popen([sys.executable, "-m", "search", "run", "s.toml", "--quiet"],
                            cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    db = tmp_path / "runs" / "frontier.db"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if _finished(db) >= 2 and _count(db, "RUNNING") == 1:
            time.sleep(0.1)  # well inside the trial (each takes ~0.5 s)
            if _count(db, "RUNNING") == 1:
                break
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    interrupted_at = _finished(db)
    assert 2 <= interrupted_at < 8
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "frontier resume --storage sqlite:///runs/frontier.db --study kill" in err
    res = cli("resume", "--study", "kill", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="kill", storage=f"sqlite:///{db}")
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 8
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert (tmp_path / "runs" / "kill" / "pareto.csv").exists()
    if sig == signal.SIGKILL:  # the dead worker's trial is failed with a reason and retried
        (dead,) = study.get_trials(states=(TrialState.FAIL,))
        assert "died while running this trial" in dead.user_attrs["fail_reason"]
        (retry,) = [t for t in complete if t.user_attrs.get("retry_of") == dead.number]
        # killed after its candidate was drawn: the retry replays it; killed before (the trial
        # RUNNING, not yet sampled, as on a slow machine): nothing to replay
        assert retry.params == dead.params or not dead.params


def test_log_modes(tmp_path: Path) -> None:
    import json

    (tmp_path / "s.toml").write_text(tiny_toml("logs", n_trials=2))
    res = cli("run", "s.toml", "--log", "jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["done", "outputs"]
    trials = [e for e in events if e["event"] == "trial"]
    assert [e["trial"] for e in trials] == [0, 1]
    assert all(e["state"] == "complete" and e["metrics"]["params"] > 0 for e in trials)
    epochs = [e for e in events if e["event"] == "epoch" and e["trial"] == 0]
    assert epochs[0]["done"] == 1 and epochs[-1]["done"] == epochs[-1]["total"] >= 2
    assert {e["phase"] for e in epochs} >= {"train"}
    assert "pareto_csv" in events[-1]["files"]

    res = cli("run", "s.toml", "--n-trials", "3", "--quiet", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == ""
    res = cli("run", "s.toml", "--n-trials", "4", cwd=tmp_path)
    assert res.returncode == 0
    assert "trial 3 train" in res.stderr and "logs: 100%" in res.stderr  # epoch and trial bars


# --- read-only commands need only the storage -------------------------------------------------

SOURCE = """
import numpy as np


def load():
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = rng.random((90, 1, 8, 8), dtype=np.float32)
    x[np.arange(90), 0, 2 * y, :] = 1.0  # a class-dependent bright row: learnable
    return x, y
"""


@pytest.mark.parametrize("kind", ["data_dir", "source"])
def test_read_only_commands_work_without_the_data(tmp_path: Path, kind: str) -> None:
    """A study runs with its data; the data folder (or the user's data module) goes away;
    ls, pareto, plot, report and export still work from another folder; resume and
    export --int8 say in one line what is missing."""
    import json

    import torch

    from search.results.model_folder import FILES, load, load_program
    from tests.objectives.data.test_datasets import write_mnist

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    if kind == "data_dir":
        write_mnist(project / "data", "MNIST", gz=True)
        dataset = f'[dataset]\nname = "mnist"\ndata_dir = "{project / "data"}"\n'
        there, shape = project / "data", {"input_shape": [1, 28, 28], "num_classes": 10}
    else:
        (project / "my_data.py").write_text(SOURCE)
        dataset = '[dataset]\nsource = "my_data.py:load"\n'
        there, shape = project / "my_data.py", {"input_shape": [1, 8, 8], "num_classes": 3}
    toml = tiny_toml("away", n_trials=2, epochs=1).replace("[space]", f"{dataset}\n[space]")
    (project / "s.toml").write_text(toml)
    assert cli("run", "s.toml", "--quiet", cwd=project).returncode == 0
    db = str(project / "runs" / "frontier.db")
    study = optuna.load_study(study_name="away", storage=f"sqlite:///{db}")
    assert study.user_attrs["data_shape"] == shape  # recorded once, when the study ran
    trial = next(t for t in study.trials if t.state == TrialState.COMPLETE)
    there.rename(there.with_name(there.name + ".moved"))

    def frontier(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, "--storage", db, cwd=elsewhere)

    for args in (["ls", "--study", "away"], ["pareto", "--study", "away", "--out", "tables"],
                 ["plot", "--study", "away", "--out", "p.html"],
                 ["report", "--study", "away", "--out", "r.html"]):
        res = frontier(*args)
        assert res.returncode == 0 and "frontier:" not in res.stderr, (args, res.stderr)
    assert (elsewhere / "tables" / "pareto.csv").exists() and (elsewhere / "r.html").exists()

    res = frontier("export", "--study", "away", "--trial", str(trial.number), "--out", "m")
    assert res.returncode == 0, res.stderr
    lines = res.stderr.strip().splitlines()  # one line, not an error: the folder is complete
    assert len(lines) == 1 and "test accuracy not re-checked" in lines[0], res.stderr
    assert str(there) in lines[0] and "error" not in lines[0]
    folder = elsewhere / "m"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    meta = json.loads((folder / "model.json").read_text())
    assert {k: meta[k] for k in shape} == shape
    x = torch.rand(3, *shape["input_shape"])
    with torch.no_grad():  # the program runs any batch size, as the rebuilt model does
        assert torch.allclose(load_program(folder).module()(x), load(folder)(x), atol=1e-5)

    for args, message in (
            (["export", "--study", "away", "--trial", str(trial.number), "--out", "m8",
              "--int8"], "--int8: calibration needs the training split"),
            (["resume", "--study", "away"], f"dataset.{kind}: {there}")):
        res = frontier(*args)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, (args, res.stderr)
        assert lines[0].startswith("frontier: error: ") and message in lines[0], lines[0]
        assert str(there) in lines[0]
    assert not (elsewhere / "m8").exists()
