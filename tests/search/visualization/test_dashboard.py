"""``frontier dashboard``: optuna-dashboard on the study storage (loopback only)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from search.cli import main
from tests.conftest import ENV


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dashboard_serves_the_studies_of_the_storage(tmp_path: Path) -> None:
    if importlib.util.find_spec("optuna_dashboard") is None:
        if os.environ.get("CI"):
            pytest.fail("optuna-dashboard is missing: `make install` installs the dashboard extra")
        pytest.skip("optuna-dashboard is not installed (pip install -e '.[dashboard]')")
    db = tmp_path / "d.db"
    study = optuna.create_study(study_name="dash", storage=f"sqlite:///{db}",
                                directions=["maximize", "minimize"])
    study.add_trial(optuna.trial.create_trial(values=[0.5, 10.0]))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "search", "dashboard", "--storage", str(db),
                             "--port", str(port)], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body, deadline = None, time.time() + 60
        while body is None and time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies",
                                            timeout=5) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.3)
        assert body is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert [s["study_name"] for s in body["study_summaries"]] == ["dash"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"on http://127.0.0.1:{port}/" in out


def test_missing_dashboard_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # as if not installed
    db = tmp_path / "d.db"
    optuna.create_study(study_name="dash", storage=f"sqlite:///{db}")
    assert main(["dashboard", "--storage", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["frontier: error: dashboard: optuna-dashboard is not installed; install the "
                   "optional extra with `pip install -e '.[dashboard]'`"]
