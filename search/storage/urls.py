"""Storage URLs → Optuna storages: SQLite (default), a journal file, PostgreSQL (any RDB URL).

Passwords never leave this module: :func:`redact` is what logs, errors and ``ls`` show.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from search.errors import StorageError, describe
from search.storage.reaper import retry_once

__all__ = ["DEFAULT_STORAGE", "HEARTBEAT_SECONDS", "open_storage", "redact"]

DEFAULT_STORAGE = "sqlite:///runs/frontier.db"
#: Heartbeat interval of RDB storages; a trial without a heartbeat for 3 intervals is failed
#: and retried once. The environment variable FRONTIER_HEARTBEAT_SECONDS overrides it.
HEARTBEAT_SECONDS = 10
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
SQLITE_HEADER = b"SQLite format 3\x00"


#: ``scheme://user:password@host``: the password runs from the first ``:`` of the user part to
#: the last ``@`` (an unquoted ``@`` or ``/`` may be inside it); the user may be empty.
_USERINFO = re.compile(r"(://[^:/@?#\s]*:)[^\s]*@")
#: ``?password=pw`` / ``&password=pw`` in a query string (and ``password=pw`` in a libpq
#: key-value string), also ``sslpassword``, ``passwd``, ``pwd``.
_KEYWORD = re.compile(r"(?i)\b((?:ssl)?password|passwd|pwd)(\s*=\s*)('[^']*'|[^&;\s]*)")


def redact(url: str) -> str:
    """``url`` (or a message holding one) with every password replaced by ``***``: after
    ``user:`` (also an empty user, any scheme such as ``postgresql+psycopg``) and as a
    ``password=`` parameter."""
    return _KEYWORD.sub(r"\1\2***", _USERINFO.sub(r"\1***@", url))


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
        _check_journal(path)
        try:  # Optuna replays the whole journal here
            return JournalStorage(JournalFileBackend(str(path)))
        except Exception as err:  # KeyError, TypeError, AssertionError... of a foreign file
            raise StorageError(f"storage: {path} is not a readable Optuna journal "
                               f"({describe(err)}); give the journal file a "
                               "study wrote, or a new path") from None
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        _check_file(path, url, create)
        _check_sqlite(path, create)
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
    """A storage file is a regular file (or, with ``create``, can be made one); creates its
    folder with ``create``."""
    if path.exists():
        if path.is_dir():
            raise StorageError(f"storage: {path} is a directory; give a file path")
        if not path.is_file():
            raise StorageError(f"storage: {path} is not a regular file (a device, pipe or "
                               "socket); give the path of a storage file")
        return
    if not create:
        raise StorageError(f"storage: {redact(url)} does not exist; check the path or run a "
                           "study first with `frontier run CONFIG.toml`")
    parent = next((p for p in path.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise StorageError(f"storage: {parent} is a file, so {path} cannot be created; give "
                           "another path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(f"storage: cannot create the folder of {path} ({err.strerror or err}); "
                           "give a path in a folder you can write to") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StorageError(f"storage: {path.parent} is not writable; give a path in a folder "
                           "you can write to")


def _head(path: Path, n: int) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(n)
    except OSError as err:
        raise StorageError(f"storage: cannot read {path} ({err.strerror or err}); check its "
                           "permissions") from None


def _check_sqlite(path: Path, create: bool) -> None:
    """An existing SQLite storage starts with SQLite's header; an empty file is refused unless
    ``create`` (a read-only command must not write Optuna's tables into it)."""
    if not path.is_file():
        return
    head = _head(path, len(SQLITE_HEADER))
    if not head and not create:
        raise StorageError(f"storage: {path} is an empty file, not a study storage; give the "
                           "storage file a study wrote (nothing was written to it)")
    if head and head != SQLITE_HEADER:
        raise StorageError(f"storage: {path} is not an SQLite file; give the storage file a "
                           "study wrote, or a new path")


def _check_journal(path: Path) -> None:
    """Every line of an existing journal file is a UTF-8 JSON object with an ``op_code``; a
    last line cut short (a write interrupted) is refused too, after one more look in case a
    worker is writing it now."""
    if not path.is_file():
        return
    for attempt in range(2):
        try:
            data = path.read_bytes()
        except OSError as err:
            raise StorageError(f"storage: cannot read {path} ({err.strerror or err}); check "
                               "its permissions") from None
        if not data or data.endswith(b"\n") or attempt:
            break
        time.sleep(0.2)
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        problem = ""
        if not line.endswith(b"\n"):
            problem = "is cut short"
        else:
            try:
                entry = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                problem = "is not UTF-8 JSON"
            else:
                if not isinstance(entry, dict) or not isinstance(entry.get("op_code"), int):
                    problem = "is not an Optuna journal entry"
        if problem == "is cut short":  # an interrupted write: the lines before it are whole
            raise StorageError(f"storage: {path} line {number} is cut short (a write was "
                               "interrupted); delete that last line to recover the study")
        if problem:
            raise StorageError(f"storage: {path} line {number} {problem}, so it is not a "
                               "readable Optuna journal; give the journal file a study wrote, "
                               "or a new path")
