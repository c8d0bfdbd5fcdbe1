"""TOML tables checked against the dataclass they configure: unknown keys and wrong value types
are one-line errors naming ``section.key`` and what it must be."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from search.config_io.limits import check_finite
from search.errors import ConfigError

__all__ = ["typed_table"]


def typed_table(cls: type, table: dict[str, Any], section: str, source: str,
                skip: set[str] | None = None) -> dict[str, Any]:
    """The items of ``table`` (one ``[section]`` of ``source``) after checking their keys and
    value types against the dataclass ``cls``; integers for float fields become floats."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in (skip or set())]
    out = {}
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"{source}: {section}.{key} is not a known option; known: "
                              f"{sorted(names)}")
        if not _type_ok(hints[key], value):
            raise ConfigError(f"{source}: {section}.{key} must be {_type_name(hints[key])}, "
                              f"got {value!r}")
        check_finite(f"{source}: {section}.{key}", value)  # TOML allows inf and nan
        out[key] = float(value) if hints[key] is float else value
    return out


def _type_ok(hint: Any, value: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(h, value) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        return isinstance(value, list | tuple) and all(_type_ok(inner, v) for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint) if h is not type(None))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(hint)[0])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, str(hint))
