"""TOML text of a study config's tables (the inverse of ``tomllib.loads`` for plain data).

Only what a config holds: strings, booleans, integers, floats, lists and inline tables (domain
ranges such as ``{ low = 0.0, high = 0.9 }``). ``None`` means "not set": such a key is left
out, so reading the text back gives the field's default, which is ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def dumps(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """``[name]`` tables in the given order, keys in their order, ``None`` values left out;
    a table with nothing set is left out."""
    blocks = []
    for name, table in tables.items():
        lines = [f"{_key(k)} = {_value(v)}" for k, v in table.items() if v is not None]
        if lines:
            blocks.append("\n".join([f"[{_key(name)}]", *lines]))
    return "\n\n".join(blocks) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    out = (_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
           for c in text)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise ValueError(f"{value!r} ({type(value).__name__}) has no TOML form; give plain data "
                     "(strings, numbers, booleans, lists, tables)")
