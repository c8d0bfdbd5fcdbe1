"""A study in its storage: created or loaded (its stored config kept consistent on resume),
the shape of its data, and how many of its trials count towards its target."""

from __future__ import annotations

import hashlib
from typing import Any

import optuna
from optuna.trial import TrialState

from search.config import StudyConfig
from search.errors import ConfigError, StorageError
from search.keys import CONFIG_ATTR, SHAPE_ATTR
from search.samplers import make_sampler
from search.storage.urls import DEFAULT_STORAGE, open_storage, redact

__all__ = ["FINISHED", "count_finished", "create_or_load", "load_existing", "remember_shape",
           "session_seed", "stored_config", "stored_shape", "study_names"]

#: States that count towards ``n_trials``; failed trials are retried, not counted.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: Parts of a stored config that must match when the study is continued.
_FIXED = ("space", "dataset", "budget")


def session_seed(seed: int | None, trials_before: int, worker: str | None = None) -> int | None:
    """The sampler's seed for one process working on a study.

    A fresh study run by one process samples with the configured ``seed`` itself, so the run
    is reproducible. A process that continues a study holding ``trials_before`` trials, or one
    of several ``worker`` processes, gets a seed derived from all three: with the configured
    seed unchanged it would draw the very candidates the earlier process (or the other
    worker) already drew. ``None`` (unseeded) stays ``None``.
    """
    if seed is None or (trials_before == 0 and worker is None):
        return seed
    digest = hashlib.sha256(f"{seed}:{trials_before}:{worker or ''}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _sampler(cfg: StudyConfig, trials_before: int = 0,
             worker: str | None = None) -> optuna.samplers.BaseSampler:
    seed = session_seed(cfg.sampler.seed, trials_before, worker)
    return make_sampler(cfg.sampler.name, seed, cfg.sampler.population_size)


def _trial_count(storage: optuna.storages.BaseStorage, name: str) -> int:
    return storage.get_n_trials(storage.get_study_id_from_name(name))


def count_finished(study: optuna.Study) -> int:
    """Number of trials in ``study`` that count towards its target."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    """Names of the studies held by ``storage``."""
    return [s.study_name for s in storage.get_all_studies()]


def create_or_load(cfg: StudyConfig, storage_url: str | None = None, *,
                   worker: str | None = None) -> optuna.Study:
    """Create ``cfg.name`` in the storage, or load it when it exists and its config agrees.

    Processes that share the study at the same time each pass their own ``worker`` name
    (e.g. :func:`search.storage.reaper.worker_id`), so that their samplers draw different candidates
    (see :func:`session_seed`).
    """
    url = storage_url or cfg.storage or DEFAULT_STORAGE
    storage = open_storage(url)
    if cfg.name in study_names(storage):
        sampler = _sampler(cfg, _trial_count(storage, cfg.name), worker)
        study = optuna.load_study(study_name=cfg.name, storage=storage, sampler=sampler)
        _check_same(cfg, study, url)
        return study
    study = optuna.create_study(study_name=cfg.name, storage=storage,
                                sampler=_sampler(cfg, 0, worker),
                                directions=list(cfg.directions),  # type: ignore[arg-type]
                                load_if_exists=True)
    if CONFIG_ATTR not in study.user_attrs:
        study.set_user_attr(CONFIG_ATTR, cfg.to_dict())
    else:
        _check_same(cfg, study, url)
    return study


def load_existing(storage_url: str, name: str, *,
                  worker: str | None = None) -> tuple[optuna.Study, StudyConfig]:
    """Load a study that must already exist, with the config stored on it (``worker``: as in
    :func:`create_or_load`)."""
    storage = open_storage(storage_url, create=False)
    if name not in study_names(storage):
        raise StorageError(f"study: no study named {name!r} in {redact(storage_url)}; "
                           f"`frontier ls --storage URL` lists the studies there")
    plain = optuna.load_study(study_name=name, storage=storage)
    cfg = stored_config(plain)
    sampler = _sampler(cfg, _trial_count(storage, name), worker)
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    return study, cfg


def stored_config(study: optuna.Study) -> StudyConfig:
    """The StudyConfig stored on ``study`` when it was created, as stored: nothing is
    imported and no file is looked at (``search.run.check_runnable`` checks that it can run)."""
    data: dict[str, Any] | None = study.user_attrs.get(CONFIG_ATTR)
    if data is None:
        raise StorageError(f"study: {study.study_name!r} was not created by Frontier (it has "
                           "no stored config); use `frontier run CONFIG.toml` for a new study")
    return StudyConfig.from_dict(data, source=f"stored config of {study.study_name!r}",
                                 stored=True)


def remember_shape(study: optuna.Study, input_shape: tuple[int, ...], num_classes: int) -> None:
    """Record the shape of one input and the model's output width on ``study`` (once: the
    first process to run it)."""
    if SHAPE_ATTR not in study.user_attrs:
        study.set_user_attr(SHAPE_ATTR, {"input_shape": list(input_shape),
                                         "num_classes": int(num_classes)})


def stored_shape(study: optuna.Study) -> tuple[tuple[int, ...], int] | None:
    """``(input_shape, num_classes)`` recorded by :func:`remember_shape`; None for a study that
    has not run yet (or ran before Frontier recorded them)."""
    value = study.user_attrs.get(SHAPE_ATTR)
    if not value:
        return None
    return tuple(int(n) for n in value["input_shape"]), int(value["num_classes"])


def _check_same(cfg: StudyConfig, study: optuna.Study, url: str) -> None:
    stored = study.user_attrs.get(CONFIG_ATTR)
    directions = [d.name.lower() for d in study.directions]
    if directions != cfg.directions or (
        stored and stored["study"]["objectives"] != list(cfg.objectives)
    ):
        have = stored["study"]["objectives"] if stored else directions
        raise ConfigError(
            f"study.objectives: study {cfg.name!r} in {redact(url)} was created with "
            f"objectives {have}, not {list(cfg.objectives)}; use the stored objectives or a "
            "new study name"
        )
    if stored is None:
        return
    mine = cfg.to_dict()
    # Options added to a section after a study was stored take their defaults, so such a study
    # still continues unchanged.
    defaults = StudyConfig(name=cfg.name).to_dict()
    for section in _FIXED:
        old = {**defaults[section], **stored[section]} if section != "space" else stored[section]
        if old != mine[section]:
            key = next((k for k in sorted(set(old) | set(mine[section]))
                        if old.get(k) != mine[section].get(k)), section)
            raise ConfigError(
                f"{section}.{key}: study {cfg.name!r} in {redact(url)} was created with "
                f"{section}.{key} = {old.get(key)!r}, not "
                f"{mine[section].get(key)!r}; continue it unchanged (`frontier resume`) or use "
                "a new study name"
            )
