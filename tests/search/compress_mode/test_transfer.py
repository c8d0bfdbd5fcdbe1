"""mode = "compress" with transfer: a base whose checkpoint has a 5-class head, compressed on
the 10-class digits with `transfer_epochs = 1`. The head is replaced and the base fine-tuned
once (recorded on the study as base_transfer, cached by a content hash and reused by a second
study), every candidate gives 10 outputs, and an export reloads at its stored accuracy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from optuna.trial import TrialState

from objectives.base import load_base
from objectives.data import load_dataset
from objectives.metrics import accuracy
from search.config import load_config
from search.results.model_folder import export_trial, load
from search.run import run_study
from search.storage.studies import create_or_load
from tests.search.compress_mode.project import train_checkpoint

BASE = '''
from torch import nn


def build_base(input_shape, num_classes):
    """A small CNN: conv 8, one shape-keeping conv block, max pool, head."""
    pooled = 8 * (input_shape[1] // 2) * (input_shape[2] // 2)
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(input_shape[0], 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(pooled, num_classes))
'''

STUDY = '''
[study]
name = "{name}"
mode = "compress"
n_trials = 2
seed = 0
output_dir = "out_{name}"
objectives = ["val_accuracy", "macs"]

[sampler]
name = "random"

[base]
model = "mybase.py:build_base"
checkpoint = "five.pt"
transfer_epochs = 1
transfer_lr = 0.01
cache_dir = "{cache}"

[budget]
epochs = 0
finetune_epochs = 1
qat_epochs = 1
latency_reps = 1

[space]
prune_method = ["structured"]
prune_ratio = {{ low = 0.2, high = 0.5 }}
bits = [32]
kd_weight = [0.5]
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The builder and a checkpoint trained on digits labels 0-4 with a 5-class head."""
    root = tmp_path_factory.mktemp("transfer")
    (root / "mybase.py").write_text(BASE)
    train_checkpoint(BASE, root / "five.pt", classes=5, loss=lambda out, y: torch.nn
                     .functional.cross_entropy(out, y.clamp(max=4)))
    for name in ("first", "second"):
        (root / f"{name}.toml").write_text(STUDY.format(name=name, cache=root / "cache"))
    return root


def _run(project: Path, name: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(project)
    cfg = dataclasses.replace(load_config(project / f"{name}.toml"),
                              storage=str(project / f"{name}.db"))
    study = create_or_load(cfg)
    assert run_study(study, cfg, progress=False) == 2
    return study, cfg


def test_the_base_is_transferred_once_and_its_candidates_export(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study, cfg = _run(project, "first", monkeypatch)
    record = study.user_attrs["base_transfer"]
    assert record["trained"] and record["epochs"] == 1 and record["seconds"] > 0
    cached = Path(record["file"])
    assert cached.is_file() and cached.parent == project / "cache"
    base = study.user_attrs["base_metrics"]
    assert base["val_accuracy"] == pytest.approx(record["val_accuracy"])  # the adapted base
    assert base["val_accuracy"] > 0.8  # five classes it never saw are learned too
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 2, [t.user_attrs.get("fail_reason") for t in study.trials]
    for t in done:
        assert t.user_attrs["teacher"]["val_accuracy"] == pytest.approx(base["val_accuracy"])

    best = max(done, key=lambda t: t.user_attrs["metrics"]["test_accuracy"])
    export_trial(study, best.number, project / "model", cfg)
    model = load(project / "model")
    data = load_dataset(cfg.dataset)
    assert model(data.test.x[:3]).shape == (3, 10)  # type: ignore[union-attr]
    assert accuracy(model, data.test) == pytest.approx(
        best.user_attrs["metrics"]["test_accuracy"], abs=1e-6)
    rebuilt = load_base(cfg.base, data.input_shape, data.num_classes)  # the head for 10 classes
    assert rebuilt[-1].out_features == 10  # type: ignore[union-attr]

    second, _ = _run(project, "second", monkeypatch)  # the same inputs: the cache is read
    again = second.user_attrs["base_transfer"]
    assert not again["trained"] and again["file"] == record["file"]
    assert again["val_accuracy"] == pytest.approx(record["val_accuracy"])
    assert list((project / "cache").iterdir()) == [cached]
