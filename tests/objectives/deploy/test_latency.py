"""[budget] latency_backend / latency_batch: the latency objective times what is deployed."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

from objectives.data import TensorData
from objectives.pipeline import Budget, evaluate
from search.config import load_config
from search.errors import ConfigError
from spaces import CNNSpec, CompressSpec, create_space
from tests.conftest import tiny_toml
from tests.search.test_cli import cli


@pytest.mark.parametrize("backend", ["onnxruntime", "onnxruntime-int8"])
def test_a_candidate_is_timed_on_onnx_runtime(digits: TensorData, backend: str) -> None:
    spec = CNNSpec((8,), compress=CompressSpec(prune_ratio=0.3, bits=8, act_bits=8))
    budget = Budget(epochs=1, finetune_epochs=0, qat_epochs=1, latency_reps=3,
                    latency_backend=backend, latency_batch=32)
    measured, _ = evaluate(create_space("cnn"), spec, digits, budget, seed=0)
    assert 0 < measured.latency_ms < 1000 and 0 < measured.torch_latency_ms < 1000
    assert measured.latency_ms != measured.torch_latency_ms  # two measurements, two backends


def test_the_torch_backend_times_once(digits: TensorData) -> None:
    budget = Budget(epochs=1, finetune_epochs=0, qat_epochs=0, latency_reps=2, latency_batch=4)
    measured, _ = evaluate(create_space("cnn"), CNNSpec((4,)), digits, budget, seed=0)
    assert measured.latency_ms == measured.torch_latency_ms > 0
    off = Budget(epochs=1, finetune_epochs=0, qat_epochs=0, latency_reps=0)
    measured, _ = evaluate(create_space("cnn"), CNNSpec((4,)), digits, off, seed=0)
    assert math.isnan(measured.latency_ms) and math.isnan(measured.torch_latency_ms)


@pytest.mark.parametrize(("line", "message"), [
    ('latency_backend = "tensorrt"', "budget.latency_backend: 'tensorrt' is not one of torch, "
                                     "onnxruntime, onnxruntime-int8"),
    ("latency_batch = 0", "budget.latency_batch: must be >= 1"),
])
def test_bad_latency_settings_are_refused(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(tiny_toml().replace("latency_reps = 2", f"latency_reps = 2\n{line}"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_study_on_deployed_latency_reports_both(tmp_path: Path) -> None:
    toml = tiny_toml("lat", n_trials=2, epochs=1).replace(
        "latency_reps = 2", 'latency_reps = 3\nlatency_backend = "onnxruntime"')
    toml = toml.replace('seed = 0\n', 'seed = 0\nobjectives = ["val_accuracy", "latency_ms"]\n')
    (tmp_path / "s.toml").write_text(toml)
    res = cli("run", "s.toml", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="lat", storage=f"sqlite:///{tmp_path}/runs/frontier.db")
    for t in study.best_trials:
        m = t.user_attrs["metrics"]
        assert t.values[1] == m["latency_ms"] != m["torch_latency_ms"]
    res = cli("report", "--study", "lat", "--out", "r.html", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    page = (tmp_path / "r.html").read_text()
    # the objective leads the front's table; PyTorch's latency follows with the other metrics
    assert "<th>val acc</th><th>latency onnxruntime (ms)</th><th>test acc</th>" in page
    assert "<th>latency PyTorch (ms)</th>" in page
