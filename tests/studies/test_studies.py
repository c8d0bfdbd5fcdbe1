"""The shipped example studies load, the user-code examples run a tiny study each, and the
example scripts do what they say."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
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


@pytest.mark.parametrize("name", ["basenet", "mnist1d_compress"])
def test_a_compress_example_loads_without_its_checkpoint(workdir: Path, name: str) -> None:
    """The checkpoint is written by the example's training script, not shipped: the config
    still loads (the base's files are checked when the study runs), its paths next to it."""
    cfg = load_config(STUDIES / f"{name}.toml")
    assert cfg.name == name and cfg.mode == "compress" and cfg.budget.epochs == 0
    assert Path(cfg.base.checkpoint) == STUDIES / f"{name.replace('_compress', '_base')}.pt"
    assert cfg.space.options["drop_blocks"] is True


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv(c_in: int, c_out: int, k: int, dims: int = 2) -> int:
    """A conv (bias) and its batch norm (weight, bias)."""
    return c_out * c_in * k ** dims + c_out + 2 * c_out


def test_basenet_and_adjustednet_have_the_articles_shapes() -> None:
    from objectives.compress.depth import removable_units
    from studies.basenet import build_adjusted, build_base

    x = torch.zeros(2, 3, 24, 24)
    base, adjusted = build_base((3, 24, 24), 10).eval(), build_adjusted((3, 24, 24), 10)
    assert base(x).shape == adjusted(x).shape == (2, 10)
    fc = 128 * 6 * 6 * 1024 + 1024 + 1024 * 10 + 10
    assert _params(base) == _conv(3, 64, 3) + _conv(64, 64, 3) + _conv(64, 128, 3) \
        + 2 * _conv(128, 128, 3) + fc
    assert _params(adjusted) == _conv(3, 32, 3) + _conv(32, 64, 3) \
        + 64 * 6 * 6 * 500 + 500 + 500 * 10 + 10
    assert removable_units(base, x) == ["features.1", "features.4", "features.5"]


def test_the_mnist1d_base_is_a_wide_cnn_with_two_removable_blocks() -> None:
    from objectives.compress.depth import removable_units
    from studies.mnist1d_base import build_base

    model = build_base((1, 40), 10).eval()
    x = torch.zeros(2, 1, 40)
    assert model(x).shape == (2, 10)
    assert _params(model) == _conv(1, 64, 5, 1) + 2 * _conv(64, 64, 5, 1) + 64 * 10 * 10 + 10
    assert removable_units(model, x) == ["1", "3"]


def test_digits24_is_the_digits_at_3x24x24() -> None:
    from studies.digits24 import load

    x, y = load()
    assert x.shape == (1797, 3, 24, 24) and x.dtype == np.float32 and y.shape == (1797,)
    assert set(y.tolist()) == set(range(10)) and (x[:, 0] == x[:, 2]).all()
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3


def test_the_mnist1d_compress_example_runs_on_a_checkpoint(workdir: Path) -> None:
    """The study file as shipped, with an untrained checkpoint of its builder standing in for
    the trained one and a tiny budget: every candidate derives from the base."""
    from studies.mnist1d_base import build_base

    torch.save(build_base((1, 40), 10).state_dict(), workdir / "base.pt")
    cfg = load_config(STUDIES / "mnist1d_compress.toml")
    cfg = dataclasses.replace(
        cfg, n_trials=2, storage=str(workdir / "s.db"), output_dir=str(workdir / "out"),
        base=dataclasses.replace(cfg.base, checkpoint=str(workdir / "base.pt")),
        budget=dataclasses.replace(TINY, epochs=0))
    study = create_or_load(cfg)
    assert run_study(study, cfg, progress=False) == 2
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 2, [t.user_attrs.get("fail_reason") for t in study.trials]
    base = study.user_attrs["base_metrics"]
    assert base["macs"] == 64 * 5 * 40 + 64 * 64 * 5 * (40 + 20) + 640 * 10  # by hand
    assert base["params"] == 48_266 - 3 * 64  # nonzero: untrained batch-norm biases are 0
    assert all(t.user_attrs["metrics"]["macs"] <= base["macs"] for t in trials)
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
