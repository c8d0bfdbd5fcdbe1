"""Bad input through the CLI: one line naming the field and the fix, exit 2, nothing written."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from search.cli import main
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


#: CASES run as real processes (python -m search ...), so an uncaught exception's traceback or a
#: stray print would show as the user sees it; the others go through the same code in-process
#: (search.cli.main), which is ~2 s faster per case (no torch import).
SUBPROCESS = {"missing file", "malformed toml", "bits < 2", "changed space",
              "unreachable storage", "missing study", "wrong password"}


def test_there_are_at_least_20_cases() -> None:
    assert len(CASES) >= 20 and {c[0] for c in CASES} >= SUBPROCESS


@pytest.mark.parametrize(("name", "argv", "config", "message"),
                         [c for c in CASES if c[0] in SUBPROCESS],
                         ids=[c[0] for c in CASES if c[0] in SUBPROCESS])
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


# --- In process: search.cli.main(argv) in a copy of the template folder (no torch import per case)

def _fifo(name: str) -> Callable[[Path], None]:
    return lambda work: os.mkfifo(work / name)


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    return setup


def _journal(name: str, cut: int) -> Callable[[Path], None]:
    """A real journal of one study, less its last ``cut`` bytes."""
    def setup(work: Path) -> None:
        path = work / name
        storage = JournalStorage(JournalFileBackend(str(path)))
        optuna.create_study(study_name="j", storage=storage).optimize(
            lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        path.write_bytes(path.read_bytes()[:-cut])
        for extra in work.glob(f"{name}.*"):  # the backend's lock file
            extra.unlink()
    return setup


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda work: (work / name).mkdir()


PG = "127.0.0.1:1/db"
RUN = ["run", "c.toml"]
# (name, argv, config or None, expected part of the message, setup of the folder or None)
INPROC: list[tuple[str, list[str], str | None, str, Callable[[Path], None] | None]] = [
    # 1. files and folders
    ("config is a directory", ["run", "cdir"], None, "cdir: is a directory", _mkdir("cdir")),
    ("config is a fifo", ["run", "c.fifo"], None, "is not a regular file", _fifo("c.fifo")),
    ("config is /dev/zero", ["run", "/dev/zero"], None, "/dev/zero: is not a regular file", None),
    ("config not utf-8", ["run", "bad.toml"], None, "bad.toml: not UTF-8 text",
     _write("bad.toml", b"[study]\nname = '\xff\xfe'\n")),
    ("output_dir is a file", RUN, _edit("seed = 0", "seed = 0\noutput_dir = 'good.toml'"),
     "study.output_dir: good.toml is a file", None),
    ("output_dir under a file", RUN, _edit("seed = 0", "seed = 0\noutput_dir = 'good.toml/o'"),
     "study.output_dir: good.toml is a file, so", None),
    ("output_dir under /proc", RUN, _edit("seed = 0", "seed = 0\noutput_dir = '/proc/fr/o'"),
     "study.output_dir: /proc is not writable", None),
    ("output_dir under /sys", RUN, _edit("seed = 0", "seed = 0\noutput_dir = '/sys/fr'"),
     "study.output_dir: /sys is not writable", None),
    ("default output folder is a file", RUN, _edit('name = "existing"', 'name = "blocked"'),
     "runs/blocked is a file", _write("runs/blocked", b"x")),
    ("run --out is a file", [*RUN, "--out", "good.toml"], GOOD, "--out: good.toml is a file",
     None),
    ("run --out under a file", [*RUN, "--out", "good.toml/o"], GOOD,
     "--out: good.toml is a file, so", None),
    ("teacher cache under a file", RUN,
     GOOD + "\n[distill]\nteacher = 'cnn-large'\ncache_dir = 'good.toml/t'\n",
     "distill.cache_dir: good.toml is a file", None),
    ("storage under a file", [*RUN, "--storage", "good.toml/x.db"], GOOD,
     "storage: good.toml is a file, so", None),
    ("storage under /proc", [*RUN, "--storage", "/proc/fr/x.db"], GOOD,
     "storage: cannot create the folder of /proc/fr/x.db", None),
    ("storage is a fifo", ["ls", "--storage", "s.db"], None, "s.db is not a regular file",
     _fifo("s.db")),
    ("storage is /dev/zero", ["ls", "--storage", "/dev/zero"], None, "is not a regular file",
     None),
    ("storage not sqlite", ["ls", "--storage", "good.toml"], None,
     "good.toml is not an SQLite file", None),
    ("run on a non-sqlite storage", [*RUN, "--storage", "good.toml"], GOOD,
     "good.toml is not an SQLite file", None),
    ("journal garbage", ["ls", "--storage", "g.log"], None, "g.log line 1 is not UTF-8 JSON",
     _write("g.log", b"hello world\n")),
    ("journal not utf-8", ["ls", "--storage", "g.log"], None, "g.log line 2 is not UTF-8 JSON",
     _write("g.log", b'{"op_code": 0, "worker_id": "w", "study_name": "s", '
            b'"directions": [1]}\n\xff\xfe\n')),
    ("journal not an entry", ["ls", "--storage", "g.log"], None,
     "g.log line 1 is not an Optuna journal entry", _write("g.log", b"[1, 2]\n")),
    ("journal entry missing keys", ["ls", "--storage", "g.log"], None,
     "g.log is not a readable Optuna journal (KeyError", _write("g.log", b'{"op_code": 0}\n')),
    ("journal cut short", ["ls", "--storage", "j.log"], None, "j.log line", _journal("j.log", 7)),
    ("run on a cut journal", [*RUN, "--storage", "j.log"], GOOD, "is cut short",
     _journal("j.log", 7)),
    ("resume on a garbage journal", ["resume", "--storage", "g.log", "--study", "x"], None,
     "g.log line 1", _write("g.log", b"garbage\n")),
    # 5. read-only commands write nothing into an empty or foreign file
    ("ls on an empty file", ["ls", "--storage", "empty.db"], None,
     "empty.db is an empty file", _write("empty.db", b"")),
    ("pareto on an empty file", ["pareto", "--storage", "empty.db", "--study", "existing"], None,
     "empty.db is an empty file", _write("empty.db", b"")),
    ("resume on an empty file", ["resume", "--storage", "empty.db", "--study", "existing"], None,
     "empty.db is an empty file", _write("empty.db", b"")),
    ("export from an empty file",
     ["export", "--storage", "empty.db", "--study", "existing", "--trial", "0", "--out", "m"],
     None, "empty.db is an empty file", _write("empty.db", b"")),
    # 2. every value is checked when the file is loaded
    ("lr inf", RUN, _edit("max_depth = 2", "max_depth = 2\nlr = inf"),
     "space.lr: inf is not a finite number", None),
    ("lr nan", RUN, _edit("max_depth = 2", "max_depth = 2\nlr = nan"),
     "space.lr: nan is not a finite number", None),
    ("lr range to inf", RUN, _edit("max_depth = 2", "max_depth = 2\nlr = {low = 0.1, high = inf}"),
     "space.lr.high: inf is not a finite number", None),
    ("prune ratio choice nan", RUN,
     _edit("prune_ratio = { low = 0.0, high = 0.8 }", "prune_ratio = [0.1, nan]"),
     "space.prune_ratio: nan is not a finite number", None),
    ("finetune_lr_scale inf", RUN, _edit("latency_reps = 2", "latency_reps = 2\n"
                                         "finetune_lr_scale = inf"),
     "budget.finetune_lr_scale: inf is not a finite number", None),
    ("finetune_tolerance nan", RUN, _edit("latency_reps = 2", "latency_reps = 2\n"
                                          "finetune_tolerance = nan"),
     "budget.finetune_tolerance: nan is not a finite number", None),
    ("val_fraction -inf", RUN, GOOD + "\n[dataset]\nval_fraction = -inf\n",
     "dataset.val_fraction: -inf is not a finite number", None),
    ("min_accuracy nan", RUN, GOOD + "\n[constraints]\nmin_accuracy = nan\n",
     "constraints.min_accuracy: nan is not a finite number", None),
    ("size_slack inf", RUN, GOOD + "\n[early_stopping]\nsize_slack = inf\n",
     "early_stopping.size_slack: inf is not a finite number", None),
    ("seed 2**40", RUN, _edit("seed = 0", "seed = 1099511627776"),
     "study.seed: 1099511627776 is out of range", None),
    ("seed -1", RUN, _edit("seed = 0", "seed = -1"), "study.seed: -1 is out of range", None),
    ("sampler seed 2**40", RUN, _edit("population_size = 4", "population_size = 4\n"
                                      "seed = 1099511627776"),
     "sampler.seed: 1099511627776 is out of range", None),
    ("split seed -5", RUN, GOOD + "\n[dataset]\nsplit_seed = -5\n",
     "dataset.split_seed: -5 is out of range", None),
    ("name too long", RUN, _edit('name = "existing"', f'name = "{"n" * 101}"'),
     "study.name: 101 characters is too long", None),
    ("absurd n_trials", RUN, _edit("n_trials = 1", "n_trials = 1000000000000"),
     "study.n_trials: 1000000000000 is absurdly large", None),
    ("absurd epochs", RUN, _edit("epochs = 2", "epochs = 1000000000"),
     "budget.epochs: 1000000000 is absurdly large", None),
    ("log flag not a boolean", RUN,
     _edit("max_depth = 2", "max_depth = 2\nlr = {low = 0.01, high = 0.1, log = 'yes'}"),
     "space.lr: 'log' must be true or false", None),
    # 4. no password in any URL form reaches the error line
    ("password of an empty user", ["ls", "--storage", f"postgresql://:pw9@{PG}"], None,
     f"cannot open postgresql://:***@{PG}", None),
    ("password in the query", ["ls", "--storage", f"postgresql://u@{PG}?password=pw9"], None,
     "password=***", None),
    ("password after another parameter",
     ["ls", "--storage", f"postgresql://u@{PG}?sslmode=disable&password=pw9"], None,
     "&password=***", None),
    ("password with a driver", ["ls", "--storage", f"postgresql+psycopg://u:pw9@{PG}"], None,
     f"postgresql+psycopg://u:***@{PG}", None),
    ("password holding @ and /", ["ls", "--storage", f"postgresql://u:a/pw9@x@{PG}"], None,
     f"postgresql://u:***@{PG}", None),
    ("mysql password", [*RUN, "--storage", f"mysql+pymysql://u:pw9@{PG}"], GOOD,
     f"mysql+pymysql://u:***@{PG}", None),
    ("password in an unknown scheme", ["ls", "--storage", "ftp://u:pw9@host/x"], None,
     "ftp://u:***@host/x", None),
]


def test_there_are_at_least_60_cases() -> None:
    assert len(CASES) + len(INPROC) >= 60


@pytest.mark.parametrize(("name", "argv", "config", "message", "setup"),
                         INPROC + [(*c, None) for c in CASES if c[0] not in SUBPROCESS],
                         ids=[c[0] for c in INPROC] + [c[0] for c in CASES
                                                       if c[0] not in SUBPROCESS])
def test_bad_input_in_process(name: str, argv: list[str], config: str | None, message: str,
                              setup: Callable[[Path], None] | None, template: Path,
                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capfd: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "w"
    shutil.copytree(template, work)
    monkeypatch.chdir(work)
    if setup is not None:
        setup(work)
    if config is not None:
        (work / "c.toml").write_text(config)
    before = _snapshot(work)
    assert main(argv) == 2
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("frontier: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    assert "pw9" not in err
    gc.collect()  # close this process's SQLite connections (their -wal/-shm files go with them)
    assert _snapshot(work) == before, "a file was created or changed"
