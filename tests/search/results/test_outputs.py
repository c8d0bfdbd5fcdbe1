"""The columns of every output come from the study (search.results.columns), on hand-built
studies: no training, so each case is exact."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import create_trial

from search.results.columns import table_columns
from search.results.front_text import EMPTY_FRONT, front_text
from search.results.outputs import write_outputs
from search.results.pareto import FRONT_COLUMNS, front_frame, trials_frame
from search.visualization.report import report_html

SPEC = json.dumps({"space": "model", "compress": {"bits": 32}, "train": {}})
DISTS = {"depth": IntDistribution(1, 3), "width": CategoricalDistribution([4, 8, 16]),
         "prune_method": CategoricalDistribution(["unstructured", "structured"]),
         "prune_ratio": FloatDistribution(0.0, 0.8)}


def _metrics(acc: float, params: int, **extra: Any) -> dict[str, Any]:
    """The metrics dict a trial stores (objectives.pipeline.Measured.as_dict), plus ``extra``."""
    return {"val_accuracy": acc, "test_accuracy": acc - 0.01, "params": params,
            "size_bytes": 4 * params, "macs": 10 * params, "train_seconds": 0.5,
            "latency_ms": float("nan"), "pruned_fraction": 0.25, "epochs_run": 3,
            "torch_latency_ms": float("nan"), **extra}


def _study(objectives: list[str], rows: list[dict[str, Any]],
           params: dict[str, Any] | None = None) -> optuna.Study:
    """A study as Frontier stores one: the objectives in the stored config, each trial's
    metrics in its ``metrics`` user attribute."""
    directions = ["maximize" if o == "val_accuracy" else "minimize" for o in objectives]
    study = optuna.create_study(directions=directions, study_name="h")
    study.set_user_attr("frontier_config", {"study": {"objectives": objectives}})
    for i, m in enumerate(rows):
        p = params or {"depth": 1 + i % 3, "width": (4, 8, 16)[i % 3],
                       "prune_method": "structured", "prune_ratio": 0.25}
        study.add_trial(create_trial(values=[m[o] for o in objectives], params=p,
                                     distributions={k: DISTS[k] for k in p},
                                     user_attrs={"metrics": m, "spec": SPEC}))
    return study


def test_objectives_lead_then_every_stored_metric_then_the_parameters() -> None:
    study = _study(["val_accuracy", "size_bytes"], [_metrics(0.9, 100), _metrics(0.8, 50)])
    front = front_frame(study)
    assert list(front.columns) == [
        "trial", "val_accuracy", "size_bytes", "test_accuracy", "params", "macs",
        "train_seconds", "pruned_fraction", "epochs_run",  # the NaN-only latencies left out
        "param_depth", "param_width", "param_prune_method", "param_prune_ratio", "spec"]
    assert set(FRONT_COLUMNS) <= set(front.columns)  # the columns scripts already read
    assert list(front.pruned_fraction) == [0.25, 0.25]
    trials = trials_frame(study)
    assert list(trials.columns[:5]) == ["trial", "state", "on_front", "val_accuracy",
                                        "size_bytes"]
    assert list(trials.columns[-3:]) == ["spec", "reason", "duration_s"]


def test_a_newly_stored_metric_becomes_a_column_everywhere(workdir: Path) -> None:
    """A compression method that stores a metric of its own (here ``rank_ratio``) gets a
    column in every output with no change to the output code."""
    study = _study(["val_accuracy", "params"],
                   [_metrics(0.9, 100, rank_ratio=0.5), _metrics(0.8, 50, rank_ratio=0.25)])
    paths = write_outputs(study, "out")
    front = pd.read_csv(paths["pareto_csv"])
    assert sorted(front.rank_ratio) == [0.25, 0.5]
    assert list(pd.read_csv(paths["trials_csv"]).rank_ratio) == [0.5, 0.25]
    assert [r["rank_ratio"] for r in json.loads(paths["pareto_json"].read_text())] == [0.25, 0.5]
    page = report_html(study, ["val_accuracy", "params"])
    assert "<th>rank_ratio</th>" in page and "<th>pruned</th>" in page
    assert "rank_ratio" in table_columns(study, study.trials).metrics


def test_a_latency_measured_anywhere_keeps_its_column() -> None:
    rows = [_metrics(0.9, 100), _metrics(0.8, 50, latency_ms=0.2)]
    assert "latency_ms" in front_frame(_study(["val_accuracy", "params"], rows)).columns
    nan = [_metrics(0.9, 100), _metrics(0.8, 50)]
    assert "latency_ms" not in front_frame(_study(["val_accuracy", "params"], nan)).columns
    # an objective is never left out, even NaN-only (it cannot be: Frontier refuses the trial)
    assert "latency_ms" in table_columns(_study(["val_accuracy", "latency_ms"], []), []).objectives


def test_an_empty_front_keeps_the_documented_columns() -> None:
    study = _study(["val_accuracy", "latency_ms"], [])
    front = front_frame(study)
    assert front.empty
    assert list(front.columns) == ["trial", "val_accuracy", "latency_ms", *FRONT_COLUMNS[2:],
                                   "spec"]
    assert front_text(study) == EMPTY_FRONT


def test_the_printed_front_shows_every_sampled_parameter() -> None:
    study = _study(["val_accuracy", "params"], [_metrics(0.9, 100), _metrics(0.8, 50)])
    wide = front_text(study, width=200).splitlines()
    assert wide[0].split() == ["trial", "val_accuracy", "params", "test_accuracy", "depth",
                               "width", "prune_method", "prune_ratio"]
    assert wide[1].split() == ["1", "0.8", "50", "0.79", "2", "8", "structured", "0.25"]
    narrow = front_text(study, width=72).splitlines()
    assert narrow[0].split() == ["trial", "val_accuracy", "params", "test_accuracy",
                                 "parameters"]
    assert all(len(line) <= 72 for line in narrow)
    text = " ".join(narrow)
    assert "depth=2 width=8" in text and "prune_method=structured" in text
    assert "prune_ratio=0.25" in text
    assert len(narrow) > 3  # the pairs wrapped onto further lines


def test_the_printed_front_wraps_many_parameters_below_each_row() -> None:
    params = {"depth": 2, "width": 16, "prune_method": "unstructured", "prune_ratio": 0.5}
    study = _study(["val_accuracy", "params"], [_metrics(0.9, 100)], params)
    lines = front_text(study, width=40).splitlines()
    assert lines[1].split() == ["0", "0.9", "100", "0.89"]
    assert all(line.startswith("    ") and len(line) <= 40 for line in lines[2:])
    pairs = " ".join(lines[2:]).split()
    assert pairs == ["depth=2", "width=16", "prune_method=unstructured", "prune_ratio=0.5"]
    assert not any(math.isnan(v) for v in front_frame(study).params)
