"""The compress-mode phase of a process, before its first trial, under the claim lock (so with
several workers one does the work and the others reuse it), each part once per study:

1. the base is measured and stored on the study as the reference point of its outputs;
2. the sensitivity table of the units the space searches is computed, stored on the study and
   written as ``sensitivity.csv`` into its output folder;
3. the warm-start allocations it suggests are enqueued as the study's first trials.

``[base] sensitivity = false`` leaves out 2 and 3.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import optuna

from objectives.data import TensorData
from objectives.pipeline import evaluate
from objectives.sensitivity import sensitivity
from search.compress_mode.warm import (
    allocation_line,
    budget_objective,
    enqueue_warm_start,
    space_units,
)
from search.config import StudyConfig
from search.keys import BASE_ATTR, WARM_START_ATTR
from search.progress import DEFAULT_LOG, phase_printer
from search.results.sensitivity import store_table, stored_table, write_table
from search.storage.claim import claim_for
from spaces.base import BaseSpace, BaseSpec
from spaces.space import Space

__all__ = ["start_compress"]


def start_compress(study: optuna.Study, cfg: StudyConfig, space: Space,
                   data: TensorData, log_mode: str = DEFAULT_LOG) -> None:
    """Measure the base as it is (no compression, no training), then (unless ``[base]
    sensitivity = false``) its sensitivity table and the warm start, each once per study;
    ``log_mode`` (``search.progress``) prints one line per phase."""
    log = phase_printer(log_mode, event="compress")
    claim = claim_for(study)
    claim.acquire()
    try:
        if BASE_ATTR not in study.user_attrs:
            budget = dataclasses.replace(cfg.budget, epochs=0)
            measured, _ = evaluate(space, BaseSpec(), data, budget, seed=cfg.seed)
            study.set_user_attr(BASE_ATTR, measured.as_dict())
            log("compress: measured the base")
        if cfg.base.sensitivity and isinstance(space, BaseSpace):
            _warm_start(study, cfg, space, data, log)
    finally:
        claim.release()


def _warm_start(study: optuna.Study, cfg: StudyConfig, space: BaseSpace, data: TensorData,
                log: Callable[[str], None]) -> None:
    """The sensitivity table (once) and the warm-start trials (once)."""
    table = stored_table(study)
    if table is None:
        units = space_units(space, tuple(data.input_shape))
        if not units:
            log("compress: no unit to analyse (set per_layer_prune, per_layer_bits or "
                "drop_blocks); no warm start")
            study.set_user_attr(WARM_START_ATTR, 0)
            return
        start = time.perf_counter()
        table = sensitivity(space.base(), data, units)
        store_table(study, table)
        path = write_table(table, Path(cfg.out_dir) / "sensitivity.csv")
        log(f"compress: sensitivity of {len(units)} units, {len(table) - 1} rows in "
            f"{time.perf_counter() - start:.1f}s -> {path}")
    if WARM_START_ATTR in study.user_attrs:
        return
    objective = budget_objective(cfg.objectives)
    for alloc in enqueue_warm_start(study, space, table, objective,
                                    tuple(data.input_shape)):
        log(f"compress: warm start {allocation_line(alloc)}")
