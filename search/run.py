"""The optimize loop: run a study until it holds ``n_trials`` finished trials.

Before each trial the loop looks at the study: it stops at the target, and when the remaining
trials are already running in other workers it waits instead of overshooting. Looking and
starting the trial happen under the storage's claim lock (``search.storage.claim``), so two
workers never both take the last slot. Trials of dead local workers are failed and retried
(``search.storage.reaper``), heartbeat-stale trials of RDB storages are failed and retried by
Optuna.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import torch
from optuna.storages import fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from objectives.base import check_base
from objectives.data import TensorData, check_dataset, load_dataset, resolve_device
from objectives.deploy import missing_packages
from objectives.task import loss_fn, metric_fn
from objectives.train import warm_up
from objectives.transfer import read_state_dict
from search.config import StudyConfig
from search.config_io.user_code import import_modules
from search.errors import (
    ConfigError,
    DatasetError,
    FrontierError,
    StorageError,
    reason_of,
    reraise_as,
)
from search.interrupt import catching, raise_if_interrupted
from search.keys import FAIL_REASON, WORKER_ATTR
from search.objective import Objective
from search.progress import Reporter, log_mode, make_reporter
from search.safe_files import check_out_dir
from search.storage.artifacts import remember_store
from search.storage.claim import Claim, claim_for
from search.storage.reaper import reap_dead_trials, worker_id
from search.storage.studies import FINISHED, remember_shape
from search.tracking.tracker import Tracker, make_tracker
from spaces.locate import locate
from spaces.space import Space, create_space
from spaces.user import ModelSpace, check_builder

__all__ = ["check_runnable", "prepare", "run_study"]

POLL_SECONDS = 1.0

Callback = Callable[[optuna.Study, FrozenTrial], None]


def check_runnable(cfg: StudyConfig, *, with_data: bool = True,
                   out: str | Path | None = None) -> None:
    """Check, without reading any data, that the study ``cfg`` can run on this machine: its
    device is there; the modules of ``[study] imports`` and a user's loss and metric import;
    with ``with_data``, the dataset's folder and files are there (a user's data source
    imports); the transfer checkpoint is a state dict (read weights-only). Only the commands
    that run trials (``run``, ``resume``, ``worker``) check this; the read-only ones need only
    the storage. The folders a run writes (``[study] output_dir``, which holds the trials'
    weights; ``out``, where ``--out`` sends the outputs; the teacher cache and TensorBoard
    folder) can be written.
    Raises ConfigError or DatasetError naming the field."""
    data = cfg.dataset
    check_out_dir(cfg.out_dir, "study.output_dir" if cfg.output_dir else
                  f"study.output_dir (default runs/{cfg.name})")
    if out is not None:
        check_out_dir(out, "--out")
    if cfg.distill.teacher:
        check_out_dir(cfg.distill.cache_dir, "distill.cache_dir")
    if cfg.logging.tensorboard:
        check_out_dir(cfg.logging.tensorboard, "logging.tensorboard")
    with reraise_as(ConfigError):
        resolve_device(cfg.device)
        import_modules(cfg.imports)
        loss_fn(data.loss)
        metric_fn(data.metric)
    if cfg.budget.latency_backend != "torch" and cfg.budget.latency_reps > 0:
        missing = missing_packages()
        if missing:
            raise ConfigError(f"budget.latency_backend: {cfg.budget.latency_backend} needs "
                              f"{', '.join(missing)}; pip install 'frontier[onnx]' or use "
                              "latency_backend = \"torch\"")
    if with_data:
        if data.source is None and data.data_dir is not None and not Path(data.data_dir).is_dir():
            raise DatasetError(f"dataset.data_dir: {data.data_dir} is not a directory; point it "
                               "at the folder holding the dataset files")
        with reraise_as(DatasetError):  # the files are there (cheap: no data is read)
            check_dataset(data)
            if data.source is not None:
                locate(data.source, "dataset.source")
    if cfg.transfer.checkpoint:  # a state dict, not five failed trials later
        with reraise_as(DatasetError):
            read_state_dict(cfg.transfer.checkpoint, "transfer.checkpoint")


def prepare(cfg: StudyConfig, data: TensorData | None = None, *,
            out: str | Path | None = None) -> tuple[TensorData, Space]:
    """Load the study's data (unless given) and its space, and check what can be checked before
    any trial runs (:func:`check_runnable`, with ``out``: the ``--out`` folder; the dataset
    loads, a user builder builds a module; a ``[base]`` loads, runs on a batch of the data and
    fits its classes: ``objectives.base.check_base``). Raises DatasetError or ConfigError with
    one line naming the problem."""
    check_runnable(cfg, with_data=data is None, out=out)
    if data is None:
        with reraise_as(DatasetError):  # unreadable files or a dataset too big for the GPU
            data = load_dataset(cfg.dataset, resolve_device(cfg.device))
    with reraise_as(ConfigError):
        space = create_space(cfg.space.name, cfg.space.options)
        space.bind(data.input_shape, data.num_classes)  # what per-layer knobs count on
        if isinstance(space, ModelSpace):
            check_builder(space, data.input_shape, data.num_classes)
        space.check_input(data.input_shape, data.num_classes)  # e.g. patches that fit the input
        if cfg.base.is_set:  # its paths are absolute: found next to the study file
            base = check_base(cfg.base, data)
            if cfg.mode == "compress":  # the trained base every candidate derives from
                from search.compress_mode import attach_base

                attach_base(space, cfg, data, base)
    return data, space


class _FailureGuard:
    """Trips when ``limit`` trials in a row failed in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.streak = 0
        self.last_reason = ""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state == TrialState.FAIL:
            self.streak += 1
            self.last_reason = str(trial.user_attrs.get(FAIL_REASON, "unknown error"))
        else:
            self.streak = 0

    @property
    def tripped(self) -> bool:
        return self.streak >= self.limit


def _next_step(study: optuna.Study, target: int) -> tuple[str, int]:
    """``("done"|"wait"|"trial", finished)`` for this worker, after cleaning up dead trials."""
    reap_dead_trials(study)
    with warnings.catch_warnings():  # "experimental" since Optuna 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        fail_stale_trials(study)  # Optuna's heartbeat check; a no-op without heartbeats
    trials = study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
    finished = sum(t.state in FINISHED for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    if finished >= target:
        return "done", finished
    if finished + running >= target:  # enqueued (WAITING) retries start first when a slot frees
        return "wait", finished
    return "trial", finished


class _Claimed:
    """The objective, releasing the claim as soon as Optuna has made the trial RUNNING."""

    def __init__(self, objective: Objective, claim: Claim) -> None:
        self.objective, self.claim = objective, claim

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        self.claim.release()
        return self.objective(trial)


def run_study(
    study: optuna.Study,
    cfg: StudyConfig,
    *,
    n_trials: int | None = None,
    progress: bool = True,
    max_failures_in_a_row: int = 5,
    callbacks: list[Callback] | None = None,
    threads: int | None = None,
    timeout: float | None = None,
    log: str | None = None,
    data: TensorData | None = None,
    space: Space | None = None,
    out: str | Path | None = None,
) -> int:
    """Optimize until ``study`` holds ``n_trials`` (default ``cfg.n_trials``) finished trials.

    Never overshoots: with several workers, a worker whose remaining trials are all running
    elsewhere waits for them. With ``timeout`` (seconds) no trial starts after that time, as in
    ``study.optimize``. ``log`` is a mode of ``search.progress`` (default: ``bar``, or
    ``quiet`` when ``progress`` is False). ``data``: the study's data, when already loaded;
    with ``space`` too, the pair :func:`prepare` returned, so nothing is checked again.
    Returns the number of finished trials. Checks first that the study
    can run here (:func:`check_runnable`, with ``out``: the ``--out`` folder), even when it has
    reached its target. Raises FrontierError when ``max_failures_in_a_row`` trials of this
    process fail in a row, and at once when a trial failed in a way every trial would (the
    sampler raised, its weights could not be saved, the storage failed), with that reason.
    """
    prepared = data is not None and space is not None
    if not prepared:
        check_runnable(cfg, with_data=data is None, out=out)
    deadline = time.monotonic() + timeout if timeout is not None else float("inf")
    target = n_trials or cfg.n_trials
    step, finished = _next_step(study, target)
    if step == "done":
        return finished
    if threads:
        torch.set_num_threads(threads)
    if data is None or space is None:
        data, space = prepare(cfg, data)
    run = _setup(study, cfg, data, space, log_mode(log, progress), max_failures_in_a_row)
    run.finished = finished
    run.reporter.start(study, finished, target)
    try:
        with catching():
            return _loop(study, run, target, deadline, callbacks or [])
    finally:
        run.tracker.close()
        run.reporter.close(run.finished)


class _Run:
    """What the loop of one :func:`run_study` works with, and its count of finished trials."""

    def __init__(self, objective: Objective, claim: Claim, reporter: Reporter, tracker: Tracker,
                 guard: _FailureGuard) -> None:
        self.objective, self.claim, self.reporter = objective, claim, reporter
        self.tracker, self.guard = tracker, guard
        self.claimed = _Claimed(objective, claim)
        self.finished = 0


def _setup(study: optuna.Study, cfg: StudyConfig, data: TensorData, space: Space, mode: str,
           max_failures_in_a_row: int) -> _Run:
    """Record the study's weight store and data shape, start the reporter, the tracker and (in
    one-shot mode) the one-shot phase, and build the objective."""
    remember_store(study, cfg.out_dir)
    remember_shape(study, data.input_shape, data.num_classes)
    warm_up()
    reporter = make_reporter(mode)
    guard = _FailureGuard(max_failures_in_a_row)
    claim = claim_for(study)
    claim.acquire()  # one MLflow study run, even when workers start together
    try:
        tracker = make_tracker(cfg.logging, study, worker_id())
    finally:
        claim.release()
    inherit, run_cfg = None, cfg
    if cfg.mode == "compress":  # the base measured once, the study's reference point
        from search.compress_mode import record_transfer, start_compress

        record_transfer(study, space)  # the transfer prepare ran, with its val accuracy
        start_compress(study, cfg, space, data, mode)
    if cfg.mode == "one-shot":  # the supernet and the chosen candidates, once per study
        from search.oneshot.start import start_oneshot

        inherit = start_oneshot(study, cfg, space, data, mode)
        run_cfg = dataclasses.replace(cfg, budget=dataclasses.replace(
            cfg.budget, epochs=cfg.oneshot.finetune_epochs))
    objective = Objective(run_cfg, space, data, progress=reporter.epoch, tracker=tracker,
                          inherit=inherit)
    return _Run(objective, claim, reporter, tracker, guard)


def _loop(study: optuna.Study, run: _Run, target: int, deadline: float,
          callbacks: list[Callback]) -> int:
    """Claim and run one trial at a time until the study holds ``target`` finished trials (or
    the deadline passed); returns that number. ``callbacks``: the caller's, after ours."""
    last: list[FrozenTrial] = []
    keep_last: Callback = lambda _, trial: last.append(trial)  # noqa: E731
    while True:
        run.claim.acquire()
        try:
            step, run.finished = _next_step(study, target)
            if step == "trial" and time.monotonic() >= deadline:
                step = "done"  # timed out: start no more trials
            if step == "trial":  # the objective releases the claim once its trial RUNS
                _optimize_one(study, run.claimed, [run.guard, keep_last, *callbacks])
        finally:
            run.claim.release()  # not started, or sampling/storage failed before the objective
        if last:
            trial = last.pop()
            run.finished += trial.state in FINISHED
            run.reporter.trial(study, trial, run.finished)
            if trial.state in FINISHED:
                run.tracker.study_update(study)
        if run.objective.fatal is not None:
            raise run.objective.fatal
        raise_if_interrupted()  # a Ctrl-C that a garbage-collector callback swallowed
        if step == "done":
            return run.finished
        if step == "wait":
            time.sleep(POLL_SECONDS)
            continue
        if run.guard.tripped:
            raise FrontierError(
                f"study {study.study_name!r}: {run.guard.streak} trials failed in a row; "
                f"last reason: {run.guard.last_reason}"
            )


def _optimize_one(study: optuna.Study, objective: Callable[[optuna.Trial], tuple[float, ...]],
                  callbacks: list[Callback]) -> None:
    """One trial of ``study.optimize``. What fails outside the objective (the sampler's hooks,
    a storage write) escapes Optuna and leaves the trial RUNNING: it is failed here with the
    real ``Type: message`` (not later as a dead worker), and raised as one line."""
    before = max((t.number for t in study.get_trials(deepcopy=False)), default=-1)
    try:
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=callbacks)
    except Exception as err:
        reason = reason_of(err)
        try:
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                owner = t.user_attrs.get(WORKER_ATTR)
                if owner == worker_id() or (owner is None and t.number > before):
                    study._storage.set_trial_user_attr(t._trial_id, FAIL_REASON, reason)
                    study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except Exception:  # the storage itself failed: the trial is reaped later
            pass
        if isinstance(err, FrontierError):
            raise
        raise StorageError(f"study {study.study_name!r}: a trial failed outside its candidate "
                           f"({reason}); fix the cause and resume") from None
