"""Paths a study file names (a checkpoint, a folder): found next to the study file first, then
in the current folder, and kept as absolute paths so every process finds the same file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["find_path", "looked_in"]


def _roots(base_dirs: Sequence[str | Path]) -> list[Path]:
    roots = [Path(d).resolve() for d in base_dirs]
    cwd = Path.cwd().resolve()
    return roots if cwd in roots else [*roots, cwd]


def find_path(path: str | Path, base_dirs: Sequence[str | Path] = ()) -> Path:
    """The absolute path of ``path``: itself when absolute; else the first of ``base_dirs``
    (the study file's folder), then the current folder, where it exists; else its place in the
    first of them (so that a later check names where it was looked for)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    candidates = [root / p for root in _roots(base_dirs)]
    return next((c for c in candidates if c.exists()), candidates[0])


def looked_in(path: str | Path, base_dirs: Sequence[str | Path] = ()) -> str:
    """Where :func:`find_path` looked for ``path``, for an error message."""
    if Path(path).expanduser().is_absolute():
        return str(path)
    return ", ".join(str(root / path) for root in _roots(base_dirs))
