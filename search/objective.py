"""The Optuna objective: sample a Spec, evaluate it, store every metric on the trial."""

from __future__ import annotations

import math
from collections.abc import Callable

import optuna
import torch
from torch import nn

from objectives.compress.plan import bits_by_layer, plan_for
from objectives.compress.quantize import planned_bits
from objectives.data import TensorData
from objectives.distill import load_teacher, teacher_logits
from objectives.metrics import macs, score, weight_bits
from objectives.pipeline import evaluate, project_compressed
from objectives.train import EpochStats
from objectives.transfer import load_matching
from search.config import StudyConfig
from search.early_stop import ParetoStopper, checkpoint_epochs
from search.errors import ConfigError, FrontierError, StorageError, reason_of
from search.keys import (
    CURVE_ATTR,
    FAIL_REASON,
    METRICS_ATTR,
    SPEC_ATTR,
    STOP_REASON,
    STOPPED_VALUES_ATTR,
    TEACHER_ATTR,
    TRANSFER_ATTR,
    WORKER_ATTR,
)
from search.storage.artifacts import save_weights
from search.storage.reaper import worker_id
from search.tracking.tracker import Tracker
from spaces.space import Space, spec_json
from spaces.spec import Spec

# The trial-attribute keys are defined in search.keys and reason_of in search.errors; they are
# re-exported here for existing imports.
__all__ = ["FAIL_REASON", "METRICS_ATTR", "SPEC_ATTR", "STOP_REASON", "TEACHER_ATTR",
           "TRANSFER_ATTR", "Objective", "reason_of"]

#: Progress hook: (trial number, phase, epoch, epochs done, epochs in total); epoch 0 of
#: "prune" or "qat" says that phase is skipped, and the total no longer counts it.
EpochProgress = Callable[[int, str, int, int, int], None]


class _Monitor:
    """Reports epochs, records the validation metric (``val_accuracy``: accuracy, or the
    study's ``[dataset] metric``) at checkpoints and applies the early-stopping rule. With a
    tracker on, every epoch is scored and logged with its loss, lr and seconds."""

    def __init__(self, cfg: StudyConfig, spec: Spec, data: TensorData,
                 stopper: ParetoStopper | None, trial: int, progress: EpochProgress | None,
                 tracker: Tracker | None = None) -> None:
        self.cfg, self.spec, self.data, self.stopper = cfg, spec, data, stopper
        self.trial, self.progress = trial, progress
        self.plan = plan_for(spec.compress)
        self.total = self.plan.epochs(cfg.budget)
        self.done = 0
        self.train_points = checkpoint_epochs(cfg.budget.epochs, cfg.early_stopping.eval_every)
        self.curve: dict[str, float] = {}
        self.stop_reason: str | None = None
        self.stopped_at: dict[str, float] = {}
        self.tracker = tracker
        self.stats: EpochStats | None = None

    def on_stats(self, phase: str, stats: EpochStats) -> None:
        """Keep the epoch's loss, lr and seconds for the logger (``__call__`` follows)."""
        self.stats = stats

    def _log(self, phase: str, acc: float) -> None:
        assert self.tracker is not None
        s, self.stats = self.stats, None
        values = {"val_accuracy": acc}
        if s is not None:
            values.update(loss=s.loss, lr=s.lr, epoch_seconds=s.seconds)
        self.tracker.epoch(self.trial, phase, self.done, values)

    def __call__(self, phase: str, epoch: int, model: nn.Module) -> None:
        if epoch == 0:  # the phase is skipped (compression cost at most the tolerance)
            self.total -= self.plan.phase_epochs(phase, self.cfg.budget)
        else:
            self.done += 1
        if self.progress is not None:
            self.progress(self.trial, phase, epoch, self.done, self.total)
        logging = self.tracker is not None and self.tracker.enabled
        if epoch == 0 or not (self.cfg.early_stopping.record_curves or logging):
            return
        # after the first fine-tune epoch (a pruning that broke the model shows there) and the last
        in_prune = phase == "prune" and epoch in (1, self.cfg.budget.finetune_epochs)
        checkpoint = self.cfg.early_stopping.record_curves and (
            (phase == "train" and epoch in self.train_points) or in_prune)
        if not (checkpoint or logging):
            return
        point = f"{phase}:{epoch}"
        acc = score(model, self.data.val, self.data.metric)  # one score serves both
        if logging:
            self._log(phase, acc)
        if not checkpoint:
            return
        self.curve[point] = acc
        if self.stopper is None or not self.stopper.ready(point):
            return
        projected = project_compressed(model, self.spec, self.data.input_shape,
                                       pruned=phase != "train")
        projected["macs"] = float(macs(model, self.data.input_shape))
        reason = self.stopper.check(point, acc, projected)
        if reason is not None:
            self.stop_reason = reason
            self.stopped_at = {"val_accuracy": acc, **projected}
            raise optuna.TrialPruned(reason)


class Objective:
    """Callable objective for ``study.optimize``; returns the configured objective values."""

    def __init__(self, cfg: StudyConfig, space: Space, data: TensorData,
                 progress: EpochProgress | None = None, tracker: Tracker | None = None,
                 inherit: Callable[[Spec], Callable[[nn.Module], None]] | None = None) -> None:
        """``inherit`` (one-shot mode): the ``init`` hook that gives a trial's model its
        starting weights, for its Spec."""
        self.cfg = cfg
        self.inherit = inherit
        self.tracker = tracker or Tracker()
        self.space = space
        self.data = data
        self.progress = progress
        self._teacher: torch.Tensor | None = None
        self._teacher_info: dict[str, object] = {}
        #: Set when a trial failed in a way every trial will (the sampler, saving weights):
        #: ``search.run.run_study`` raises it after that trial, instead of failing the next.
        self.fatal: FrontierError | None = None

    def _teacher_logits(self) -> torch.Tensor | None:
        """Logits of the teacher on the train split: the space's own (a compress-mode study's
        base), else the study's ``[distill] teacher``, loaded (or trained and cached); computed
        on first use, then kept for every later trial of this process. The teacher's own val
        score is recorded with it (a damaged teacher must be visible)."""
        if self._teacher is None:
            model = self.space.teacher()
            if model is not None:
                self._teacher_info = {"name": self.space.name}
            elif self.cfg.distill.teacher:
                loaded = load_teacher(self.cfg.distill, self.data,
                                      split_seed=self.cfg.dataset.split_seed, seed=self.cfg.seed,
                                      batch_size=self.cfg.budget.batch_size)
                model = loaded.model
                self._teacher_info = {"name": self.cfg.distill.teacher, "file": str(loaded.path),
                                      "trained": loaded.trained, "seconds": loaded.seconds}
            else:
                return None
            self._teacher = teacher_logits(model, self.data.train)
            self._teacher_info["val_accuracy"] = score(model, self.data.val, self.data.metric)
        return self._teacher

    def _stopper(self, trial: optuna.Trial) -> ParetoStopper | None:
        if not self.cfg.early_stopping.enabled:
            return None
        finished = trial.study.get_trials(deepcopy=False,
                                          states=(optuna.trial.TrialState.COMPLETE,))
        return ParetoStopper(self.cfg.early_stopping, self.cfg.objectives, finished)

    def _keep_for_sampler(self, trial: optuna.Trial, stopped_at: dict[str, float]) -> None:
        """Store a stopped trial's values at its checkpoint (and their constraint values), so
        a GA sampler can keep it in its population (see ``search.samplers``)."""
        if not stopped_at or not all(name in stopped_at for name in self.cfg.objectives):
            return
        trial.set_user_attr(STOPPED_VALUES_ATTR,
                            [float(stopped_at[name]) for name in self.cfg.objectives])
        for key, value in self.cfg.constraints.violations(stopped_at).items():
            trial.set_constraint(key, value)

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        trial.set_user_attr(WORKER_ATTR, worker_id())
        monitor: _Monitor | None = None
        try:
            spec = self._sample(trial)
            trial.set_user_attr(SPEC_ATTR, spec_json(self.space, spec))
            monitor = _Monitor(self.cfg, spec, self.data, self._stopper(trial), trial.number,
                               self.progress, self.tracker)
            self.tracker.trial_start(trial.number, trial.params)
            metrics, values = self._run(trial, spec, monitor)
        except optuna.TrialPruned:
            if monitor is None:  # a builder raised TrialPruned itself
                raise
            trial.set_user_attr(CURVE_ATTR, monitor.curve)
            trial.set_user_attr(STOP_REASON, monitor.stop_reason)
            self._keep_for_sampler(trial, monitor.stopped_at)
            self.tracker.trial_end(trial.number, "STOPPED", trial.params, {},
                                   monitor.stop_reason)
            raise
        except Exception as err:
            reason = reason_of(err)
            trial.set_user_attr(FAIL_REASON, reason)
            self.tracker.trial_end(trial.number, "FAIL", trial.params, {}, reason)
            raise
        self.tracker.trial_end(trial.number, "COMPLETE", trial.params, metrics, None)
        return values

    def _sample(self, trial: optuna.Trial) -> Spec:
        """The trial's Spec; a failure inside the sampler sets :attr:`fatal`."""
        try:
            return self.space.sample(trial)  # a user builder may fail on this candidate
        except Exception as err:
            if _raised_by_sampler(err, trial.study.sampler):  # it will fail every trial
                self.fatal = ConfigError(
                    f"sampler.name: the {self.cfg.sampler.name!r} sampler failed on trial "
                    f"{trial.number} ({reason_of(err)}); choose another sampler")
            raise

    def _init(self, trial: optuna.Trial, spec: Spec) -> Callable[[nn.Module], None] | None:
        """The hook that gives the trial's model its starting weights: inherited (one-shot)
        or transferred from ``[transfer] checkpoint`` (recorded on the trial); else None."""
        if self.inherit is not None:
            return self.inherit(spec)
        checkpoint = self.cfg.transfer.checkpoint
        if not checkpoint:
            return None

        def init(model: nn.Module) -> None:
            loaded, skipped = load_matching(model, checkpoint)
            trial.set_user_attr(TRANSFER_ATTR, {"loaded": loaded, "skipped": skipped})

        return init

    def _run(self, trial: optuna.Trial, spec: Spec, monitor: _Monitor
             ) -> tuple[dict[str, float], tuple[float, ...]]:
        """Evaluate ``spec``, store its metrics, curve and weights; returns the metrics and the
        objective values."""
        logits = self._teacher_logits() if spec.train.kd_weight > 0 else None
        if logits is not None:
            trial.set_user_attr(TEACHER_ATTR, self._teacher_info)
        measured, model = evaluate(self.space, spec, self.data, self.cfg.budget,
                                   seed=self.cfg.seed + trial.number, on_epoch=monitor,
                                   init=self._init(trial, spec), teacher_logits=logits,
                                   on_stats=monitor.on_stats if self.tracker.enabled else None)
        metrics = measured.as_dict()
        values = tuple(float(metrics[name]) for name in self.cfg.objectives)
        bad = [n for n, v in zip(self.cfg.objectives, values, strict=True)
               if not math.isfinite(v)]
        if bad:  # Optuna would fail the trial without a reason
            raise ValueError(f"objective {bad[0]} is {metrics[bad[0]]} (training diverged?)")
        if self.cfg.early_stopping.record_curves:
            monitor.curve["final"] = measured.val_accuracy
            trial.set_user_attr(CURVE_ATTR, monitor.curve)
        self._save(trial, model, spec)
        for key, value in self.cfg.constraints.violations(metrics).items():
            trial.set_constraint(key, value)
        # One storage write for all metrics keeps the per-trial overhead small.
        trial.set_user_attr(METRICS_ATTR, metrics)
        return metrics, values

    def _save(self, trial: optuna.Trial, model: nn.Module, spec: Spec) -> None:
        """Store the trial's weights; an OSError (a folder that cannot be written, a full disk)
        would hit every trial, so it also sets :attr:`fatal`."""
        try:
            bits = planned_bits(model) or bits_by_layer(model, spec.compress)
            save_weights(trial, model, self.cfg.out_dir, weight_bits(model, bits))
        except OSError as err:
            self.fatal = StorageError(
                f"study.output_dir: trial {trial.number}'s weights cannot be saved in "
                f"{self.cfg.out_dir / 'artifacts'} ({reason_of(err)}); give an output folder "
                "you can write to, with free space")
            raise


def _raised_by_sampler(err: BaseException, sampler: object) -> bool:
    """Whether ``err`` was raised inside the study's sampler (Optuna's, ours or a user's),
    not in the space or the user's builder that called it."""
    modules = ("optuna.samplers", "search.samplers", type(sampler).__module__)
    tb = err.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if (frame.f_locals.get("self") is sampler
                or str(frame.f_globals.get("__name__", "")).startswith(modules)):
            return True
        tb = tb.tb_next
    return False
