"""Compress mode's sensitivity table and warm start: computed once per study (the table stored
on the study and written as sensitivity.csv), one enqueued trial per distinct allocation as the
study's first trials, each meeting its MAC budget; `resume` enqueues nothing again; the report
shows the table; `[base] sensitivity = false` turns it off."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from search.results.sensitivity import stored_table
from search.storage.urls import open_storage
from tests.search.compress_mode.project import BASE, cli, train_checkpoint

STUDY = '''
[study]
name = "warm"
mode = "compress"
n_trials = 5
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
prune_ratio = { low = 0.0, high = 0.75 }
per_layer_prune = true
bits = [4, 8, 32]
per_layer_bits = true
drop_blocks = true
kd_weight = [0.5]
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's base builder (three convs, two of them removable blocks, a head), its trained
    checkpoint and the study file."""
    root = tmp_path_factory.mktemp("warm")
    (root / "proj").mkdir()
    (root / "proj" / "mybase.py").write_text(BASE)
    (root / "study.toml").write_text(STUDY)
    (root / "off.toml").write_text(STUDY.replace('name = "warm"', 'name = "off"').replace(
        'checkpoint = "proj/base.pt"', 'checkpoint = "proj/base.pt"\nsensitivity = false'))
    train_checkpoint(BASE, root / "proj" / "base.pt", min_val=0.8)
    return root


def test_the_warm_start_trials_come_first_meet_their_budgets_and_are_enqueued_once(
        project: Path) -> None:
    res = cli("run", "study.toml", "--storage", "runs/w.log", cwd=project)
    assert res.returncode == 0, res.stderr
    assert "compress: sensitivity of 11 units" in res.stderr  # one line per phase
    assert res.stderr.count("compress: warm start x") >= 2
    storage = open_storage(str(project / "runs" / "w.log"))
    study = optuna.load_study(study_name="warm", storage=storage)
    table = stored_table(study)
    assert table is not None
    # 3 width units (the three convs' groups) at keep 1, 0.8125, 0.625, 0.4375, 0.25; 4 bits
    # units (3 convs + head) at 32, 8, 4; 4 depth units kept / dropped (the blocks "1" and "2"
    # and the shape-keeping convs "1.0" and "2.0" inside them); plus the base row
    kinds = table.groupby("kind")["unit"].unique().map(sorted).to_dict()
    assert kinds == {"base": [""], "width": ["0.0", "1.0", "2.0"],
                     "bits": ["0.0", "1.0", "2.0", "5"], "depth": ["1", "1.0", "2", "2.0"]}
    assert len(table) == 1 + 3 * 5 + 4 * 3 + 4 * 2
    assert not table.duplicated(["kind", "unit", "value"]).any()
    csv = pd.read_csv(project / "runs" / "warm" / "sensitivity.csv", dtype={"unit": str})
    assert len(csv) == len(table) and list(csv.columns) == list(table.columns)

    enqueued = study.user_attrs["warm_start_enqueued"]
    assert 2 <= enqueued <= 4  # budgets whose allocations coincide enqueue one trial
    trials = sorted(study.trials, key=lambda t: t.number)
    warm = [t for t in trials if "warm_start" in t.user_attrs]
    assert [t.number for t in warm] == list(range(enqueued))  # the study's first trials
    base_macs = study.user_attrs["base_metrics"]["macs"]
    for t in warm:
        note = t.user_attrs["warm_start"]
        assert t.state == TrialState.COMPLETE and note["objective"] == "macs"
        # the additive estimate overstates coupled width savings, so each allocation is
        # measured on the base and repaired; the trial's own MACs are that measured cost
        assert note["feasible"] and note["measured_cost"] <= base_macs / note["budget"]
        assert t.user_attrs["metrics"]["macs"] == note["measured_cost"]
    assert len({t.user_attrs["warm_start"]["budget"] for t in warm}) == enqueued

    again = cli("resume", "--storage", "runs/w.log", "--study", "warm", "--n-trials", "6",
                 "--log", "quiet", cwd=project)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="warm", storage=storage)
    assert sum("warm_start" in t.user_attrs for t in study.trials) == enqueued
    assert len(study.trials) == 6

    report = cli("report", "--storage", "runs/w.log", "--study", "warm", "--out", "r.html",
                  cwd=project)
    assert report.returncode == 0, report.stderr
    page = (project / "r.html").read_text()
    assert 'id="sensitivity"' in page and "Sensitivity: one unit compressed" in page


def test_sensitivity_false_computes_no_table_and_enqueues_nothing(project: Path) -> None:
    res = cli("run", "off.toml", "--storage", "runs/off.log", "--n-trials", "1", "--log",
               "quiet", cwd=project)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="off", storage=open_storage(
        str(project / "runs" / "off.log")))
    assert stored_table(study) is None and "warm_start_enqueued" not in study.user_attrs
    assert not any("warm_start" in t.user_attrs for t in study.trials)
    assert not (project / "runs" / "off" / "sensitivity.csv").exists()
    report = cli("report", "--storage", "runs/off.log", "--study", "off", "--out", "o.html",
                  cwd=project)
    assert report.returncode == 0, report.stderr
    assert 'id="sensitivity"' not in (project / "o.html").read_text()
