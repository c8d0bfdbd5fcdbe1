"""Limits every config value must respect beyond its type, checked when a config is built, so
that a value no trial can run with is a one-line error before the study is written, never "5
trials failed in a row": numbers are finite, seeds are what the samplers and splitters accept,
a study name fits in a folder name, counts are not absurd."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from search.errors import ConfigError

__all__ = ["MAX_COUNT", "MAX_NAME", "MAX_SEED", "check_finite", "check_limits"]

#: Seeds are used by numpy (0 <= seed < 2**32); the per-trial seed adds the trial number.
MAX_SEED = 2**32 - 1
#: A study's name becomes a folder name (``runs/<name>``) and a file name in exports.
MAX_NAME = 100
#: Epochs, trials, repetitions: far beyond any real study, but stored and counted safely.
MAX_COUNT = 10**7


def check_finite(field: str, value: Any) -> None:
    """Raise ConfigError naming ``field`` when ``value`` (or a number inside a list or table)
    is ``inf`` or ``nan`` (TOML allows both; no option accepts them)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{field}: {value} is not a finite number; give a finite value")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(f"{field}.{key}", item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_finite(field, item)


def check_limits(cfg: Any, sections: tuple[str, ...]) -> None:
    """Check the name, every number of ``cfg`` (a StudyConfig) and of its ``sections``, and
    its seeds and counts; raise ConfigError naming the first bad field."""
    if not cfg.name or not cfg.name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"study.name: {cfg.name!r} must be letters, digits, '-' or '_'")
    if len(cfg.name) > MAX_NAME:
        raise ConfigError(f"study.name: {len(cfg.name)} characters is too long for a folder "
                          f"name; use at most {MAX_NAME}")
    parts = [("study", cfg), *((s, getattr(cfg, s)) for s in sections)]
    for section, part in parts:
        for f in dataclasses.fields(part):
            if section == "study" and f.name in sections:
                continue
            value = getattr(part, f.name)
            check_finite("space" if section == "space" else f"{section}.{f.name}", value)
    for name, seed in (("study.seed", cfg.seed), ("sampler.seed", cfg.sampler.seed),
                       ("dataset.split_seed", cfg.dataset.split_seed)):
        if seed is not None and not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"{name}: {seed} is out of range; give a seed from 0 to "
                              f"{MAX_SEED}")
    b = cfg.budget
    for name, count in (("study.n_trials", cfg.n_trials), ("budget.epochs", b.epochs),
                        ("budget.finetune_epochs", b.finetune_epochs),
                        ("budget.qat_epochs", b.qat_epochs), ("budget.batch_size", b.batch_size),
                        ("budget.latency_reps", b.latency_reps),
                        ("budget.latency_batch", b.latency_batch),
                        ("sampler.population_size", cfg.sampler.population_size),
                        ("distill.teacher_epochs", cfg.distill.teacher_epochs)):
        if count > MAX_COUNT:
            raise ConfigError(f"{name}: {count} is absurdly large; use at most {MAX_COUNT:,}")
