"""Storage URLs → Optuna storages: SQLite (default), a journal file, PostgreSQL (any RDB URL).

Passwords never leave this module: :func:`redact` is what logs, errors and ``ls`` show.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from search.errors import StorageError
from search.storage.reaper import retry_once

__all__ = ["DEFAULT_STORAGE", "HEARTBEAT_SECONDS", "open_storage", "redact"]

DEFAULT_STORAGE = "sqlite:///runs/frontier.db"
#: Heartbeat interval of RDB storages; a trial without a heartbeat for 3 intervals is failed
#: and retried once. The environment variable FRONTIER_HEARTBEAT_SECONDS overrides it.
HEARTBEAT_SECONDS = 10
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def normalize(url: str) -> str:
    """Plain paths become storage URLs: ``x.db`` → ``sqlite:///x.db``, ``x.log`` → journal."""
    if "://" in url:
        return url
    if url.endswith(JOURNAL_SUFFIXES):
        return f"journal:///{url}"
    return f"sqlite:///{url}"


def open_storage(url: str, *, create: bool = True) -> optuna.storages.BaseStorage:
    """Open (and with ``create``, initialise) the storage behind ``url``.

    With ``create=False`` a missing SQLite or journal file is an error, not a new empty file.
    """
    url = normalize(url)
    if url.startswith("journal:///"):
        path = Path(url.removeprefix("journal:///"))
        _check_file(path, url, create)
        return JournalStorage(JournalFileBackend(str(path)))
    if url.startswith("sqlite:///"):
        _check_file(Path(url.removeprefix("sqlite:///")), url, create)
    elif not re.match(r"^(postgresql|mysql)(\+\w+)?://", url):
        raise StorageError(f"storage: {redact(url)!r} is not a storage URL; use a .db path, "
                           "a .log journal path, sqlite:///..., or postgresql://...")
    try:
        beat = int(os.environ.get("FRONTIER_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = RDBStorage(
                url,
                heartbeat_interval=beat,
                grace_period=3 * beat,
                heartbeat_stale_trial_callback=retry_once,
            )
        if url.startswith("sqlite:///"):
            _use_wal(storage)
        return storage
    except Exception as err:  # SQLAlchemy raises many types; all mean "cannot open"
        reason = redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
        raise StorageError(f"storage: cannot open {redact(url)} ({reason}); check the URL, "
                           "that the server runs and the credentials") from None


def _use_wal(storage: RDBStorage) -> None:
    """SQLite in WAL mode with ``synchronous=NORMAL``: readers do not block the writer and a
    commit needs no fsync of the main file; about a third less time per trial in Optuna's own
    storage calls (see bench/overhead.py). Durable against process crashes, not power loss of
    the last commits."""

    def on_connect(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    sqlalchemy.event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()  # reconnect so every pooled connection gets the pragmas


def _check_file(path: Path, url: str, create: bool) -> None:
    if path.exists():
        if path.is_dir():
            raise StorageError(f"storage: {path} is a directory; give a file path")
        return
    if not create:
        raise StorageError(f"storage: {redact(url)} does not exist; check the path or run a "
                           "study first with `frontier run CONFIG.toml`")
    path.parent.mkdir(parents=True, exist_ok=True)
