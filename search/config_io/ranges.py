"""The ranges a study's numbers must lie in (epochs, fractions, sizes, margins), as data: one
``(ok, field, message)`` triple per rule, checked by ``search.config`` when a config is built."""

from __future__ import annotations

from typing import Any

from objectives.deploy.latency import BACKENDS

__all__ = ["range_checks"]


def _least_epochs(cfg: Any) -> int:
    """Training epochs a candidate needs: none in ``mode = "compress"``, where candidates are
    derived from the trained base (``budget.epochs`` then trains them further)."""
    return 0 if cfg.mode == "compress" else 1


def range_checks(cfg: Any) -> list[tuple[bool, str, str]]:
    """``(ok, field, message)`` for every bounded number of ``cfg`` (a StudyConfig): the
    study's checks raise ConfigError(f"{field}: {message}") for the first that is not ok."""
    return [
        (cfg.n_trials >= 1, "study.n_trials", f"{cfg.n_trials} must be >= 1"),
        (len(cfg.objectives) >= 2, "study.objectives",
         "give at least two objectives, e.g. [\"val_accuracy\", \"params\"]"),
        (cfg.budget.epochs >= _least_epochs(cfg), "budget.epochs",
         f"{cfg.budget.epochs} must be >= {_least_epochs(cfg)}"),
        (cfg.budget.finetune_epochs >= 0, "budget.finetune_epochs", "must be >= 0"),
        (cfg.budget.qat_epochs >= 0, "budget.qat_epochs", "must be >= 0"),
        (cfg.budget.batch_size >= 2, "budget.batch_size",
         f"{cfg.budget.batch_size} must be >= 2"),
        (cfg.budget.finetune_lr_scale > 0, "budget.finetune_lr_scale", "must be > 0"),
        (cfg.budget.latency_reps >= 0, "budget.latency_reps", "must be >= 0"),
        (cfg.budget.latency_backend in BACKENDS, "budget.latency_backend",
         f"{cfg.budget.latency_backend!r} is not one of {', '.join(BACKENDS)}"),
        (cfg.budget.latency_batch >= 1, "budget.latency_batch", "must be >= 1"),
        (0 <= cfg.budget.finetune_tolerance <= 1, "budget.finetune_tolerance",
         f"{cfg.budget.finetune_tolerance} must be in [0, 1] (a val accuracy drop)"),
        (0 < cfg.dataset.val_fraction < 1, "dataset.val_fraction", "must be in (0, 1)"),
        (0 < cfg.dataset.test_fraction < 1, "dataset.test_fraction", "must be in (0, 1)"),
        (cfg.dataset.val_fraction + cfg.dataset.test_fraction < 0.9, "dataset.val_fraction",
         "val_fraction + test_fraction must leave at least 10% for training"),
        (cfg.sampler.population_size >= 2, "sampler.population_size", "must be >= 2"),
        (cfg.constraints.max_params is None or cfg.constraints.max_params > 0,
         "constraints.max_params", "must be > 0"),
        (cfg.constraints.max_size_bytes is None or cfg.constraints.max_size_bytes > 0,
         "constraints.max_size_bytes", "must be > 0"),
        (cfg.constraints.min_accuracy is None or 0 <= cfg.constraints.min_accuracy <= 1,
         "constraints.min_accuracy", "must be in [0, 1]"),
        (cfg.early_stopping.min_completed >= 1, "early_stopping.min_completed", "must be >= 1"),
        (cfg.early_stopping.eval_every >= 0, "early_stopping.eval_every",
         "must be >= 0 (0: every quarter of the training epochs)"),
        (0 <= cfg.early_stopping.size_slack < 1, "early_stopping.size_slack",
         "must be in [0, 1)"),
        (0 <= cfg.early_stopping.accuracy_margin <= 1, "early_stopping.accuracy_margin",
         "must be in [0, 1]"),
        (0 <= cfg.early_stopping.envelope_width <= 1, "early_stopping.envelope_width",
         "must be in [0, 1]"),
    ]
