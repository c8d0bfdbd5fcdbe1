"""The exceptions the CLI turns into one line, ``frontier: error: <message>``, and exit code 2.

Every one is a :class:`FrontierError`; the kind says where the problem lies:

- :class:`ConfigError`: a bad study file, config field or command-line option;
- :class:`StorageError`: a storage that cannot be opened, a study (or a trial's stored
  weights) that is not there;
- :class:`DatasetError`: data that is missing or cannot be read here: the dataset's folder or
  files, a user's data source, the transfer checkpoint.

``spaces`` and ``objectives`` do not know these types (imports point down): they raise
``ValueError`` with a message naming the field, and ``search`` re-raises it as one of these
where it calls them (:func:`reraise_as`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ConfigError", "DatasetError", "FrontierError", "StorageError", "describe",
           "reason_of", "reraise_as"]

#: The longest fail reason stored on a trial.
REASON_CHARS = 500


def describe(err: BaseException) -> str:
    """``Type: message`` of ``err``: how an error is named in a warning or a message."""
    return f"{type(err).__name__}: {err}"


def reason_of(err: BaseException) -> str:
    """:func:`describe` of ``err``, at most REASON_CHARS long: a trial's stored fail reason."""
    return describe(err)[:REASON_CHARS]


class FrontierError(Exception):
    """A user-facing problem, said in one line (bad config, missing study, missing data)."""


class ConfigError(FrontierError):
    """A bad study file, config field or command-line option."""


class StorageError(FrontierError):
    """A storage that cannot be opened, or a study or stored weights that are not in it."""


class DatasetError(FrontierError):
    """Data that is missing or unreadable here: dataset files, a data source, a checkpoint."""


@contextmanager
def reraise_as(kind: type[FrontierError], prefix: str = "") -> Iterator[None]:
    """Re-raise a ``ValueError`` from the code inside (``spaces``, ``objectives``) as ``kind``
    with the same message (after ``prefix``, e.g. the config file's name and ``": "``)."""
    try:
        yield
    except ValueError as err:
        raise kind(f"{prefix}{err}") from None
