"""The name -> space registry, so a TOML file can say ``space = "cnn"``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import optuna
from torch import nn

from spaces.spec import Spec, spec_from_dict, spec_to_dict

__all__ = [
    "SPACES",
    "Space",
    "create_space",
    "load_spec",
    "register_space",
    "spec_json",
]


class Space(Protocol):
    """A searchable family of models: ``sample`` draws a Spec, ``build`` makes the module."""

    name: str
    spec_type: type

    def sample(self, trial: optuna.Trial) -> Any: ...

    def build(self, spec: Any, input_shape: tuple[int, ...], num_classes: int) -> nn.Module: ...


SpaceFactory = Callable[[Mapping[str, Any]], Space]

SPACES: dict[str, SpaceFactory] = {}


def register_space(name: str) -> Callable[[SpaceFactory], SpaceFactory]:
    """Register a space factory (usually the class) under ``name``.

    The factory takes the ``[space]`` options of a config (without ``name``) and must raise
    ValueError naming the offending ``space.<option>``.
    """

    def decorator(factory: SpaceFactory) -> SpaceFactory:
        SPACES[name] = factory
        return factory

    return decorator


def create_space(name: str, options: Mapping[str, Any] | None = None) -> Space:
    """Instantiate the space registered as ``name`` with its options."""
    if name not in SPACES:
        raise ValueError(f"space.name: unknown space {name!r}; choose one of {sorted(SPACES)}, "
                         "or list the module that registers it in [study] imports")
    return SPACES[name](dict(options or {}))


def spec_json(space: Space, spec: Spec) -> str:
    """JSON text of a Spec, tagged with its space name so it can be rebuilt without the study."""
    return json.dumps({"space": space.name, **spec_to_dict(spec)}, sort_keys=True)


def load_spec(text: str) -> tuple[str, Any]:
    """Parse :func:`spec_json` output back into ``(space_name, spec)``."""
    data = json.loads(text)
    name = data.pop("space", None)
    if name not in SPACES:
        raise ValueError(f"spec: unknown space {name!r}; choose one of {sorted(SPACES)}")
    spec_type: type = getattr(SPACES[name], "spec_type")  # noqa: B009  (no options needed)
    return name, spec_from_dict(spec_type, data)
