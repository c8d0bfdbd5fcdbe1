"""The shipped example studies load, the user-code examples run a tiny study each, and the
example scripts do what they say."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from objectives.pipeline import Budget
from search.config import load_config
from search.run import run_study
from search.storage.studies import create_or_load
from tests.conftest import ENV

STUDIES = Path(__file__).resolve().parents[2] / "studies"
TINY = Budget(epochs=1, finetune_epochs=1, qat_epochs=1, latency_reps=1)


@pytest.mark.parametrize("name", ["digits_cnn", "digits_transformer", "mnist1d_cnn", "wine",
                                  "torchvision_mobilenet", "resnet18_digits"])
def test_a_shipped_study_loads_from_any_folder(workdir: Path, name: str) -> None:
    cfg = load_config(STUDIES / f"{name}.toml")  # the cwd is a fresh tmp folder
    assert cfg.name == name


@pytest.mark.parametrize("name", ["wine", "torchvision_mobilenet"])
def test_a_user_code_example_runs(workdir: Path, name: str) -> None:
    cfg = dataclasses.replace(load_config(STUDIES / f"{name}.toml"), n_trials=2, budget=TINY,
                              storage=str(workdir / "s.db"))
    study = create_or_load(cfg)
    assert run_study(study, cfg, progress=False) == 2
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 2, [t.user_attrs.get("fail_reason") for t in study.trials]
    assert all(t.user_attrs["metrics"]["params"] > 0 for t in trials)
    assert isinstance(study, optuna.Study)


def test_the_python_mnist_study_is_the_toml_one(workdir: Path) -> None:
    from studies.mnist_cnn import make_study
    from tests.objectives.data.test_datasets import write_mnist

    write_mnist(workdir / "data", "MNIST", gz=True)  # in case the config looks at the files
    study = make_study()
    assert study.config == load_config(STUDIES / "mnist_cnn.toml")
    (workdir / "printed.toml").write_text(study.config.to_toml())
    assert load_config(workdir / "printed.toml") == study.config


def test_a_script_without_its_data_files_fails_in_one_line(workdir: Path) -> None:
    done = subprocess.run([sys.executable, str(STUDIES / "mnist_cnn.py")], cwd=workdir,
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "[study]" in done.stdout  # the study file, printed first
    assert done.stderr.startswith("frontier: error: dataset") and done.stderr.count("\n") == 1
    assert not (workdir / "runs" / "frontier.db").exists()  # nothing written


def test_the_stored_study_script_prints_the_front_and_exports(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from search import ResNetSpace, Study
    from studies.cifar10_resnet import main

    storage = f"sqlite:///{workdir / 's.db'}"
    with pytest.raises(SystemExit, match=r"^frontier: error: storage: .* does not exist") as no:
        main(storage)
    assert "\n" not in str(no.value)
    # a tiny study of that name on the digits (the script needs no data files of its own)
    Study("cifar10_resnet", space=ResNetSpace(max_stages=1, blocks=[1], widths=[4, 8]),
          budget=TINY, n_trials=2, storage=storage, sampler="random").optimize(log="quiet")
    main(storage)
    out = capsys.readouterr().out
    assert "val_accuracy" in out and "model folder runs/cifar10_resnet/best" in out
    assert (workdir / "runs" / "cifar10_resnet" / "best" / "program.pt2").is_file()


def test_the_resnet18_example_pieces(workdir: Path) -> None:
    """The digits at 3×32×32, and the builder: torchvision's resnet18 for their shape whose
    1000-class checkpoint (as ImageNet weights) loads into it only with transfer."""
    from objectives.base import load_base
    from studies.digits32 import load
    from studies.resnet18_digits import IMAGENET_CLASSES, build_base

    x, y = load()
    assert x.shape == (1797, 3, 32, 32) and y.shape == (1797,) and 0 <= x.min() < x.max() <= 1
    assert torch.equal(x[:, 0], x[:, 2])  # the grey channel repeated
    torch.save(build_base((3, 32, 32), IMAGENET_CLASSES).state_dict(), workdir / "r18.pt")
    cfg = load_config(STUDIES / "resnet18_digits.toml")
    assert cfg.mode == "compress" and cfg.base.transfer_epochs > 0
    moved = dataclasses.replace(cfg.base, checkpoint=str(workdir / "r18.pt"))
    model = load_base(moved, (3, 32, 32), 10)
    assert model(x[:2]).shape == (2, 10)
    with pytest.raises(ValueError, match="transfer_epochs"):
        load_base(dataclasses.replace(moved, transfer_epochs=0), (3, 32, 32), 10)
    assert build_base((1, 32, 32), 10).conv1.in_channels == 1
