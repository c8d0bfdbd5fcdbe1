"""TensorBoard logger: one run folder per trial, ``<dir>/<study>/trial-<n>``, and one per
process for the study's progress, ``<dir>/<study>/study-<worker id>`` (no file is shared
between workers).

A trial's run holds per-epoch scalars ``<phase>/loss``, ``<phase>/val_accuracy``,
``<phase>/lr`` and ``<phase>/epoch_seconds`` (phase: train, prune, qat; step: epochs across the
trial's phases), its final metrics ``final/<metric>``, its sampled parameters as an hparams
session (one row per trial in TensorBoard's HPARAMS table, the ``final/`` metrics among its
columns) and its outcome and early-stopping reason as text. The study run holds
``study/hypervolume`` and ``study/front_size`` (step: finished trials)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["TensorBoardLogger", "safe_name"]


def safe_name(text: str) -> str:
    """``text`` as a folder name: anything but letters, digits, '.', '_' and '-' becomes '-'."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)


class TensorBoardLogger:
    """Writes a study's trials under ``root/<study>`` (see the module docstring)."""

    name = "tensorboard"

    def __init__(self, root: str | Path, study: str, worker: str) -> None:
        from torch.utils.tensorboard import SummaryWriter  # needs the 'tensorboard' extra

        self._writer_cls = SummaryWriter
        self.folder = Path(root) / safe_name(study)
        self.worker = safe_name(worker)
        self._writers: dict[int, Any] = {}
        self._study: Any = None

    def _trial(self, trial: int) -> Any:
        if trial not in self._writers:
            self._writers[trial] = self._writer_cls(str(self.folder / f"trial-{trial}"))
        return self._writers[trial]

    def trial_start(self, trial: int, params: dict[str, Any]) -> None:
        """Open the trial's run."""
        self._trial(trial)

    def epoch(self, trial: int, phase: str, step: int, values: dict[str, float]) -> None:
        """One scalar per value, tagged ``<phase>/<name>``."""
        writer = self._trial(trial)
        for key, value in values.items():
            writer.add_scalar(f"{phase}/{key}", value, step)

    def trial_end(self, trial: int, state: str, params: dict[str, Any],
                  metrics: dict[str, float], stop_reason: str | None) -> None:
        """Final metrics, the hparams session and the outcome text; closes the trial's run."""
        from torch.utils.tensorboard.summary import hparams

        writer = self._trial(trial)
        final = {f"final/{key}": value for key, value in metrics.items()}
        for tag, value in final.items():
            writer.add_scalar(tag, value, 0)
        # The session start/end only: TensorBoard then builds the HPARAMS table from every
        # trial's parameters (conditional ones included) instead of the first trial's.
        _, start, end = hparams({**params, "state": state}, final)
        file_writer = writer._get_file_writer()
        file_writer.add_summary(start)
        file_writer.add_summary(end)
        outcome = {"COMPLETE": "completed", "STOPPED": "stopped by early stopping",
                   "FAIL": "failed"}.get(state, state)
        text = f"{outcome}: {stop_reason}" if stop_reason else outcome
        writer.add_text("early_stopping", text, 0)
        writer.close()
        del self._writers[trial]

    def study_update(self, finished: int, hypervolume: float, front_size: int) -> None:
        """``study/hypervolume`` and ``study/front_size`` at step ``finished``."""
        if self._study is None:
            self._study = self._writer_cls(str(self.folder / f"study-{self.worker}"))
        self._study.add_scalar("study/hypervolume", hypervolume, finished)
        self._study.add_scalar("study/front_size", front_size, finished)
        self._study.flush()

    def close(self) -> None:
        """Close every open run."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        if self._study is not None:
            self._study.close()
            self._study = None
