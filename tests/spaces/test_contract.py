"""The space contract, checked on every registered space (as timm tests every registered model):
it is a :class:`spaces.Space` registered once under its own name; ``sample`` on a real trial
gives a Spec of ``spec_type`` that round-trips through JSON; ``build`` gives a module that
runs on a batch and trains; the per-layer counts of its meta-device build are those of the
real model, and the per-layer knobs it samples line up with them. Then the user's side: a
space written without subclassing Space (duck typing) still registers and runs."""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any

import optuna
import pytest
import torch
from torch import nn

from objectives.data import TensorData
from objectives.pipeline import evaluate
from spaces.base import BaseSpace
from spaces.layers import layer_counts, prunable_layers, ratio_targets
from spaces.space import (
    SPACES,
    Space,
    as_space,
    create_space,
    list_spaces,
    load_spec,
    register_space,
    spec_json,
)
from tests.conftest import DIGITS, ONE_EPOCH


def tiny_build(trial: optuna.Trial, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A user's define-by-run builder, for the "model" space."""
    hidden = trial.suggest_categorical("hidden", [4, 8])
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


#: Options a space needs (the rest are built with their defaults).
SPACE_OPTIONS: dict[str, dict[str, Any]] = {"model": {"model": f"{__file__}:tiny_build"}}


def tiny_base() -> nn.Module:
    """A trained-looking base for the "base" space (a compress-mode study's candidates)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 64, 10))


def _space(name: str, **options: Any) -> Space:
    space = create_space(name, {**SPACE_OPTIONS.get(name, {}), **options})
    space.bind(*DIGITS)  # as search.run.prepare does before any trial
    if isinstance(space, BaseSpace):  # and, in compress mode, hands over the base
        space.use_base(tiny_base())
    return space


def _trials(n: int) -> list[optuna.Trial]:
    return [optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=s)).ask()
            for s in range(n)]


def _per_layer(name: str) -> list[dict[str, bool]]:
    """The per-layer knob settings ``name`` accepts (a space refuses those it cannot honour)."""
    accepted = []
    for prune, bits in ((True, True), (True, False), (False, True)):
        flags = {"per_layer_prune": prune, "per_layer_bits": bits}
        try:
            _space(name, **flags)
        except ValueError:
            continue
        accepted.append(flags)
    return accepted


@pytest.mark.parametrize("name", list_spaces())
def test_every_space_is_a_space_registered_once_under_its_name(name: str) -> None:
    space = create_space(name, SPACE_OPTIONS.get(name, {}))
    factory = SPACES[name]
    assert isinstance(space, Space) and isinstance(factory, type) and issubclass(factory, Space)
    assert space.name == factory.name == name
    assert [n for n in list_spaces() if SPACES[n] is factory] == [name]
    assert space.knobs is not None and isinstance(space.options, dict)
    assert vars(create_space(name, space.options)).keys() == vars(space).keys()


@pytest.mark.parametrize("name", list_spaces())
def test_every_space_samples_builds_trains_and_round_trips(name: str, digits: TensorData) -> None:
    space = _space(name)
    spec = space.sample(_trials(1)[0])
    assert isinstance(spec, space.spec_type)
    model = space.build(spec, *DIGITS)
    assert model(digits.val.x[:4].cpu()).shape == (4, 10)
    measured, _ = evaluate(space, spec, digits, ONE_EPOCH)
    assert 0 <= measured.val_accuracy <= 1 and measured.params > 0
    assert load_spec(spec_json(space, spec)) == (name, spec)


@pytest.mark.parametrize("name", list_spaces())
def test_meta_build_counts_what_the_real_build_has(name: str) -> None:
    space = _space(name)
    for trial in _trials(3):
        spec = space.sample(trial)
        model = space.build(spec, *DIGITS)
        real = (len(ratio_targets(model)), len(prunable_layers(model)))
        assert real[1] > 0 and layer_counts(partial(space.build, spec, *DIGITS)) == real


@pytest.mark.parametrize("name", list_spaces())
def test_per_layer_knobs_line_up_with_the_built_model(name: str) -> None:
    settings = _per_layer(name)
    if name in ("cnn", "mlp", "resnet", "mobilenet", "model"):
        assert settings, f"{name} should take per_layer_prune"
    for flags in settings:
        space = _space(name, **flags)
        for trial in _trials(4):
            spec = space.sample(trial)
            model = space.build(spec, *DIGITS)
            if flags["per_layer_prune"]:
                assert len(spec.compress.layer_ratios) == len(ratio_targets(model))
                assert ratio_targets(model) or spec.compress.layer_ratios == ()
            if flags["per_layer_bits"]:
                assert len(spec.compress.layer_bits) == len(prunable_layers(model)) > 0


@dataclasses.dataclass(frozen=True)
class _DuckSpec:
    width: int


class _DuckSpace:
    """A space written as the docs showed before Space existed: no base class, no hooks."""

    name = "duck"
    spec_type = _DuckSpec

    def __init__(self, options: dict[str, Any]) -> None:
        self.max_width = int(options.get("max_width", 8))

    def sample(self, trial: optuna.Trial) -> _DuckSpec:
        return _DuckSpec(trial.suggest_int("width", 2, self.max_width))

    def build(self, spec: _DuckSpec, input_shape: tuple[int, ...], num_classes: int
              ) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), spec.width),
                             nn.Linear(spec.width, num_classes))


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spaces registered by a test are gone after it."""
    monkeypatch.setattr(SPACES, "_entries", dict(SPACES._entries))


@pytest.mark.usefixtures("scratch_registry")
def test_a_space_without_the_base_class_still_registers_and_runs() -> None:
    register_space()(_DuckSpace)  # the name is read from the class
    space = create_space("duck", {"max_width": 4})
    assert isinstance(space, Space) and space.name == "duck" and space.spec_type is _DuckSpec
    assert space.knobs is None and space.options is None  # the hooks' defaults
    space.bind(*DIGITS)
    space.check_input(*DIGITS)
    spec = space.sample(_trials(1)[0])
    assert 2 <= spec.width <= 4 and space.layer_counts(spec) == (0, 0)
    assert space.build(spec, *DIGITS)(torch.ones(2, 1, 8, 8)).shape == (2, 10)
    assert load_spec(spec_json(space, spec)) == ("duck", spec)
    with pytest.raises(TypeError, match=r"has no name, spec_type, sample, build"):
        as_space(object())


@pytest.mark.usefixtures("scratch_registry")
def test_register_space_writes_the_name_once_and_refuses_a_second_one() -> None:
    @register_space("wide")
    class Wide(Space):
        spec_type = _DuckSpec

        def sample(self, trial: optuna.Trial) -> _DuckSpec:
            return _DuckSpec(8)

        def build(self, spec: Any, input_shape: tuple[int, ...], num_classes: int
                  ) -> nn.Module:
            return nn.Linear(1, num_classes)

    assert Wide.name == "wide" and SPACES["wide"] is Wide
    with pytest.raises(ValueError, match=r"^space\.name: _DuckSpace names itself 'duck' but "
                                         r"is registered as 'goose'"):
        register_space("goose")(_DuckSpace)
    with pytest.raises(TypeError, match=r"space 'half': .*has no sample, build"):
        register_space("half")(type("Half", (), {"spec_type": _DuckSpec}))

