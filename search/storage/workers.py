"""Several local worker processes on one study (journal file or PostgreSQL storage)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState
from tqdm import tqdm

from search.errors import StorageError
from search.keys import FAIL_REASON, RETRY_OF, WORKER_ATTR
from search.storage.studies import count_finished
from search.storage.urls import normalize, redact

__all__ = ["MLFLOW_ENV", "STORAGE_ENV", "WorkerExit", "check_multiprocess_storage", "gpu_envs",
           "lost_trial", "run_worker_processes", "run_workers", "threads_per_worker",
           "visible_gpus", "worker_command"]


def check_multiprocess_storage(url: str) -> None:
    """Refuse SQLite for several processes: it serialises writers and locks under load."""
    if normalize(url).startswith("sqlite:"):
        raise StorageError(
            f"--workers: {redact(url)} is SQLite, which is for one process; use a journal file "
            "(--storage runs/NAME.log) on one machine or postgresql://... across machines"
        )


def threads_per_worker(workers: int) -> int:
    """Torch CPU threads for each of ``workers`` local processes: the cores shared out."""
    return max(1, (os.cpu_count() or 1) // workers)


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries (indices or UUIDs)."""
    import torch

    count = torch.cuda.device_count()
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(count)]
    return [g.strip() for g in listed.split(",")][:count]


def gpu_envs(workers: int, device: str, gpus: list[str]) -> list[dict[str, str]]:
    """Environment additions per worker: for device "auto" or "cuda", worker i sees only
    ``gpus[i % len(gpus)]`` (CUDA_VISIBLE_DEVICES), so K workers on K GPUs get one each. An
    explicit "cuda:N", "cpu" or no GPU leaves the environment alone."""
    if device not in ("auto", "cuda") or not gpus:
        return [{} for _ in range(workers)]
    return [{"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} for i in range(workers)]


#: The environment variable that carries the storage URL to a ``worker`` process started by
#: :func:`start_workers` (a URL may hold a password: on a command line, ``ps`` would show it).
STORAGE_ENV = "FRONTIER_STORAGE"
#: Likewise for the MLflow tracking URI (``--mlflow``), which may hold a password too.
MLFLOW_ENV = "FRONTIER_MLFLOW"


@dataclass(frozen=True)
class WorkerExit:
    """How worker ``index`` (1-based) with process id ``pid`` ended."""

    index: int
    pid: int
    returncode: int

    @property
    def killed(self) -> bool:
        """Ended by a signal (``kill -9``, the OOM killer), not by exiting."""
        return self.returncode < 0

    def how(self) -> str:
        """``died (killed by signal 9, SIGKILL)`` or ``exited with code 2``."""
        if not self.killed:
            return f"exited with code {self.returncode}"
        try:
            name = f", {signal.Signals(-self.returncode).name}"
        except ValueError:
            name = ""
        return f"died (killed by signal {-self.returncode}{name})"


def worker_command(study_name: str, target: int, threads: int,
                   extra_args: list[str] | None = None) -> list[str]:
    """The command line of one local worker: no storage URL on it (see :data:`STORAGE_ENV`)."""
    return [sys.executable, "-m", "search", "worker", "--study", study_name, "--n-trials",
            str(target), "--threads", str(threads), "--quiet", *(extra_args or [])]


def run_worker_processes(study: optuna.Study, url: str, workers: int, target: int, *,
                         progress: bool = True, device: str = "cpu",
                         extra_args: list[str] | None = None,
                         extra_env: dict[str, str] | None = None) -> list[WorkerExit]:
    """Start ``workers`` processes of ``python -m search worker`` and wait for all of them.

    Each worker gets ``cpu_count // workers`` torch threads and, for a CUDA study, its own GPU
    (see :func:`gpu_envs`); ``extra_args`` are added to each worker's command line (e.g.
    ``--tensorboard DIR``: nothing secret, as ``ps`` shows command lines to every user), and
    ``extra_env`` to its environment. The storage URL goes in the environment
    (:data:`STORAGE_ENV`). Returns how each worker ended, in the order started.
    """
    cmd = worker_command(study.study_name, target, threads_per_worker(workers), extra_args)
    base = {**os.environ, **(extra_env or {}), STORAGE_ENV: url}
    envs = gpu_envs(workers, device, visible_gpus() if device != "cpu" else [])
    procs = [subprocess.Popen(cmd, env={**base, **extra}) for extra in envs]
    bar = tqdm(total=target, initial=count_finished(study), unit="trial", disable=not progress,
               desc=f"{study.study_name} ×{workers}", file=sys.stderr, dynamic_ncols=True)
    try:
        while any(p.poll() is None for p in procs):
            bar.n = min(target, count_finished(study))
            bar.refresh()
            time.sleep(1.0)
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        raise
    finally:
        bar.n = min(target, count_finished(study))
        bar.close()
    return [WorkerExit(i, p.pid, p.returncode) for i, p in enumerate(procs, 1)]


def run_workers(study: optuna.Study, url: str, workers: int, target: int, *,
                progress: bool = True, device: str = "cpu",
                extra_args: list[str] | None = None) -> int:
    """:func:`run_worker_processes`; returns the number of workers that did not exit with 0."""
    exits = run_worker_processes(study, url, workers, target, progress=progress, device=device,
                                 extra_args=extra_args)
    return sum(1 for e in exits if e.returncode != 0)


def lost_trial(study: optuna.Study, pid: int) -> str:
    """What became of the trial a dead local worker ``pid`` was running: for the warning."""
    trials = study.get_trials(deepcopy=False)
    me = f"{socket.gethostname()}:{pid}"
    mine = [t for t in trials if t.user_attrs.get(WORKER_ATTR) == me and (
        t.state == TrialState.RUNNING
        or (t.state == TrialState.FAIL and "died" in str(t.user_attrs.get(FAIL_REASON, ""))))]
    if not mine:
        return "it was running no trial"
    dead = mine[-1]
    if dead.state == TrialState.RUNNING:
        return f"its trial {dead.number} is still marked RUNNING"
    retries = [t.number for t in trials if t.user_attrs.get(RETRY_OF) == dead.number]
    if retries:
        return f"its trial {dead.number} was retried as trial {retries[0]}"
    return f"its trial {dead.number} failed (a retry is not retried again)"
