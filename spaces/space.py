"""The space contract (:class:`Space`), the space registry and a Spec's JSON.

A space is a searchable family of models: ``sample(trial) -> Spec`` is the only place it calls
``trial.suggest_*``; ``build(spec, input_shape, num_classes) -> nn.Module`` makes the model.
Subclass :class:`Space` and register it; the name is written once, in the decorator::

    @register_space("mine")         # sets MySpace.name = "mine"
    class MySpace(Space):
        spec_type = MySpec
        def sample(self, trial): ...
        def build(self, spec, input_shape, num_classes): ...

A class that does not subclass Space but has ``name``, ``spec_type``, ``sample`` and ``build``
(duck typing, as before Space existed) still registers: :func:`create_space` wraps it
(:func:`as_space`) so the engine calls the same hooks on every space.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import optuna
from torch import nn

from spaces.knobs import Knobs
from spaces.layers import layer_counts
from spaces.registry import Registry
from spaces.spec import Spec, spec_from_dict, spec_to_dict

__all__ = [
    "SPACES",
    "Space",
    "as_space",
    "create_space",
    "list_spaces",
    "load_spec",
    "register_space",
    "spec_json",
]

F = TypeVar("F", bound=Callable[..., Any])
_REQUIRED = ("name", "spec_type", "sample", "build")


class Space(abc.ABC):
    """A searchable family of models. ``sample`` and ``build`` are required; ``knobs``,
    ``options``, ``check_input`` and ``bind`` are optional hooks the engine always calls, whose
    defaults do nothing."""

    #: The registered name (``[space] name``), set by :func:`register_space`.
    name: str
    #: The Spec dataclass ``sample`` returns (``load_spec`` rebuilds it from JSON).
    spec_type: type
    #: Domains of the compression and training knobs (``spaces.knobs.Knobs``); the config check
    #: reads them (e.g. ``kd_weight`` needs a teacher). None: a space without knobs.
    knobs: Knobs | None = None
    #: The options the space was created with, as plain data (``create_space(name, options)``
    #: makes it again); ``Study(space=instance)`` stores them. None: it keeps none.
    options: dict[str, Any] | None = None
    #: ``(input_shape, num_classes)`` of the data, once :meth:`bind` was called.
    data_shape: tuple[tuple[int, ...], int] | None = None
    #: What :meth:`layer_counts` builds for while unbound: an image large enough that no
    #: stride is skipped (on the meta device its size costs nothing).
    probe_shape: tuple[tuple[int, ...], int] = ((3, 1024, 1024), 10)

    @abc.abstractmethod
    def sample(self, trial: optuna.Trial) -> Any:
        """Draw a Spec of ``spec_type``; the only place the space calls ``trial.suggest_*``."""

    @abc.abstractmethod
    def build(self, spec: Any, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """The module of ``spec`` for inputs of ``input_shape`` and ``num_classes`` outputs."""

    def check_input(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """Hook run once before any trial: raise ValueError naming ``space.<option>`` when the
        options cannot fit inputs of ``input_shape`` (e.g. patches that do not divide it).
        Default: every input fits."""
        return None  # a hook with nothing to check by default (not abstract)

    def bind(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """Hook run once before any trial with the data's shape (``search.run.prepare``).
        Default: record it as ``data_shape``, which :meth:`layer_counts` builds for."""
        self.data_shape = (tuple(input_shape), num_classes)

    def teacher(self) -> nn.Module | None:
        """Hook: a trained model of this space that distils into every candidate when
        ``kd_weight`` > 0 (e.g. the base of a compress-mode study). Default: none; the study's
        ``[distill] teacher`` is used."""
        return None

    def layer_counts(self, spec: Any) -> tuple[int, int]:
        """``(n_groups, n_layers)`` for ``Knobs.sample``: the ratio targets and prunable layers
        of ``spec``'s model (``spaces.layers.layer_counts``), built on the meta device for
        ``data_shape`` (``probe_shape`` while unbound). ``(0, 0)`` when no per-layer knob is
        on, as then nothing reads them."""
        knobs = self.knobs
        if knobs is None or not (knobs.per_layer_prune or knobs.per_layer_bits):
            return 0, 0
        shape, classes = self.data_shape or self.probe_shape
        return layer_counts(lambda: self.build(spec, shape, classes))


class _DuckSpace(Space):
    """A space object that does not subclass :class:`Space`: calls go through to it, and a hook
    it lacks does what Space's default does."""

    def __init__(self, space: Any) -> None:
        self.space = space
        self.name, self.spec_type = space.name, space.spec_type
        self.knobs, self.options = self._hook("knobs"), self._hook("options")

    def _hook(self, member: str) -> Any:
        """The wrapped space's ``member``, or None (the one place hooks are probed)."""
        return getattr(self.space, member, None)

    def sample(self, trial: optuna.Trial) -> Any:
        return self.space.sample(trial)

    def build(self, spec: Any, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        model: nn.Module = self.space.build(spec, input_shape, num_classes)
        return model

    def check_input(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        hook = self._hook("check_input")
        if callable(hook):
            hook(input_shape, num_classes)

    def bind(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().bind(input_shape, num_classes)
        hook = self._hook("bind")
        if callable(hook):
            hook(input_shape, num_classes)


def _missing(obj: Any) -> list[str]:
    return [m for m in _REQUIRED if not hasattr(obj, m)]


def as_space(obj: Any) -> Space:
    """``obj`` as a :class:`Space`: itself when it subclasses Space, else wrapped so its
    missing hooks do nothing. TypeError naming what it lacks when it is no space at all."""
    if isinstance(obj, Space):
        return obj
    missing = _missing(obj)
    if missing:
        raise TypeError(f"space: {type(obj).__name__} is not a space (it has no "
                        f"{', '.join(missing)}); subclass spaces.Space")
    return _DuckSpace(obj)


SpaceFactory = Callable[[Mapping[str, Any]], Any]

#: Space name -> factory (usually the class) taking the ``[space]`` options without ``name``;
#: it raises ValueError naming the offending ``space.<option>``, and has a ``spec_type``.
SPACES: Registry[SpaceFactory] = Registry(
    "space", "space.name", "or list the module that registers it in [study] imports")

#: The registered space names, sorted.
list_spaces = SPACES.names


def register_space(name: str | None = None) -> Callable[[F], F]:
    """``@register_space("mine")`` above a space class registers it and sets its ``name``;
    ``@register_space()`` reads the class's own ``name``. ValueError when the name is taken or
    the class names itself otherwise; TypeError when a class lacks ``sample``, ``build`` or
    ``spec_type``."""

    def register(factory: F) -> F:
        key = name if name is not None else getattr(factory, "name", None)
        if not isinstance(key, str) or not key:
            raise ValueError("space.name: give the name, @register_space(\"mine\"), or set "
                             f"name on {getattr(factory, '__qualname__', factory)!r}")
        if key in SPACES:
            SPACES.add(key, factory)  # raises unless it is the registered definition again
        if isinstance(factory, type):
            missing = [m for m in _missing(factory) if m != "name"]
            if missing:
                raise TypeError(f"space {key!r}: {factory.__qualname__} has no "
                                f"{', '.join(missing)}; subclass spaces.Space")
            own = factory.__dict__.get("name", key)
            if own != key:
                raise ValueError(f"space.name: {factory.__qualname__} names itself {own!r} but "
                                 f"is registered as {key!r}; remove its name attribute")
        setattr(factory, "name", key)  # noqa: B010  (a function factory has no annotation)
        SPACES.add(key, factory)
        return factory

    return register


def create_space(name: str, options: Mapping[str, Any] | None = None) -> Space:
    """Instantiate the space registered as ``name`` with its options."""
    return as_space(SPACES[name](dict(options or {})))


def spec_json(space: Space, spec: Spec) -> str:
    """JSON text of a Spec, tagged with its space name so it can be rebuilt without the study."""
    return json.dumps({"space": space.name, **spec_to_dict(spec)}, sort_keys=True)


def load_spec(text: str) -> tuple[str, Any]:
    """Parse :func:`spec_json` output back into ``(space_name, spec)``."""
    data = json.loads(text)
    name = data.pop("space", None)
    try:
        factory = SPACES[name]
    except ValueError as err:
        raise ValueError(f"spec: {err}") from None
    spec_type: type = getattr(factory, "spec_type")  # noqa: B009  (no options needed)
    return name, spec_from_dict(spec_type, data)
