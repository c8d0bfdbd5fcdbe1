"""Reading a study file: every way it can fail is a one-line ConfigError naming the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from search.errors import ConfigError

__all__ = ["MAX_CONFIG_BYTES", "read_toml"]

#: A study file is a few kilobytes; anything much larger is not one (and /dev/zero never ends).
MAX_CONFIG_BYTES = 10 * 2**20


def read_toml(path: Path) -> dict[str, Any]:
    """The tables of the TOML file at ``path``; raises ConfigError when it is missing, not a
    regular file, unreadable, too large, not UTF-8 or not valid TOML."""
    if not path.exists():
        raise ConfigError(f"{path}: no such config file; pass the path of a .toml study file")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a config file; pass the path of a "
                          ".toml study file")
    if not path.is_file():
        raise ConfigError(f"{path}: is not a regular file (a device, pipe or socket); pass the "
                          "path of a .toml study file")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file ({err.strerror or err}); check "
                          "its permissions") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MiB, so not a study "
                          "file; pass the path of a .toml study file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start} cannot be decoded); save "
                          "the file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err}); fix the syntax") from None
