"""One worker at a time between "is a trial left to start?" and "my trial is RUNNING".

Without this, two workers can both see ``finished + running = target − 1`` and both start a
trial, so the study overshoots its target. The claim is a lock shared by every process of the
study, taken before the count and released as soon as the new trial is RUNNING (the first line
of the objective), so counting and trial creation are one step:

- journal and SQLite files: ``flock`` on ``<file>.claim`` next to the storage file (released by
  the kernel if the process dies);
- PostgreSQL: a session-level advisory lock keyed by the study name (released by the server
  when the connection drops);
- anything else (in-memory, MySQL): no lock, so several workers may overshoot by at most the
  number of workers still running.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Protocol

import optuna
import sqlalchemy
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages._cached_storage import _CachedStorage
from optuna.storages.journal import JournalFileBackend

__all__ = ["Claim", "claim_for"]

CLAIM_SUFFIX = ".claim"  # not ".lock": JournalFileBackend's own lock file is <file>.lock


class Claim(Protocol):
    """A cross-process lock with idempotent release."""

    def acquire(self) -> None: ...

    def release(self) -> None: ...


class _NoClaim:
    def acquire(self) -> None:
        """Nothing to lock."""

    def release(self) -> None:
        """Nothing to unlock."""


class _FileClaim:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class _AdvisoryClaim:
    def __init__(self, engine: sqlalchemy.Engine, study_name: str) -> None:
        digest = hashlib.sha256(f"frontier-claim:{study_name}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self.engine = engine
        self.conn: sqlalchemy.Connection | None = None

    def acquire(self) -> None:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def release(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            finally:
                conn.close()


def _file_of(storage: optuna.storages.BaseStorage) -> Path | None:
    if isinstance(storage, JournalStorage):
        backend = storage._backend
        if isinstance(backend, JournalFileBackend):
            return Path(backend._file_path)
    if isinstance(storage, RDBStorage) and storage.engine.url.get_backend_name() == "sqlite":
        database = storage.engine.url.database
        if database and database != ":memory:":
            return Path(database)
    return None


def claim_for(study: optuna.Study) -> Claim:
    """The claim lock of ``study``'s storage (see the module docstring)."""
    storage = study._storage
    if isinstance(storage, _CachedStorage):
        storage = storage._backend
    path = _file_of(storage)
    if path is not None:
        return _FileClaim(path.with_name(path.name + CLAIM_SUFFIX))
    if isinstance(storage, RDBStorage) and storage.engine.url.get_backend_name() == "postgresql":
        return _AdvisoryClaim(storage.engine, study.study_name)
    return _NoClaim()
