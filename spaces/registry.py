"""Name -> object registries: one small pattern for every kind of thing a config names.

A :class:`Registry` maps names to objects of one kind (spaces, datasets, samplers, teachers,
augmentations, metrics, losses), so a TOML file can say ``space = "cnn"`` and a user can add
their own in three lines::

    @register_space("mine")
    class MySpace(Space): ...

Each kind has its registry and a ``register_<kind>`` / ``list_<kind>s`` pair next to the code
that uses it (``spaces.space.register_space``, ``objectives.data.register_dataset``,
``search.samplers.register_sampler``...). This module imports nothing of Frontier's, so any
layer can hold a registry.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")
_REQUIRED: Any = object()


class Registry(Generic[T]):
    """Names -> objects of one ``kind``; lookups of an unknown name raise a ValueError that
    names the config ``field`` and lists the known names (``hint`` is added to it).

    ``register(name)`` is a decorator and ``add(name, obj)`` its plain form. A taken name
    raises ValueError, unless the object is the one registered (or the same definition loaded
    again: the same module or file and qualified name, as when a script is also imported);
    ``replace`` swaps a built-in on purpose. Reads as the dicts it replaces: ``name in reg``,
    ``reg[name]``, ``reg.get(name, default)``, ``sorted(reg)``, ``len(reg)``.
    """

    def __init__(self, kind: str, field: str, hint: str = "") -> None:
        self.kind, self.field, self.hint = kind, field, hint
        self._entries: dict[str, T] = {}

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` as ``name`` and return it."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} is registered under a non-empty string, not "
                             f"{name!r}")
        if name in self._entries and not _same_definition(self._entries[name], obj):
            raise ValueError(f"{self.field}: {self.kind} {name!r} is already registered "
                             f"({_describe(self._entries[name])}); choose another name")
        self._entries[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@reg.register("name")`` above a def or class."""
        return lambda obj: self.add(name, obj)

    def replace(self, name: str, obj: T) -> T:
        """Register ``obj`` as ``name`` whether or not the name is taken (benchmarks, tests)."""
        self._entries[name] = obj
        return obj

    def get(self, name: str, default: Any = _REQUIRED) -> T:
        """The object registered as ``name``. An unknown name returns ``default`` when one is
        given, else raises ValueError naming the field and the known names."""
        if name in self._entries:
            return self._entries[name]
        if default is not _REQUIRED:
            return default
        hint = f", {self.hint}" if self.hint else ""
        raise ValueError(f"{self.field}: unknown {self.kind} {name!r}; choose one of "
                         f"{self.names()}{hint}")

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _same_definition(old: Any, new: Any) -> bool:
    """Whether ``new`` is what ``old`` is: the same object, an equal value, or the same
    def/class loaded again (same qualified name, and same module or same file). A dataclass
    entry (e.g. a dataset's loader and check) is compared field by field."""
    if old is new:
        return True
    if dataclasses.is_dataclass(old) and not isinstance(old, type) and type(old) is type(new):
        return all(_same_definition(getattr(old, f.name), getattr(new, f.name))
                   for f in dataclasses.fields(old))
    name = getattr(old, "__qualname__", None)
    if isinstance(name, str) and "<" not in name:  # not a lambda or a local function
        if name != getattr(new, "__qualname__", None):
            return False
        return (getattr(old, "__module__", None) == getattr(new, "__module__", None)
                or _file(old) == _file(new) is not None)
    try:
        return bool(old == new)
    except (ValueError, RuntimeError, TypeError):  # == gave an array, not a truth value
        return False


def _file(obj: Any) -> str | None:
    """The file that defines a function (its code's) or a class (its module's)."""
    code = getattr(obj, "__code__", None)
    if code is not None:
        return str(code.co_filename)
    return getattr(sys.modules.get(getattr(obj, "__module__", "")), "__file__", None)


def _describe(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None)
    return f"{getattr(obj, '__module__', '?')}.{name}" if name else repr(obj)
