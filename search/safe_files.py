"""Writing output files safely: never through a symlink, never half-written, never where a
stored path (rather than the user) decides.

Every file Frontier writes (tables, plots, the report, images, model folders) goes through
:func:`write_bytes` / :func:`write_text`: the content is written to a temporary file in the
same folder and moved over the target with ``os.replace``, which replaces a symlink planted at
the target instead of writing through it, and leaves either the old file or the whole new one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from search.errors import ConfigError

__all__ = ["check_inside", "check_out_dir", "write_bytes", "write_text"]


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, replacing (never following) a symlink there;
    the folder is created. Returns ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def write_text(path: str | Path, text: str) -> Path:
    """:func:`write_bytes` of ``text`` in UTF-8."""
    return write_bytes(path, text.encode("utf-8"))


def check_out_dir(path: str | Path, field: str) -> Path:
    """Raise ConfigError naming ``field`` unless ``path`` is, or can be created as, a writable
    folder (not a file, not under a file, not a read-only place). Whether the nearest existing
    folder can be written is tried for real, with a folder made and removed at once (root
    passes ``os.access`` even where nothing can be made, e.g. under ``/proc``); nothing else
    is created."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{field}: {p} is a file, not a folder; give a folder path")
    probe = p
    while not probe.exists():
        if probe.is_symlink():
            raise ConfigError(f"{field}: {probe} is a dangling symlink; remove it or give "
                              "another folder")
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{field}: {probe} is a file, so {p} cannot be a folder; give "
                          "another path")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".frontier-probe-", dir=probe))
    except OSError as err:
        raise ConfigError(f"{field}: {probe} is not writable ({err.strerror or err}); give a "
                          "folder you can write to") from None
    return p


def check_inside(path: str | Path, field: str, flag: str = "--out") -> Path:
    """Raise ConfigError unless ``path`` (a path read from a stored study, not given by the
    user) stays inside the current folder: absolute paths and ``..`` would let a shared
    storage decide where files are written."""
    p = Path(path)
    if p.is_absolute() or ".." in p.parts:
        raise ConfigError(f"{field}: the stored output folder {p} is outside the current "
                          f"folder; pass {flag} to choose where to write")
    return p
