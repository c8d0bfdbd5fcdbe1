"""Ctrl-C is never lost: one swallowed by a finalizer is raised again at the run loop's next
step (search/interrupt.py; the run loop end to end: tests/search/test_cli.py)."""

from __future__ import annotations

import signal

import pytest

from search.interrupt import catching, raise_if_interrupted


class _Finalized:
    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)  # KeyboardInterrupt raised here is dropped by Python


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_in_a_finalizer_is_raised_at_the_next_check() -> None:
    with catching():
        _Finalized()  # collected at once; its KeyboardInterrupt goes nowhere
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    raise_if_interrupted()  # nothing recorded outside the block

