"""Every name -> object registry, and every entry in it: each space samples, builds, trains and
round-trips its Spec; each sampler runs a study; each dataset loads or names its missing
files; each augmentation, metric and loss runs on a batch; each teacher builds (as timm tests
every registered model)."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from torch import nn

from objectives.data import (
    DATASETS,
    DataConfig,
    TensorData,
    check_dataset,
    list_datasets,
    register_dataset,
)
from objectives.data.augment import AUGMENTS, list_augmentations
from objectives.distill import TEACHERS, list_teachers, register_teacher
from objectives.pipeline import evaluate
from objectives.task import LOSSES, METRICS, list_losses, list_metrics
from search.errors import FrontierError
from search.samplers import SAMPLERS, list_samplers, make_sampler
from spaces.cnn import CNNSpace, CNNSpec
from spaces.mlp import MLPSpace
from spaces.registry import (
    SPACES,
    Registry,
    create_space,
    list_spaces,
    load_spec,
    register_space,
    spec_json,
)
from tests.conftest import TINY

ONE_EPOCH = dataclasses.replace(TINY, epochs=1)
DIGITS = ((1, 8, 8), 10)


def tiny_build(trial: optuna.Trial, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A user's define-by-run builder, for the "model" space."""
    hidden = trial.suggest_categorical("hidden", [4, 8])
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


#: Options a space needs (the rest are built with their defaults).
SPACE_OPTIONS: dict[str, dict[str, Any]] = {"model": {"model": f"{__file__}:tiny_build"}}

REGISTRIES: dict[str, tuple[Registry[Any], Callable[[], list[str]]]] = {
    "space": (SPACES, list_spaces),
    "dataset": (DATASETS, list_datasets),
    "sampler": (SAMPLERS, list_samplers),
    "teacher": (TEACHERS, list_teachers),
    "augmentation": (AUGMENTS, list_augmentations),
    "metric": (METRICS, list_metrics),
    "loss": (LOSSES, list_losses),
}


# --- every entry ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list_spaces())
def test_every_space_samples_builds_trains_and_round_trips(name: str, digits: TensorData) -> None:
    space = create_space(name, SPACE_OPTIONS.get(name, {}))
    if hasattr(space, "bind"):  # a builder needs the data's shape to sample (as search.run)
        space.bind(*DIGITS)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    spec = space.sample(trial)
    assert isinstance(spec, space.spec_type)
    model = space.build(spec, *DIGITS)
    assert model(digits.val.x[:4].cpu()).shape == (4, 10)
    measured, _ = evaluate(space, spec, digits, ONE_EPOCH)
    assert 0 <= measured.val_accuracy <= 1 and measured.params > 0
    assert load_spec(spec_json(space, spec)) == (name, spec)


@pytest.mark.parametrize("name", list_samplers())
def test_every_sampler_runs_a_tiny_study(name: str, digits: TensorData) -> None:
    space = create_space("cnn", {"max_depth": 1, "widths": [4, 8], "bits": [8, 32]})
    budget = dataclasses.replace(ONE_EPOCH, finetune_epochs=0, qat_epochs=0, latency_reps=0)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        measured, _ = evaluate(space, space.sample(trial), digits, budget)
        return measured.val_accuracy, measured.params

    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=make_sampler(name, 0, 2))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=3)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3


@pytest.mark.parametrize("name", list_datasets())
def test_every_dataset_loads_or_names_its_missing_files(name: str, tmp_path: Path) -> None:
    dataset = DATASETS[name]
    assert dataset.augment in AUGMENTS
    if dataset.check is None:  # no files to find: it loads
        x, y, classes = dataset(DataConfig(name))
        assert x.dtype == "float32" and x.ndim == 4 and len(x) == len(y) and classes >= 2
        return
    for cfg in (DataConfig(name), DataConfig(name, data_dir=str(tmp_path))):
        with pytest.raises(ValueError, match=r"^dataset\.data_dir: "):
            check_dataset(cfg)


@pytest.mark.parametrize("name", list_augmentations())
def test_every_augmentation_runs_on_a_batch(name: str, digits: TensorData) -> None:
    fn = AUGMENTS[name]
    if fn is None:  # "none"
        return
    x = digits.train.x[:8].cpu()
    out = fn(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype and out.isfinite().all()


def _classes(grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(8, 10, requires_grad=grad), torch.randint(0, 10, (8,))


def _numbers(grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(8, 1, requires_grad=grad), torch.randn(8)


def _on_a_batch(fn: Callable[[torch.Tensor, torch.Tensor], Any], grad: bool) -> Any:
    """``fn`` on class logits and labels, else on one output per row and float targets (each
    entry is for one of the two; a warning counts as the wrong one). Losses get outputs that
    need gradients, metrics do not."""
    errors = []
    for batch in (_classes, _numbers):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return fn(*batch(grad))
            except (RuntimeError, ValueError, UserWarning) as err:
                errors.append(err)
    raise AssertionError(f"runs on neither batch: {errors}")


@pytest.mark.parametrize("name", list_metrics())
def test_every_metric_runs_on_a_batch(name: str) -> None:
    value = _on_a_batch(METRICS[name], grad=False)
    assert isinstance(value, float) and math.isfinite(value)


@pytest.mark.parametrize("name", list_losses())
def test_every_loss_runs_on_a_batch_and_differentiates(name: str) -> None:
    loss = _on_a_batch(LOSSES[name], grad=True)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0 and loss.isfinite()
    loss.backward()


@pytest.mark.parametrize("name", list_teachers())
def test_every_teacher_builds(name: str, digits: TensorData) -> None:
    space_name, spec = TEACHERS[name]
    model = create_space(space_name).build(spec, *DIGITS)
    assert model(digits.val.x[:4].cpu()).shape == (4, 10)


# --- the registries ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", REGISTRIES)
def test_list_functions_return_the_sorted_names(kind: str) -> None:
    registry, list_names = REGISTRIES[kind]
    names = list_names()
    assert names and names == sorted(names) == sorted(registry) == list(registry)
    assert len(registry) == len(names) and all(n in registry for n in names)


@pytest.mark.parametrize("kind", REGISTRIES)
def test_unknown_names_list_what_exists(kind: str) -> None:
    registry, list_names = REGISTRIES[kind]
    known = list_names()
    message = rf"^{registry.field}: unknown {kind} 'nope'; choose one of \[{repr(known)[1:-1]}\]"
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        registry["nope"]
    assert registry.get("nope", None) is None and "nope" not in registry


@pytest.mark.parametrize("kind", REGISTRIES)
def test_a_taken_name_raises_unless_it_is_the_same_object(kind: str) -> None:
    registry, list_names = REGISTRIES[kind]
    name = list_names()[0]
    entry = registry[name]
    assert registry.add(name, entry) is entry  # a module imported twice
    with pytest.raises(ValueError, match=rf"{kind} '{name}' is already registered"):
        registry.add(name, object())
    assert registry[name] is entry


def test_register_functions_refuse_a_taken_name() -> None:
    register_space("cnn")(CNNSpace)
    with pytest.raises(ValueError, match=r"^space\.name: space 'cnn' is already registered"):
        register_space("cnn")(MLPSpace)
    cifar = DATASETS["cifar10"]
    register_dataset("cifar10", check=cifar.check, augment=cifar.augment)(cifar.load)
    with pytest.raises(ValueError, match="dataset 'cifar10' is already registered"):
        register_dataset("cifar10", check=cifar.check)(cifar.load)  # another default augment
    register_teacher("cnn-large", "cnn", CNNSpec((64, 64, 64)))
    with pytest.raises(ValueError, match="teacher 'cnn-large' is already registered"):
        register_teacher("cnn-large", "cnn", CNNSpec((8,)))
    assert DATASETS["cifar10"] == cifar and TEACHERS["cnn-large"][1] == CNNSpec((64, 64, 64))


def test_lookups_by_config_name_raise_the_registry_error() -> None:
    with pytest.raises(ValueError, match=r"^space\.name: unknown space 'vit'; choose one of "
                                         r"\[.*'cnn'.*\], or list the module"):
        create_space("vit")
    with pytest.raises(ValueError, match=r"^spec: space\.name: unknown space 'vit'"):
        load_spec('{"space": "vit"}')
    with pytest.raises(ValueError, match=r"^dataset\.name: unknown dataset 'x'.*dataset\.source"):
        check_dataset(DataConfig("x"))
    with pytest.raises(FrontierError, match=r"^sampler\.name: unknown sampler 'x'; choose one "
                                            r"of \['gp', 'nsga2'"):
        make_sampler("x", 0, 2)


def _load_as(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_registry_on_its_own(tmp_path: Path) -> None:
    things: Registry[Callable[[], int]] = Registry("thing", "study.thing", "or write your own")

    @things.register("one")
    def one() -> int:
        return 1

    things.add("two", lambda: 2)
    assert things["one"] is one and things.get("two")() == 2 and things.names() == ["one", "two"]
    assert repr(things) == "Registry('thing', ['one', 'two'])"
    with pytest.raises(ValueError, match=r"^study\.thing: unknown thing 'three'; choose one of "
                                         r"\['one', 'two'\], or write your own$"):
        things.get("three")
    with pytest.raises(ValueError, match="thing 'two' is already registered"):
        things.add("two", lambda: 2)  # another lambda, though it reads the same
    with pytest.raises(ValueError, match="non-empty string"):
        things.add("", one)
    things.replace("two", one)
    assert things["two"] is one
    # The same file imported under two module names (a script that is also imported) defines
    # the same functions again: registering them again is not a clash.
    (tmp_path / "plugin.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    first, second = _load_as(tmp_path / "plugin.py", "plugin"), _load_as(
        tmp_path / "plugin.py", "plugin_again")
    things.add("f", first.f)
    assert things.add("f", second.f) is second.f
    with pytest.raises(ValueError, match="thing 'f' is already registered"):
        things.add("f", second.g)
