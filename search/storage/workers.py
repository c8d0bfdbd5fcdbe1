"""Several local worker processes on one study (journal file or PostgreSQL storage)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
from tqdm import tqdm

from search.errors import StorageError
from search.run import count_finished
from search.storage.urls import normalize, redact

__all__ = ["check_multiprocess_storage", "gpu_envs", "run_workers", "threads_per_worker",
           "visible_gpus"]


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


def run_workers(study: optuna.Study, url: str, workers: int, target: int, *,
                progress: bool = True, device: str = "cpu",
                extra_args: list[str] | None = None) -> int:
    """Start ``workers`` processes of ``python -m search worker`` and wait for all of them.

    Each worker gets ``cpu_count // workers`` torch threads and, for a CUDA study, its own GPU
    (see :func:`gpu_envs`); ``extra_args`` are added to each worker's command line (e.g.
    ``--tensorboard DIR``). Returns the number of workers that exited with an error.
    """
    threads = threads_per_worker(workers)
    cmd = [sys.executable, "-m", "search", "worker", "--storage", url, "--study",
           study.study_name, "--n-trials", str(target), "--threads", str(threads), "--quiet",
           *(extra_args or [])]
    envs = gpu_envs(workers, device, visible_gpus() if device != "cpu" else [])
    procs = [subprocess.Popen(cmd, env={**os.environ, **extra} if extra else None)
             for extra in envs]
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
    return sum(1 for p in procs if p.returncode != 0)
