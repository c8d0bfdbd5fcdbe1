"""Define-by-run user builders: sampled, replayed, stored as import strings, found again by
workers, ``report`` and ``export`` in other processes and other folders; bad builders refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from torch import nn

from search.config import SpaceConfig, StudyConfig, load_config
from search.errors import FrontierError
from search.storage.urls import open_storage
from spaces.space import create_space, load_spec, spec_json
from spaces.user import ModelSpace, ModelSpec
from tests.conftest import ENV

BUILDER = '''
from torch import nn


def build(trial, input_shape, num_classes):
    width = trial.suggest_categorical("width", [4, 8])
    depth = trial.suggest_int("depth", 1, 2)
    layers, channels = [], input_shape[0]
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(channels, num_classes))


def picky(trial, input_shape, num_classes):
    width = trial.suggest_categorical("width", [4, 8])
    if width == 8:
        raise RuntimeError("no room for 8 channels")
    return build(trial, input_shape, num_classes)


def broken(trial, input_shape, num_classes):
    raise RuntimeError("this builder always fails")


def not_a_model(trial, input_shape, num_classes):
    return "a string"


def clashing(trial, input_shape, num_classes):
    trial.suggest_float("lr", 1e-3, 1e-1)
    return build(trial, input_shape, num_classes)
'''

DATA = '''
import numpy as np
from sklearn.datasets import load_digits


def load():
    digits = load_digits()
    return (digits.images[:, None] / 16.0).astype(np.float32), digits.target
'''

STUDY = '''
[study]
name = "{name}"
n_trials = {n}
seed = 0

[sampler]
population_size = 4

[budget]
epochs = 1
finetune_epochs = 1
qat_epochs = 1
latency_reps = 1

[early_stopping]
enabled = false

[space]
model = "{model}"
prune_ratio = {{ low = 0.0, high = 0.6 }}
prune_method = ["unstructured", "structured"]
bits = [4, 32]
'''


def _project(root: Path, model: str = "user_models:build", name: str = "mine", n: int = 4,
             data: bool = False) -> Path:
    """A user's folder: a builder module (and a data module) next to the study file."""
    (root / "proj").mkdir(parents=True, exist_ok=True)
    (root / "proj" / "user_models.py").write_text(BUILDER)
    (root / "proj" / "user_data.py").write_text(DATA)
    toml = root / "proj" / "study.toml"
    text = STUDY.format(name=name, n=n, model=model)
    if data:
        text += '\n[dataset]\nsource = "user_data:load"\n'
    toml.write_text(text)
    return toml


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)


def test_the_builder_is_stored_as_the_path_of_its_file(workdir: Path) -> None:
    toml = _project(workdir)
    cfg = load_config(toml)  # the module sits next to the study file, not in the cwd
    assert cfg.space.name == "model"
    assert cfg.space.options["model"] == f"{(workdir / 'proj' / 'user_models.py').resolve()}:build"
    assert cfg.to_dict()["space"]["model"] == cfg.space.options["model"]


def test_sample_then_replay_builds_the_same_model(workdir: Path) -> None:
    _project(workdir)
    space = create_space("model", {"model": "proj/user_models.py:build", "bits": [4, 32]})
    assert isinstance(space, ModelSpace)
    space.bind((1, 8, 8), 10)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    trial = study.ask()
    spec = space.sample(trial)
    assert set(spec.params) == {"width", "depth"}
    assert "bits" in trial.params and "bits" not in spec.params
    name, again = load_spec(spec_json(space, spec))  # JSON round trip
    assert name == "model" and again == spec and isinstance(again, ModelSpec)
    model = space.build(again, (1, 8, 8), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == spec.params["depth"]
    assert all(c.out_channels == spec.params["width"] for c in convs)


def test_per_layer_knobs_follow_the_built_model(workdir: Path) -> None:
    _project(workdir)
    space = create_space("model", {"model": "proj/user_models.py:build", "bits": [4, 8],
                                   "per_layer_bits": True, "per_layer_prune": True})
    assert isinstance(space, ModelSpace)
    space.bind((1, 8, 8), 10)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    spec = space.sample(trial)
    depth = spec.params["depth"]
    assert len(spec.compress.layer_bits) == depth + 1  # every conv and the head
    assert len(spec.compress.layer_ratios) == depth  # every conv


def test_a_function_object_is_stored_as_an_import_string(workdir: Path) -> None:
    cfg = StudyConfig(name="fn", space=SpaceConfig.builder(_module_level_builder, bits=[8]))
    # this test module is not installed: it is found again by the path of its file
    assert cfg.space.options["model"] == f"{Path(__file__).resolve()}:_module_level_builder"
    cfg = StudyConfig(name="fn", space=SpaceConfig.builder(nn.Identity))  # an installed class
    assert cfg.space.options["model"] == "torch.nn.modules.linear:Identity"


def _module_level_builder(trial: optuna.Trial, input_shape: tuple[int, ...],
                          num_classes: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(int(input_shape[-1] ** 2), num_classes))


@pytest.mark.parametrize(("model", "message"), [
    ("no_such_module:build", "space.model: cannot import 'no_such_module'"),
    ("user_models:nope", "space.model: 'user_models' has no attribute 'nope'"),
    ("user_models", "space.model: 'user_models' is not an import string"),
])
def test_a_builder_that_cannot_be_imported_is_a_config_error(workdir: Path, model: str,
                                                             message: str) -> None:
    toml = _project(workdir, model=model)
    with pytest.raises(FrontierError, match=message):
        load_config(toml)


@pytest.mark.parametrize(("model", "message"), [
    ("user_models:broken", "user_models.py:broken raised RuntimeError: this builder always"),
    ("user_models:not_a_model", "user_models.py:not_a_model returned str, not a torch.nn"),
])
def test_a_broken_builder_is_one_line_before_anything_is_written(workdir: Path, model: str,
                                                                 message: str) -> None:
    toml = _project(workdir, model=model)
    done = _cli("run", str(toml), "--storage", "runs/s.db", cwd=workdir)
    assert done.returncode == 2
    assert done.stderr.startswith("frontier: error: space.model: ") and message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (workdir / "runs").exists()  # no storage, no study, no outputs


def test_knob_names_are_reserved(workdir: Path) -> None:
    _project(workdir)
    space = create_space("model", {"model": "proj/user_models.py:clashing"})
    assert isinstance(space, ModelSpace)
    space.bind((1, 8, 8), 10)
    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match="suggests 'lr', a name Frontier's knobs use"):
        space.sample(trial)


def test_a_builder_failing_on_one_candidate_fails_that_trial_only(workdir: Path) -> None:
    toml = _project(workdir, model="user_models:picky", n=6)
    done = _cli("run", str(toml), "--storage", "runs/s.db", "--log", "quiet", cwd=workdir)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="mine", storage=open_storage("runs/s.db"))
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 6 and all(t.params["width"] == 4 for t in complete)
    assert failed, "width 8 was never drawn"
    assert all("no room for 8 channels" in t.user_attrs["fail_reason"] for t in failed)


def test_workers_then_report_and_export_from_another_folder(tmp_path: Path) -> None:
    toml = _project(tmp_path, n=4, data=True)  # the user's model and the user's data
    run = subprocess.Popen([sys.executable, "-m", "search", "run", str(toml), "--storage",
                            "runs/mine.log", "--workers", "2", "--log", "quiet"], cwd=tmp_path,
                           env=ENV, stderr=subprocess.PIPE, text=True)
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    storage = str(tmp_path / "runs" / "mine.log")
    study = optuna.load_study(study_name="mine", storage=open_storage(storage))
    stored = study.user_attrs["frontier_config"]
    assert stored["dataset"]["source"] == f"{(tmp_path / 'proj' / 'user_data.py').resolve()}:load"
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4
    # Every trial ran in a worker process, none in `run` itself. Which of the two workers takes
    # how many is up to the scheduler (one may claim all four before the other has imported
    # torch), so the count of distinct workers is not asserted here;
    # tests/search/storage/test_workers.py is.
    pids = {int(str(t.user_attrs["worker"]).rsplit(":", 1)[1]) for t in study.trials}
    assert 1 <= len(pids) <= 2 and run.pid not in pids
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    report = _cli("report", "--storage", storage, "--study", "mine", "--out", "r.html",
                  cwd=elsewhere)
    assert report.returncode == 0, report.stderr
    assert (elsewhere / "r.html").stat().st_size > 10_000
    # one candidate of each pruning method the study drew: unstructured and structured alike
    picked = list({t.params.get("prune_method"): t for t in complete}.values())
    for t in picked:
        out = elsewhere / f"m{t.number}"
        onnx = ["--onnx"] if t is picked[0] else []  # the user's model as ONNX too
        export = _cli("export", "--storage", storage, "--study", "mine", "--trial",
                      str(t.number), "--out", out.name, *onnx, cwd=elsewhere)
        assert export.returncode == 0, export.stderr
        assert "warning" not in export.stderr
        if onnx:
            checked = json.loads((out / "onnx.json").read_text())
            assert checked["max_logit_diff"] <= 1e-4
            assert checked["accuracy"] == checked["torch_accuracy"]
    check = subprocess.run(  # one new process reloads every exported folder
        [sys.executable, "-c", textwrap.dedent("""
            import json, sys
            from objectives.data import load_dataset
            from objectives.metrics import accuracy
            from search.results.model_folder import dataset_of, load
            print(json.dumps([accuracy(load(f), load_dataset(dataset_of(f)).test)
                              for f in sys.argv[1:]]))
        """), *[f"m{t.number}" for t in picked]], cwd=elsewhere, env=ENV, capture_output=True,
        text=True)
    assert check.returncode == 0, check.stderr
    for t, reloaded in zip(picked, json.loads(check.stdout), strict=True):
        metrics = json.loads((elsewhere / f"m{t.number}" / "metrics.json").read_text())
        stored = metrics["metrics"]["test_accuracy"]
        assert reloaded == pytest.approx(stored, abs=1e-9)
        assert stored == t.user_attrs["metrics"]["test_accuracy"]


SCRIPT = '''
"""A user's script: the builder and a registered space live in __main__."""
import sys

from torch import nn

from search import SpaceConfig, StudyConfig
from search.run import run_study
from search.storage.studies import create_or_load
from objectives.pipeline import Budget
from spaces.cnn import CNNSpace
from spaces.space import register_space


def build(trial, input_shape, num_classes):
    hidden = trial.suggest_categorical("hidden", [8, 16])
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


@register_space("tiny_cnn")
class TinyCNN(CNNSpace):
    name = "tiny_cnn"

    def __init__(self, options=None):
        super().__init__({"max_depth": 1, "widths": [4], **(options or {})})


if __name__ == "__main__":
    space = SpaceConfig.builder(build, bits=[8]) if sys.argv[1] == "builder" \\
        else SpaceConfig("tiny_cnn", {"bits": [8]})
    cfg = StudyConfig(name=sys.argv[1], n_trials=2, storage="runs/s.log", space=space,
                      budget=Budget(epochs=1, finetune_epochs=1, qat_epochs=1,
                                    latency_reps=1))
    run_study(create_or_load(cfg), cfg, progress=False)
'''


@pytest.mark.parametrize("kind", ["builder", "registered"])
def test_code_in_a_script_is_found_by_other_processes(tmp_path: Path, kind: str) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    done = subprocess.run([sys.executable, "script.py", kind], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    storage = str(tmp_path / "runs" / "s.log")
    stored = optuna.load_study(study_name=kind, storage=open_storage(storage))
    config = stored.user_attrs["frontier_config"]
    script = str((tmp_path / "script.py").resolve())
    if kind == "builder":
        assert config["space"]["model"] == f"{script}:build"
    else:
        assert config["study"]["imports"] == [script]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    more = _cli("resume", "--storage", storage, "--study", kind, "--n-trials", "3", "--log",
                "quiet", cwd=elsewhere)  # a new process, another folder: imports the script
    assert more.returncode == 0, more.stderr
    export = _cli("export", "--storage", storage, "--study", kind, "--trial", "2", "--out",
                  "m", cwd=elsewhere)
    assert export.returncode == 0, export.stderr
    assert "warning" not in export.stderr
