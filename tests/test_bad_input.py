"""Bad input through the CLI: one line naming the field and the fix, exit 2, nothing written."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import ENV, tiny_toml

GOOD = tiny_toml("existing", n_trials=1)


def _edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


# (name, argv, config text written to c.toml or None, expected part of the message)
CASES = [
    ("missing file", ["run", "missing.toml"], None, "missing.toml: no such config file"),
    ("malformed toml", ["run", "c.toml"], "[study\nname =", "not valid TOML"),
    ("unknown key", ["run", "c.toml"], _edit("seed = 0", "seed = 0\ncolour = 'red'"),
     "study.colour is not a known option"),
    ("unknown section", ["run", "c.toml"], GOOD + "\n[extra]\na = 1\n", "unknown section [extra]"),
    ("wrong type", ["run", "c.toml"], _edit("n_trials = 1", "n_trials = 'ten'"),
     "study.n_trials must be an integer"),
    ("bits < 2", ["run", "c.toml"], _edit("bits = [4, 32]", "bits = [1, 4]"),
     "space.bits: 1 is out of range"),
    ("prune ratio >= 1", ["run", "c.toml"], _edit("high = 0.8", "high = 1.0"),
     "space.prune_ratio: 1.0 is out of range"),
    ("empty widths", ["run", "c.toml"], _edit("widths = [4, 8]", "widths = []"),
     "space.widths: the list of choices is empty"),
    ("depth 0", ["run", "c.toml"], _edit("max_depth = 2", "max_depth = 0"),
     "space.max_depth: expected an integer >= 1"),
    ("unknown space", ["run", "c.toml"], _edit('name = "cnn"', 'name = "vit"'),
     "space.name: unknown space 'vit'"),
    ("unknown dataset", ["run", "c.toml"], GOOD + "\n[dataset]\nname = 'imagenet'\n",
     "dataset.name: unknown dataset 'imagenet'"),
    ("unknown sampler", ["run", "c.toml"], _edit('name = "nsga2"', 'name = "magic"'),
     "sampler.name: unknown sampler 'magic'"),
    ("missing dataset dir", ["run", "c.toml"],
     GOOD + "\n[dataset]\ndata_dir = '/no/such/dir'\n", "dataset.data_dir: /no/such/dir is not"),
    ("zero epochs", ["run", "c.toml"], _edit("epochs = 2", "epochs = 0"),
     "budget.epochs: 0 must be >= 1"),
    ("batch size 1", ["run", "c.toml"],
     _edit("latency_reps = 2", "latency_reps = 2\nbatch_size = 1"),
     "budget.batch_size: 1 must be >= 2"),
    ("test accuracy objective", ["run", "c.toml"],
     _edit("seed = 0", "seed = 0\nobjectives = ['test_accuracy', 'params']"),
     "unknown objective 'test_accuracy'"),
    ("unknown device", ["run", "c.toml"], _edit("seed = 0", "seed = 0\ndevice = 'tpu'"),
     "study.device: 'tpu' is not a device"),
    ("changed objectives", ["run", "c.toml"],
     _edit("seed = 0", "seed = 0\nobjectives = ['val_accuracy', 'size_bytes']"),
     "study.objectives: study 'existing'"),
    ("changed space", ["run", "c.toml"], _edit("max_depth = 2", "max_depth = 3"),
     "space.max_depth: study 'existing'"),
    ("n-trials 0", ["run", "c.toml", "--n-trials", "0"], GOOD, "--n-trials: 0 must be >= 1"),
    ("workers on sqlite", ["run", "c.toml", "--workers", "2"], GOOD, "--workers: sqlite:///"),
    ("unreachable storage", ["run", "c.toml", "--storage", "postgresql://u:pw9@127.0.0.1:1/db"],
     GOOD, "storage: cannot open postgresql://u:***@127.0.0.1:1/db"),
    ("unknown storage scheme", ["ls", "--storage", "ftp://host/x"], None, "is not a storage URL"),
    ("storage is a directory", ["ls", "--storage", "runs"], None, "runs is a directory"),
    ("missing storage file", ["resume", "--storage", "none.db", "--study", "existing"], None,
     "sqlite:///none.db does not exist"),
    ("missing study", ["resume", "--study", "ghost"], None, "no study named 'ghost'"),
    ("worker for missing study", ["worker", "--storage", "runs/frontier.db", "--study", "ghost"],
     None, "no study named 'ghost'"),
    ("wrong password", ["ls", "--storage", "PG_WRONG"], None, "cannot open postgresql://"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one finished study 'existing' in runs/frontier.db."""
    root = tmp_path_factory.mktemp("template")
    (root / "good.toml").write_text(GOOD)
    res = subprocess.run([sys.executable, "-m", "search", "run", "good.toml", "--quiet"],
                         cwd=root, env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_there_are_at_least_20_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(("name", "argv", "config", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(name: str, argv: list[str], config: str | None, message: str, template: Path,
                   tmp_path: Path, request: pytest.FixtureRequest) -> None:
    work = tmp_path / "w"
    shutil.copytree(template, work)
    secret = "pw9"
    if "PG_WRONG" in argv:
        url: str = request.getfixturevalue("postgres_url")
        user, rest = url.split("://", 1)[1].split(":", 1)
        secret = "not-the-password"
        wrong = f"postgresql://{user}:{secret}@{rest.split('@', 1)[1]}"
        argv = [wrong if a == "PG_WRONG" else a for a in argv]
        studies_before = optuna.get_all_study_names(url)
    if config is not None:
        (work / "c.toml").write_text(config)
    before = _snapshot(work)
    res = subprocess.run([sys.executable, "-m", "search", *argv], cwd=work, env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("frontier: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert secret not in res.stderr
    assert _snapshot(work) == before, "a file was created or changed"
    if "PG_WRONG" in request.node.callspec.params["argv"]:
        assert optuna.get_all_study_names(url) == studies_before
