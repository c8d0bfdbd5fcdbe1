"""The ``[logging]`` section of a study config: where trials are logged (nothing by default)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Logging"]


@dataclass(frozen=True)
class Logging:
    """Experiment trackers. Not one of the sections a continued study must keep: ``resume`` or
    ``worker`` may log elsewhere (``--tensorboard DIR``, ``--mlflow URI``)."""

    #: TensorBoard folder: one run per trial, ``<dir>/<study>/trial-<n>`` ("" = off).
    tensorboard: str = ""
    #: MLflow tracking URI, e.g. ``file:runs/mlruns`` ("" = off): one run per trial, nested
    #: under one run of the study (experiment = the study's name).
    mlflow: str = ""
    #: Log the exported model folder of each front trial as MLflow artifacts at the end of
    #: ``run`` and ``resume``.
    mlflow_artifacts: bool = False

    @property
    def enabled(self) -> bool:
        """Whether any tracker is on."""
        return bool(self.tensorboard or self.mlflow)

    def worker_args(self) -> list[str]:
        """The ``worker`` command-line options that carry these trackers to a worker process
        (``mlflow_artifacts`` is for the process that ends the run)."""
        return [arg for key in ("tensorboard", "mlflow") if (value := getattr(self, key))
                for arg in (f"--{key}", value)]
