"""Option parsing shared by the spaces: each helper raises ValueError naming ``space.<option>``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spaces.domain import Choice, Domain, Range, parse_domain
from spaces.knobs import Knobs, knob_names

__all__ = [
    "count_range",
    "float_domain",
    "int_choices",
    "int_list",
    "non_negative_int",
    "parse_options",
    "per_stage",
    "reject_unknown",
    "stride_choices",
    "stride_pattern",
]


def parse_options(space: str, options: Mapping[str, Any] | None, keywords: Mapping[str, Any],
                  known: Iterable[str]) -> tuple[dict[str, Any], Knobs, dict[str, Any]]:
    """What a space's ``__init__`` is given, a mapping (the registry and ``[space]`` tables
    give one) and/or keyword arguments (which win), as ``(options, knobs, own)``: all the
    options as plain data (tuples become lists, as a TOML file or the stored study gives them
    back), the validated knobs, and the remaining options after checking they are ``known``."""
    merged = _plain({**(options or {}), **keywords})
    own = dict(merged)
    knobs = Knobs.from_options(own)
    reject_unknown(space, own, known)
    return merged, knobs, own


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def reject_unknown(space: str, options: dict[str, Any], known: Iterable[str]) -> None:
    """Raise for the first option of ``options`` that is neither in ``known`` nor a knob."""
    known = tuple(known)
    unknown = set(options) - set(known)
    if unknown:
        key = sorted(unknown)[0]
        raise ValueError(f"space.{key}: unknown option for space '{space}'; known options: "
                         f"{sorted((*known, *knob_names()))}")


def non_negative_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an integer ``>= minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"space.{name}: expected an integer >= {minimum}, got {value!r}")
    return value


def count_range(opts: Mapping[str, Any], low: str, high: str, default: tuple[int, int],
                minimum: int = 1) -> Range:
    """``opts[low]`` to ``opts[high]`` (integers ``>= minimum``, low <= high) as an integer
    Range; ``suggest`` draws from it only when the two differ (e.g. ``depth``)."""
    lo = non_negative_int(low, opts.get(low, default[0]), minimum)
    hi = non_negative_int(high, opts.get(high, default[1]), minimum)
    if lo > hi:
        raise ValueError(f"space.{low}: {lo} exceeds space.{high} {hi}")
    return Range(lo, hi, integer=True)


def per_stage(option: str, have: int, stages: int) -> None:
    """Raise unless a per-stage list ``option`` has an entry for each of ``stages`` stages."""
    if have < stages:
        raise ValueError(f"space.{option}: has {have} entries but space.max_stages is {stages}; "
                         "give one per stage")


def int_choices(name: str, raw: Any, minimum: int = 1) -> Choice:
    """A list (or single value) of integers ``>= minimum`` to choose from."""
    domain = parse_domain(f"space.{name}", raw, kind=int)
    if not isinstance(domain, Choice):
        raise ValueError(f"space.{name}: give a list of integers, not a range")
    bad = [v for v in domain.values if v < minimum]
    if bad:
        raise ValueError(f"space.{name}: values must be >= {minimum}, got {bad[0]}")
    return domain


def float_domain(name: str, raw: Any) -> Domain:
    """A positive float domain: a fixed number, a list of numbers or a ``{low, high}`` range."""
    domain = parse_domain(f"space.{name}", raw, kind=float)
    values = domain.values if isinstance(domain, Choice) else (domain.low, domain.high)
    bad = [v for v in values if not v > 0]
    if bad:
        raise ValueError(f"space.{name}: values must be > 0, got {bad[0]}")
    return domain


def int_list(name: str, raw: Any, minimum: int = 1) -> tuple[int, ...]:
    """A non-empty list of integers ``>= minimum`` (a per-stage setting, not a choice)."""
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError(f"space.{name}: expected a non-empty list of integers, got {raw!r}")
    return tuple(non_negative_int(name, v, minimum) for v in raw)


def stride_choices(name: str, raw: Any) -> Choice:
    """A stride to search: 1, 2 or a list of them."""
    choice = int_choices(name, raw)
    bad = [v for v in choice.values if v not in (1, 2)]
    if bad:
        raise ValueError(f"space.{name}: strides must be 1 or 2, got {bad[0]}")
    return choice


def stride_pattern(name: str, raw: Any) -> tuple[Choice, ...]:
    """A per-stage stride list; each element is 1, 2 or a list of them to search, e.g.
    ``[1, 2, [1, 2]]``."""
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError(f"space.{name}: expected a non-empty list with one stride per stage, "
                         f"got {raw!r}")
    return tuple(stride_choices(name, v) for v in raw)
