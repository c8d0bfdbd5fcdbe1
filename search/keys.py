"""Every key Frontier stores on an Optuna trial or study, written once.

Trials and studies carry Frontier's results as Optuna user attributes; every module that reads
or writes one imports its key from here. This module imports nothing of ours, so any module
may import it without making an import circle.
"""

from __future__ import annotations

__all__ = [
    "ARTIFACTS_ATTR", "BASE_ATTR", "CONFIG_ATTR", "CURVE_ATTR", "ENQUEUED_ATTR", "ESTIMATE_ATTR",
    "FAIL_REASON", "METRICS_ATTR", "RETRY_OF", "RUN_ATTR", "SECONDS_ATTR", "SENSITIVITY_ATTR",
    "SHAPE_ATTR", "SPEC_ATTR", "STOPPED_VALUES_ATTR", "STOP_REASON", "SUPERNET_ATTR",
    "TEACHER_ATTR", "TRANSFER_ATTR", "WARM_START_ATTR", "WARM_START_TRIAL", "WEIGHTS_ATTR",
    "WORKER_ATTR",
]

# -- trial attributes ------------------------------------------------------------------------
#: The candidate's Spec as JSON (``spaces.registry.spec_json``).
SPEC_ATTR = "spec"
#: Every measured metric of a complete trial (one dict, one storage write).
METRICS_ATTR = "metrics"
#: Why a trial failed: ``Type: message`` (``search.errors.reason_of``) or a dead worker.
FAIL_REASON = "fail_reason"
#: Why a trial was stopped early (the early-stopping rule's reason).
STOP_REASON = "stop_reason"
#: The validation metric at each checkpoint (``"train:3"``, ``"prune:1"``, ``"final"``).
CURVE_ATTR = "curve"
#: On a stopped trial: its objective values when it was stopped (the checkpoint's validation
#: accuracy, the projected sizes), in the study's objective order, for the sampler.
STOPPED_VALUES_ATTR = "stopped_values"
#: The distillation teacher a trial learnt from (name, file, trained, seconds).
TEACHER_ATTR = "teacher"
#: What a transfer checkpoint gave the trial's model (loaded and skipped tensors).
TRANSFER_ATTR = "transfer"
#: ``host:pid`` of the worker process running the trial.
WORKER_ATTR = "worker"
#: On a retried trial: the number of the failed trial it repeats.
RETRY_OF = "retry_of"
#: The id of the trial's weights in Optuna's artifact store.
WEIGHTS_ATTR = "weights_artifact"
#: A fine-tuned one-shot candidate's supernet estimate.
ESTIMATE_ATTR = "supernet"
#: On an explored one-shot candidate: the seconds its estimate took.
SECONDS_ATTR = "estimate_seconds"
#: On a compress-mode warm-start trial: the allocation it came from (budget, objective,
#: estimated drop and cost, feasible).
WARM_START_TRIAL = "warm_start"

# -- study attributes ------------------------------------------------------------------------
#: The study's StudyConfig as a dict (``StudyConfig.to_dict``).
CONFIG_ATTR = "frontier_config"
#: The input shape and output width of the data the study ran on, so ``export`` rebuilds a
#: trial's model without the data.
SHAPE_ATTR = "data_shape"
#: The absolute output folder whose ``artifacts/`` holds the trials' weights, so ``export``
#: finds them from any working folder.
ARTIFACTS_ATTR = "artifacts_out_dir"
#: The study's one-shot supernet: its artifact id and how it was trained.
SUPERNET_ATTR = "oneshot_supernet"
#: Set once the chosen one-shot candidates are enqueued (how many).
ENQUEUED_ATTR = "oneshot_enqueued"
#: A compress-mode study's base model measured as it is (the metrics of ``Measured``).
BASE_ATTR = "base_metrics"
#: Set once a compress-mode study's warm-start candidates are enqueued (how many).
WARM_START_ATTR = "warm_start_enqueued"
#: A compress-mode study's sensitivity table (``objectives.sensitivity``), as pandas'
#: ``orient="split"`` JSON: ``{"columns": [...], "data": [[...], ...]}``.
SENSITIVITY_ATTR = "sensitivity_table"
#: The id of the study's MLflow run.
RUN_ATTR = "mlflow_run_id"
