"""``Study``: one object for scripts, in the spirit of ``optuna.Study``.

    study = Study.from_toml("studies/digits_cnn.toml")    # or Study("name", space=..., data=...)
    study.optimize(n_trials=60)                            # resumable, never overshoots
    print(study.front())                                   # the Pareto front, a DataFrame
    study.write_outputs()                                  # pareto.csv/json, trials.csv, html

It only wires the engine's functions together (``search.storage.studies``, ``search.run``,
``search.results.pareto``, ``search.results.outputs``, ``search.results.model_folder``); the CLI
calls the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial

from objectives.data import DataConfig
from objectives.pipeline import Budget
from search.config import SamplerConfig, SpaceConfig, StudyConfig, load_config
from search.progress import DEFAULT_LOG
from search.results.outputs import write_outputs
from search.results.pareto import front_frame, trials_frame
from search.run import Callback, prepare, run_study
from search.storage.studies import create_or_load, load_existing
from search.storage.urls import DEFAULT_STORAGE, redact
from spaces.space import as_space

if TYPE_CHECKING:
    from search.results.model_folder import Exported

__all__ = ["Study"]

#: What ``data=`` takes: a DataConfig, a built-in dataset's name, or a user's ``load()``.
DataLike = DataConfig | str | Callable[[], Any] | None


class Study:
    """A Frontier study: its config, and the ``optuna.Study`` in a storage that holds its trials.

    ``Study(name, space=..., data=..., budget=..., n_trials=..., objectives=..., sampler=...,
    storage=..., **fields)`` builds the :class:`StudyConfig` from Python:

    - ``space``: a space object (``CNNSpace(max_depth=3, widths=[8, 16])``), a space name
      (``"resnet"``), a :class:`SpaceConfig`, or a define-by-run builder
      ``build(trial, input_shape, num_classes)`` (``SpaceConfig.builder(build, bits=[4, 8])``
      adds knobs to it);
    - ``data``: a :class:`DataConfig`, a built-in dataset name (``"digits"``), or a user's
      ``load()`` function;
    - ``sampler``: a :class:`SamplerConfig` or a sampler name (``"tpe"``);
    - ``fields``: any other ``StudyConfig`` field (``seed``, ``device``, ``output_dir``,
      ``constraints``, ``early_stopping``, ``distill``, ``transfer``, ``imports``, ``mode``,
      ``base``: a ``objectives.base.BaseConfig`` for ``mode = "compress"``).

    Nothing is written until the study is used: :attr:`optuna` creates it in ``storage``
    (default ``sqlite:///runs/frontier.db``), or loads it when it exists with the same config.
    """

    def __init__(self, name: str, *, space: Any = None, data: DataLike = None,
                 budget: Budget | None = None, n_trials: int | None = None,
                 objectives: Sequence[str] | None = None,
                 sampler: SamplerConfig | str | None = None, storage: str | None = None,
                 **fields: Any) -> None:
        given: dict[str, Any] = {
            "budget": budget, "n_trials": n_trials, "storage": storage,
            "objectives": tuple(objectives) if objectives is not None else None,
            "sampler": SamplerConfig(sampler) if isinstance(sampler, str) else sampler,
            "imports": tuple(fields.pop("imports")) if "imports" in fields else None,
        }
        config = StudyConfig(name=name, space=_space_config(space), dataset=_data_config(data),
                             **{k: v for k, v in given.items() if v is not None}, **fields)
        self._setup(config, storage)

    def _setup(self, config: StudyConfig, storage: str | None,
               study: optuna.Study | None = None) -> None:
        self._config = config
        self._storage = storage or config.storage or DEFAULT_STORAGE
        self._study = study

    @classmethod
    def from_config(cls, config: StudyConfig, storage: str | None = None) -> Study:
        """The study of ``config`` (``storage``: instead of ``config.storage``)."""
        made = cls.__new__(cls)
        made._setup(config, storage)
        return made

    @classmethod
    def from_toml(cls, path: str | Path, storage: str | None = None) -> Study:
        """The study of a TOML study file (see ``load_config``)."""
        return cls.from_config(load_config(path), storage)

    @classmethod
    def load(cls, name: str, storage: str = DEFAULT_STORAGE) -> Study:
        """A study stored in ``storage``, with the config stored on it (no file needed)."""
        study, config = load_existing(storage, name)
        made = cls.__new__(cls)
        made._setup(config, storage, study)
        return made

    def __repr__(self) -> str:
        return f"Study({self.name!r}, storage={redact(self.storage)!r})"

    @property
    def name(self) -> str:
        """The study's name in its storage."""
        return self._config.name

    @property
    def config(self) -> StudyConfig:
        """The :class:`StudyConfig`; ``config.to_toml()`` is the study file that reproduces it."""
        return self._config

    @property
    def storage(self) -> str:
        """The storage URL the study lives in."""
        return self._storage

    @property
    def optuna(self) -> optuna.Study:
        """The plain ``optuna.Study`` underneath, created or loaded on first use."""
        if self._study is None:
            self._study = create_or_load(self._config, self._storage)
        return self._study

    def optimize(self, n_trials: int | None = None, *, timeout: float | None = None,
                 callbacks: list[Callback] | None = None, log: str = DEFAULT_LOG) -> int:
        """Run trials until the study holds ``n_trials`` finished ones (default: the config's
        ``n_trials``): a target, never overshot, so a second call continues the study.
        ``timeout``: seconds after which no trial starts; ``callbacks``: Optuna callbacks
        ``(study, trial)``; ``log``: ``"bar"``, ``"quiet"`` or ``"jsonl"``. Returns the number
        of finished trials. As in the CLI, the data and a user builder are checked before a new
        study is written, and Optuna's own log lines are held back."""
        data, space = prepare(self._config) if self._study is None else (None, None)
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        try:
            return run_study(self.optuna, self._config, n_trials=n_trials, timeout=timeout,
                             callbacks=callbacks, log=log, data=data, space=space)
        finally:
            optuna.logging.set_verbosity(verbosity)

    def front(self) -> pd.DataFrame:
        """The Pareto front, one row per trial (the columns of ``pareto.csv``)."""
        return front_frame(self.optuna)

    def trials(self) -> pd.DataFrame:
        """Every trial with its state, metrics, parameters and failure reason."""
        return trials_frame(self.optuna)

    def write_outputs(self, out_dir: str | Path | None = None) -> dict[str, Path]:
        """``pareto.csv``, ``pareto.json``, ``trials.csv`` and ``pareto.html`` in ``out_dir``
        (default: the config's ``out_dir``); returns their paths."""
        return write_outputs(self.optuna, self._config.out_dir if out_dir is None else out_dir)

    def export(self, trial: int | FrozenTrial, out_dir: str | Path, *, onnx: bool = False,
               int8: bool = False) -> Exported:
        """Write the model folder of a COMPLETE ``trial`` (its number, or the trial) to
        ``out_dir``, with ``onnx`` its ONNX model, with ``int8`` also its int8 ONNX model; see
        ``search.results.model_folder.export_trial``, whose ``Exported`` it returns."""
        # torch.export and ONNX: only when exporting
        from search.results.model_folder import export_trial

        number = trial.number if isinstance(trial, FrozenTrial) else trial
        return export_trial(self.optuna, number, out_dir, self._config, onnx=onnx, int8=int8)


def _space_config(space: Any) -> SpaceConfig:
    """A ``space=`` argument as the SpaceConfig a study stores."""
    if space is None:
        return SpaceConfig()
    if isinstance(space, SpaceConfig):
        return space
    if isinstance(space, str):
        return SpaceConfig(space)
    if hasattr(space, "sample") and hasattr(space, "build"):
        if isinstance(space, type):
            return SpaceConfig(getattr(space, "name"))  # noqa: B009  (a class attribute)
        options = as_space(space).options
        if not isinstance(options, dict):
            raise TypeError(f"space: {type(space).__name__} keeps no .options dict; pass "
                            f"SpaceConfig({space.name!r}, options) instead")
        return SpaceConfig(space.name, dict(options))
    if callable(space):
        return SpaceConfig.builder(space)
    raise TypeError(f"space: expected a space, a space name, a SpaceConfig or a builder "
                    f"function, got {space!r}")


def _data_config(data: DataLike) -> DataConfig:
    """A ``data=`` argument as a DataConfig."""
    if data is None:
        return DataConfig()
    if isinstance(data, DataConfig):
        return data
    if isinstance(data, str):
        return DataConfig(source=data) if ":" in data else DataConfig(name=data)
    if callable(data):
        return DataConfig(source=data)  # type: ignore[arg-type]  # stored as its import string
    raise TypeError(f"data: expected a DataConfig, a dataset name or a load() function, got "
                    f"{data!r}")
