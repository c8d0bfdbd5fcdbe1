"""Export a trial's model and load it back, in a new process, without the study."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from objectives.data import load_dataset
from objectives.metrics import accuracy
from search.cli import main
from search.config import StudyConfig
from search.errors import DatasetError, FrontierError
from search.keys import ARTIFACTS_ATTR, CONFIG_ATTR, SHAPE_ATTR
from search.results.model_folder import (
    FILES,
    INT8_FILES,
    ONNX_FILES,
    dataset_of,
    export_trial,
    load,
    load_onnx,
)
from search.storage.studies import stored_config, stored_shape
from spaces import create_space, load_spec
from tests.conftest import ENV, tiny_toml
from tests.search.test_cli import cli

#: Runs in a fresh interpreter: only the model folder, no study, no storage.
RELOAD = """
import json, sys, torch
from objectives.data import load_dataset
from objectives.metrics import accuracy
from search.results.model_folder import dataset_of, load, load_program

folder = sys.argv[1]
model = load(folder)
test = load_dataset(dataset_of(folder)).test
program = load_program(folder).module()
with torch.no_grad():
    logits, exported = model(test.x), program(test.x)
    one = program(test.x[:1])
print(json.dumps({"accuracy": accuracy(model, test), "n": len(test),
                  "max_logit_diff": float((logits - exported).abs().max()),
                  "program_accuracy": float((exported.argmax(1) == test.y).float().mean()),
                  "batch_of_one": list(one.shape)}))
"""


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    here = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    (root / "s.toml").write_text(tiny_toml("exp", n_trials=4))
    res = cli("run", "s.toml", "--quiet", cwd=root)
    assert res.returncode == 0, res.stderr
    return root


def _study(root: Path) -> optuna.Study:
    return optuna.load_study(study_name="exp", storage=f"sqlite:///{root}/runs/frontier.db")


def test_exported_front_trial_reloads_in_a_new_process(study_dir: Path) -> None:
    study = _study(study_dir)
    best = max(study.best_trials, key=lambda t: t.user_attrs["metrics"]["test_accuracy"])
    res = cli("export", "--study", "exp", "--trial", str(best.number), "--out", "model",
              cwd=study_dir)
    assert res.returncode == 0, res.stderr
    assert f"trial {best.number}, on the front" in res.stdout
    folder = study_dir / "model"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert json.loads((folder / "spec.json").read_text()) == json.loads(best.user_attrs["spec"])
    assert json.loads((folder / "metrics.json").read_text())["metrics"] == \
        best.user_attrs["metrics"]

    got = subprocess.run([sys.executable, "-c", RELOAD, str(folder)], cwd=study_dir / "..",
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout.strip().splitlines()[-1])
    stored = best.user_attrs["metrics"]["test_accuracy"]
    assert out["accuracy"] == pytest.approx(stored, abs=1e-6)
    assert out["n"] == 360  # the digits test split: 20 % of 1,797
    assert out["max_logit_diff"] < 1e-5
    assert out["program_accuracy"] == pytest.approx(stored, abs=1e-6)
    assert out["batch_of_one"] == [1, 10]
    model = load(folder)  # the compressed weights: as many nonzeros as the trial measured
    assert sum(int(torch.count_nonzero(p)) for p in model.parameters()) == \
        best.user_attrs["metrics"]["params"]
    assert not model.training
    size = best.user_attrs["metrics"]["size_bytes"]  # the packed file is what size_bytes says
    on_disk = (folder / "weights.safetensors").stat().st_size
    assert size < on_disk <= 1.05 * size + 512
    assert f"weights.safetensors ({on_disk:,} bytes; size_bytes {size:,})" in res.stdout


def test_onnx_and_int8_exports_match_their_reports(study_dir: Path) -> None:
    study = _study(study_dir)
    best = max(study.best_trials, key=lambda t: t.user_attrs["metrics"]["test_accuracy"])
    res = cli("export", "--study", "exp", "--trial", str(best.number), "--out", "m8", "--int8",
              cwd=study_dir)
    assert res.returncode == 0, res.stderr
    assert "wrote model.int8.onnx (" in res.stdout and "warning" not in res.stderr
    folder = study_dir / "m8"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES + ONNX_FILES + INT8_FILES)
    fp32 = json.loads((folder / "onnx.json").read_text())
    int8 = json.loads((folder / "int8.json").read_text())
    stored = best.user_attrs["metrics"]["test_accuracy"]
    assert fp32["max_logit_diff"] <= 1e-4
    assert fp32["accuracy"] == fp32["torch_accuracy"] == pytest.approx(stored, abs=1e-6)
    assert int8["torch_accuracy"] == pytest.approx(stored, abs=1e-6)
    assert abs(int8["accuracy"] - stored) <= 0.01  # within one point of the fake-quant model
    assert int8["calibration_inputs"] == 512
    for d in (fp32, int8):
        assert d["bytes"] == (folder / d["file"]).stat().st_size
        assert all(d["latency_ms"][b] > 0 for b in ("1", "32"))
    test = load_dataset(dataset_of(folder)).test
    for session, expected in ((load_onnx(folder), fp32), (load_onnx(folder, int8=True), int8)):
        logits = session.run(["logits"], {"input": test.x.numpy()})[0]  # ONNX Runtime alone
        acc = float((torch.from_numpy(logits).argmax(1) == test.y).float().mean())
        assert acc == pytest.approx(expected["accuracy"], abs=1e-6)
    with pytest.raises(FrontierError, match=r"model\.int8\.onnx: missing; export the trial with "
                                            r"`frontier export --int8`"):
        load_onnx(study_dir / "model", int8=True)


def _bad_trials(root: Path) -> tuple[int, int]:
    study = _study(root)
    dist = {"prune_ratio": FloatDistribution(0.0, 0.8)}
    study.add_trial(create_trial(state=TrialState.FAIL, params={"prune_ratio": 0.5},
                                 distributions=dist))
    study.add_trial(create_trial(values=[0.5, 100.0], params={"prune_ratio": 0.5},
                                 distributions=dist, user_attrs={"spec": "{}"}))
    numbers = [t.number for t in _study(root).trials]
    return numbers[-2], numbers[-1]


@pytest.mark.parametrize("case", ["missing", "failed", "no_weights", "elsewhere"])
def test_bad_exports_are_one_line_and_write_nothing(
        study_dir: Path, tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(study_dir), str(root)], check=True)
    failed, no_weights = _bad_trials(root)
    trial, message = {
        "missing": (99, "--trial: study 'exp' has no trial 99 (its trials are numbered 0 to"),
        "failed": (failed, f"--trial: trial {failed} of 'exp' is FAIL; only COMPLETE trials "
                           "keep their weights"),
        "no_weights": (no_weights, f"--trial: trial {no_weights} of 'exp' has no stored weights"),
        "elsewhere": (0, "weights: trial 0's weights are not in runs/exp/artifacts or "
                         f"{tmp_path}/moved/artifacts; run the command from the folder the "
                         "study ran in"),
    }[case]
    if case == "elsewhere":  # the output folder the study recorded has moved away too
        _study(root).set_user_attr(ARTIFACTS_ATTR, str(tmp_path / "moved"))
    monkeypatch.chdir(tmp_path if case == "elsewhere" else root)
    storage = f"sqlite:///{root}/runs/frontier.db"
    code = main(["export", "--storage", storage, "--study", "exp", "--trial", str(trial),
                 "--out", "fresh"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not (Path.cwd() / "fresh").exists()
    assert case != "elsewhere" or not (tmp_path / "runs").exists()


def test_export_without_the_data_uses_the_recorded_shape(study_dir: Path, tmp_path: Path
                                                         ) -> None:
    root = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(study_dir), str(root)], check=True)
    study = _study(root)
    assert stored_shape(study) == ((1, 8, 8), 10)  # recorded when the study ran
    stored = study.user_attrs[CONFIG_ATTR]
    stored["dataset"]["source"] = f"{tmp_path / 'gone.py'}:load"  # data that is not here
    cfg = StudyConfig.from_dict(stored, stored=True)
    trial = study.best_trials[0].number
    done = export_trial(study, trial, tmp_path / "m", cfg)
    assert done.test_accuracy is None and "gone.py is not a file" in str(done.no_data)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(FILES)
    onnx = export_trial(study, trial, tmp_path / "m", cfg, onnx=True).deployed
    assert [d.file for d in onnx] == ["model.onnx"]  # checked on random inputs instead
    assert onnx[0].accuracy is None and onnx[0].max_logit_diff <= 1e-4
    with pytest.raises(DatasetError, match=r"^--int8: calibration needs the training split, "
                                           r"and the data cannot be loaded here \(dataset\."):
        export_trial(study, trial, tmp_path / "m8", cfg, int8=True)
    study.set_user_attr(SHAPE_ATTR, None)  # as a study that ran before the shape was recorded
    with pytest.raises(DatasetError, match=r"^export: study 'exp' recorded no input shape"):
        export_trial(study, trial, tmp_path / "m2", cfg)
    assert not (tmp_path / "m8").exists() and not (tmp_path / "m2").exists()
    assert export_trial(study, trial, tmp_path / "m3").test_accuracy is not None  # digits


def test_load_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FrontierError, match=r"model\.json: missing; a model folder written by "):
        load(tmp_path)


def test_structured_trial_exports_and_reloads_at_its_stored_accuracy(tmp_path: Path) -> None:
    # a structured trial stores weights smaller than its Spec builds: export and load replay
    # the pruning on the fresh model before loading them
    toml = tiny_toml("st", n_trials=2).replace("low = 0.0", "low = 0.4")
    (tmp_path / "s.toml").write_text(
        toml + 'prune_method = ["structured"]\nper_layer_prune = true\n')
    res = cli("run", "s.toml", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="st", storage=f"sqlite:///{tmp_path}/runs/frontier.db")
    trial = next(t for t in study.trials if t.state == TrialState.COMPLETE)
    res = cli("export", "--study", "st", "--trial", str(trial.number), "--out", "model",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    folder = tmp_path / "model"
    model = load(folder)
    _, spec = load_spec((folder / "spec.json").read_text())
    assert spec.compress.method == "structured" and len(spec.compress.layer_ratios) >= 1
    full = create_space("cnn").build(spec, (1, 8, 8), 10)
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in full.parameters())
    stored = trial.user_attrs["metrics"]["test_accuracy"]
    assert accuracy(model, load_dataset(dataset_of(folder)).test) == pytest.approx(stored,
                                                                                  abs=1e-6)


def test_weights_stored_before_the_packed_format_still_export(study_dir: Path,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(study_dir), str(root)], check=True)
    study = _study(root)
    trial = study.best_trials[0]
    fresh = export_trial(study, trial.number, tmp_path / "new", stored_config(study))
    state = load(fresh.out_dir).state_dict()
    artifact = root / "runs" / "exp" / "artifacts" / trial.user_attrs["weights_artifact"]
    assert artifact.is_file()
    torch.save(state, artifact)  # what Frontier stored before: a torch.save state dict
    with _chdir(root):
        old = export_trial(_study(root), trial.number, tmp_path / "old")
    again = load(old.out_dir).state_dict()
    assert all(torch.equal(state[k].reshape(-1).view(torch.uint8),
                           again[k].reshape(-1).view(torch.uint8))
               for k in state)
    assert (tmp_path / "old" / "weights.safetensors").read_bytes() == \
        (tmp_path / "new" / "weights.safetensors").read_bytes()
