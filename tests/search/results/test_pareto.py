import json
import re
from pathlib import Path

import pandas as pd

from search.config import SamplerConfig, SpaceConfig, StudyConfig
from search.results.outputs import write_outputs
from search.results.pareto import FRONT_COLUMNS, front_frame
from search.run import run_study
from search.storage.studies import create_or_load
from tests.conftest import TINY


def test_front_tables_and_plot(workdir: Path) -> None:
    cfg = StudyConfig(name="p", n_trials=6, budget=TINY, sampler=SamplerConfig(population_size=4),
                      space=SpaceConfig("cnn", {"max_depth": 2, "widths": [4, 8]}))
    study = create_or_load(cfg)
    run_study(study, cfg, progress=False)
    paths = write_outputs(study, "out")
    front = pd.read_csv(paths["pareto_csv"])
    # the objectives lead, then every metric the trials stored, then the parameters
    assert list(front.columns[:4]) == ["trial", "val_accuracy", "params", "test_accuracy"]
    assert set(FRONT_COLUMNS) <= set(front.columns) and front.columns[-1] == "spec"
    params = [c for c in front.columns if c.startswith("param_")]
    assert list(front.columns[-1 - len(params):-1]) == params
    for metric in ("latency_ms", "pruned_fraction", "epochs_run", "torch_latency_ms"):
        assert metric in front.columns  # the metrics the fixed columns used to leave out
    assert front.pruned_fraction.between(0, 1).all()
    assert "param_depth" in front.columns and "param_width_0" in front.columns
    # non-dominated in (val_accuracy max, params min), sorted by params
    rows = list(zip(front.val_accuracy, front.params, strict=True))
    for a in rows:
        assert not any(b[0] >= a[0] and b[1] <= a[1] and b != a for b in rows)
    assert front.params.is_monotonic_increasing
    records = json.loads(paths["pareto_json"].read_text())
    assert [r["trial"] for r in records] == list(front.trial)
    assert records[0]["spec"]["space"] == "cnn"
    trials = pd.read_csv(paths["trials_csv"])
    assert len(trials) == 6 and set(trials.state) == {"COMPLETE"}
    assert trials.on_front.sum() == len(front)
    html = paths["pareto_html"].read_text()
    assert "Pareto front" in html and '"type":"log"' in html.replace(" ", "")
    assert re.search(r"<script[^>]*src=", html) is None  # self-contained: plotly.js inlined
    assert len(html) > 1_000_000
    assert len(front_frame(study)) == len(front)


def test_latency_as_an_objective_is_a_column_of_pareto_csv(workdir: Path) -> None:
    cfg = StudyConfig(name="lat", n_trials=3, budget=TINY,
                      objectives=("val_accuracy", "latency_ms"),
                      sampler=SamplerConfig(population_size=4),
                      space=SpaceConfig("cnn", {"max_depth": 1, "widths": [4, 8],
                                                "prune_method": ["unstructured", "structured"],
                                                "prune_ratio": {"low": 0.0, "high": 0.8}}))
    study = create_or_load(cfg)
    run_study(study, cfg, progress=False)
    front = pd.read_csv(write_outputs(study, "out")["pareto_csv"])
    assert list(front.columns[:3]) == ["trial", "val_accuracy", "latency_ms"]
    stored = {t.number: t.user_attrs["metrics"] for t in study.best_trials}
    for row in front.itertuples():
        assert row.latency_ms == stored[row.trial]["latency_ms"] > 0
        assert row.pruned_fraction == stored[row.trial]["pruned_fraction"]
        assert row.param_prune_method in ("unstructured", "structured")
