"""How much memory a dataset may take (``[dataset] memory_share`` of the machine's RAM, and of
the free memory of the CUDA device its tensors would live on), and so whether it is held in
memory or streamed (``[dataset] in_memory``)."""

from __future__ import annotations

import os

import torch

__all__ = ["choose_in_memory", "memory_budget", "total_ram"]


def total_ram() -> int:
    """Physical memory of this machine in bytes (unbounded where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


def memory_budget(share: float, device: torch.device) -> int:
    """Bytes of tensors a dataset may hold on ``device``: ``share`` of the free memory of a
    CUDA device, else ``share`` of the machine's RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * share)
    return int(total_ram() * share)


def choose_in_memory(nbytes: int, in_memory: bool | None, share: float, device: torch.device,
                     *, in_ram: bool) -> bool:
    """Whether ``nbytes`` of data are held as tensors (else streamed): ``in_memory`` when it is
    given, else whether they fit in ``share`` of the RAM (unless they are ``in_ram`` already,
    as arrays a loader returned) and of a CUDA device's free memory. Forcing data that do not
    fit onto a CUDA device raises a ValueError naming ``dataset.in_memory``."""
    if in_memory is False:
        return False
    budgets = [] if in_ram else [memory_budget(share, torch.device("cpu"))]
    if device.type == "cuda":
        budgets.append(memory_budget(share, device))
    fits = nbytes <= min(budgets, default=nbytes)
    if in_memory is None:
        return fits
    if not fits and device.type == "cuda":
        raise ValueError(f"dataset.in_memory: {nbytes / 2**30:.1f} GiB of tensors do not fit "
                         f"in {share:g} of the memory free on {device} ({min(budgets) / 2**30:.1f}"
                         " GiB); set in_memory = false to stream the batches, or use fewer or "
                         "smaller examples")
    return True
