"""Ctrl-C that is never lost.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT arrives. Inside a
weakref callback or a ``__del__`` (SQLAlchemy's, run by the garbage collector) the exception is
printed as "ignored" and dropped, and a run would go on to its last trial and exit 0. While
:func:`catching` is active the signal is also recorded, and :func:`raise_if_interrupted` raises
it again at the run loop's next step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["catching", "raise_if_interrupted"]

_received = threading.Event()


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.set()
    raise KeyboardInterrupt


@contextmanager
def catching() -> Iterator[None]:
    """Record SIGINT while the block runs (main thread, Python's own handler in place only:
    a handler the user installed is left alone)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    _received.clear()
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _received.clear()


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if SIGINT arrived inside :func:`catching` and was swallowed."""
    if _received.is_set():
        raise KeyboardInterrupt
