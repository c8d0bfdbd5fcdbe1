"""mode = "compress" end to end: a user's trained base (builder + checkpoint) compressed through
`run --workers 2`; the base measured once as the reference row of pareto.csv, the plot and the
report; every candidate derived from the base (no training from scratch) and distilled from
it; `report` and `export` from another folder; the export reloads at its stored accuracy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from search.storage.urls import open_storage
from tests.conftest import ENV
from tests.search.compress_mode.project import BASE, cli, train_checkpoint

STUDY = '''
[study]
name = "squeeze"
mode = "compress"
n_trials = 4
seed = 0
objectives = ["val_accuracy", "macs"]

[sampler]
name = "random"

[base]
model = "proj/mybase.py:build_base"
checkpoint = "proj/base.pt"

[budget]
epochs = 0
finetune_epochs = 1
qat_epochs = 1
latency_reps = 1

[space]
prune_method = ["structured"]
prune_ratio = { low = 0.2, high = 0.6 }
bits = [4, 32]
drop_blocks = true
kd_weight = [0.5]
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the user's base builder, its trained checkpoint and the study file."""
    root = tmp_path_factory.mktemp("compress")
    (root / "proj").mkdir()
    (root / "proj" / "mybase.py").write_text(BASE)
    (root / "study.toml").write_text(STUDY)
    train_checkpoint(BASE, root / "proj" / "base.pt", min_val=0.8)
    return root


def test_a_trained_base_compressed_by_two_workers_then_report_and_export(project: Path) -> None:
    res = cli("run", "study.toml", "--storage", "runs/s.log", "--workers", "2", "--log",
               "quiet", cwd=project)
    assert res.returncode == 0, res.stderr
    storage = str(project / "runs" / "s.log")
    study = optuna.load_study(study_name="squeeze", storage=open_storage(storage))
    base = study.user_attrs["base_metrics"]
    assert base["val_accuracy"] > 0.8 and base["epochs_run"] == 0 and base["pruned_fraction"] == 0
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 4
    for t in done:  # derived from the base: only fine-tune phases trained, distilled from it
        m = t.user_attrs["metrics"]
        assert m["epochs_run"] <= 2 and m["macs"] < base["macs"]
        assert t.user_attrs["teacher"]["name"] == "base"
        assert t.user_attrs["teacher"]["val_accuracy"] == pytest.approx(base["val_accuracy"])
        assert {"drop_0", "drop_1"} <= set(t.params)
    front = pd.read_csv(project / "runs" / "squeeze" / "pareto.csv")
    assert front.trial.iloc[0] == "base" and front.macs_x.iloc[0] == 1.0
    assert (front.macs_x.iloc[1:] > 1).all()
    first = front.iloc[1]
    assert first.val_drop == pytest.approx(base["val_accuracy"] - first.val_accuracy)

    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    report = cli("report", "--storage", storage, "--study", "squeeze", "--out", "r.html",
                  cwd=elsewhere)
    assert report.returncode == 0, report.stderr
    page = (elsewhere / "r.html").read_text()
    assert "base (uncompressed)" in page and "the base, uncompressed (reference)" in page
    best = max(done, key=lambda t: t.user_attrs["metrics"]["test_accuracy"])
    export = cli("export", "--storage", storage, "--study", "squeeze", "--trial",
                  str(best.number), "--out", "m", cwd=elsewhere)
    assert export.returncode == 0, export.stderr
    check = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import json, sys
        from objectives.data import load_dataset
        from objectives.metrics import accuracy
        from search.results.model_folder import dataset_of, load
        print(json.dumps(accuracy(load(sys.argv[1]), load_dataset(dataset_of(sys.argv[1])).test)))
        """), str(elsewhere / "m")], cwd=elsewhere, env=ENV, capture_output=True, text=True,
        timeout=300)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout.strip().splitlines()[-1]) == pytest.approx(
        best.user_attrs["metrics"]["test_accuracy"], abs=1e-6)
