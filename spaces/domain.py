"""Search domains: how one TOML/Python value becomes a searchable (or fixed) parameter.

A domain is written as plain data so configs stay data:

- a scalar (``0.01``)                      -> fixed, never suggested
- a list (``[2, 4, 8]``)                   -> categorical choice (a one-element list is fixed)
- a table (``{low = 1e-3, high = 1e-1, log = true}``) -> float (or int) range
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna

__all__ = ["Choice", "Domain", "Range", "parse_domain", "suggest"]


@dataclass(frozen=True)
class Range:
    """A numeric interval, sampled uniformly (or log-uniformly)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Choice:
    """A finite set of values; one value means the parameter is fixed."""

    values: tuple[Any, ...]

    @property
    def fixed(self) -> bool:
        """True when there is nothing to choose."""
        return len(self.values) == 1


Domain = Range | Choice


def parse_domain(field: str, raw: Any, *, kind: type = float) -> Domain:
    """Turn a config value into a Domain, raising ValueError that names ``field``."""
    if isinstance(raw, Range | Choice):
        return raw
    if isinstance(raw, dict):
        unknown = set(raw) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(raw):
            raise ValueError(
                f"{field}: a range needs exactly 'low' and 'high' (and optional 'log'), "
                f"got keys {sorted(raw)}"
            )
        low, high = raw["low"], raw["high"]
        if not all(_is_number(v) for v in (low, high)):
            raise ValueError(f"{field}: 'low' and 'high' must be numbers, got {low!r}, {high!r}")
        if not all(math.isfinite(v) for v in (low, high)):
            raise ValueError(f"{field}: 'low' and 'high' must be finite numbers, got {low!r}, "
                             f"{high!r}; give finite bounds")
        if low > high:
            raise ValueError(f"{field}: low ({low}) must not exceed high ({high})")
        if kind is int and not all(isinstance(v, int) for v in (low, high)):
            raise ValueError(f"{field}: an integer range needs integer bounds, got {low!r}, "
                             f"{high!r}")
        log = raw.get("log", False)
        if not isinstance(log, bool):
            raise ValueError(f"{field}: 'log' must be true or false, got {log!r}")
        if log and low <= 0:
            raise ValueError(f"{field}: a log range needs low > 0, got {low}")
        return Range(float(low), float(high), log=log, integer=kind is int)
    if isinstance(raw, list | tuple):
        if not raw:
            raise ValueError(f"{field}: the list of choices is empty; give at least one value")
        values = tuple(_coerce(field, v, kind) for v in raw)
        if len(set(values)) != len(values):
            raise ValueError(f"{field}: the choices {list(raw)} contain duplicates")
        return Choice(values)
    return Choice((_coerce(field, raw, kind),))


def suggest(trial: optuna.Trial, name: str, domain: Domain) -> Any:
    """Suggest ``name`` from ``domain``; a fixed Choice returns its value without suggesting."""
    if isinstance(domain, Choice):
        if domain.fixed:
            return domain.values[0]
        return trial.suggest_categorical(name, list(domain.values))
    if domain.low == domain.high:
        return int(domain.low) if domain.integer else domain.low
    if domain.integer:
        return trial.suggest_int(name, int(domain.low), int(domain.high), log=domain.log)
    return trial.suggest_float(name, domain.low, domain.high, log=domain.log)


def domain_values(domain: Domain) -> Sequence[Any]:
    """The end points (Range) or all values (Choice), for validation."""
    if isinstance(domain, Choice):
        return domain.values
    return (domain.low, domain.high)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coerce(field: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{field}: expected true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{field}: expected a string, got {value!r}")
        return value
    if kind is int:
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise ValueError(f"{field}: expected an integer, got {value!r}")
        return value
    if not _is_number(value):
        raise ValueError(f"{field}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{field}: {value!r} is not a finite number; give a finite value")
    return float(value)
