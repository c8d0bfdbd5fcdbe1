"""The engine: config → Optuna study → run/resume → Pareto → plots and exports."""

from objectives.classification import Budget
from objectives.data import DataConfig
from search.config import OBJECTIVES, SamplerConfig, SpaceConfig, StudyConfig, load_config
from search.errors import FrontierError
from search.exports import write_outputs
from search.pareto import front_frame, front_trials, trials_frame, write_tables
from search.plots import pareto_figure, write_html
from search.run import count_finished, run_study
from search.storage import DEFAULT_STORAGE, open_storage, redact
from search.study import create_or_load, load_existing

__all__ = [
    "DEFAULT_STORAGE",
    "OBJECTIVES",
    "Budget",
    "DataConfig",
    "FrontierError",
    "SamplerConfig",
    "SpaceConfig",
    "StudyConfig",
    "count_finished",
    "create_or_load",
    "front_frame",
    "front_trials",
    "load_config",
    "load_existing",
    "open_storage",
    "pareto_figure",
    "redact",
    "run_study",
    "trials_frame",
    "write_html",
    "write_outputs",
    "write_tables",
]
