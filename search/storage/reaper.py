"""Crash safety for trials whose worker process died on this machine.

RDB storages have Optuna heartbeats: a dead worker's trial goes FAIL after the grace period
and is retried by :func:`retry_once`, registered as the storage's stale-trial callback. The
journal file has no heartbeat, and a SIGKILLed single process should not wait for a grace
period either, so every trial records ``host:pid`` of its worker; any worker on the same host
that finds a RUNNING trial whose process is gone marks it FAIL with the reason and enqueues its
parameters once more.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from search.keys import FAIL_REASON, RETRY_OF, WORKER_ATTR

__all__ = ["reap_dead_trials", "retry_once", "worker_id"]


def worker_id() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # a killed child not yet waited for is a zombie: dead for our purpose
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def reap_dead_trials(study: optuna.Study) -> list[int]:
    """Fail RUNNING trials whose worker on this host has died; retry each original trial once.

    Returns the numbers of the trials it failed.
    """
    host = socket.gethostname()
    storage = study._storage
    reaped = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(t.user_attrs.get(WORKER_ATTR, ""))
        owner_host, _, pid = owner.rpartition(":")
        if owner_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            storage.set_trial_user_attr(t._trial_id, FAIL_REASON,
                                        f"worker {owner} died while running this trial")
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:  # another worker reaped it first
            continue
        reaped.append(t.number)
        retry_once(study, t)
    return reaped


def retry_once(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue ``trial``'s parameters again unless it already was a retry.

    Also Optuna's heartbeat-stale callback of RDB storages, so both paths mark retries the same
    way: the new trial carries ``retry_of`` = the failed trial's number.
    """
    if RETRY_OF not in trial.user_attrs:
        study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number},
                            skip_if_exists=False)
