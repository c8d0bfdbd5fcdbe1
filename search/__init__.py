"""The engine: config → Optuna study → run/resume → Pareto → plots and exports.

What a script needs is here: :class:`Study` (create or load, ``optimize``, ``front``,
``write_outputs``, ``export``), the config dataclasses it takes, the built-in spaces and the
registry; the engine's functions stay in their modules (``search.run.run_study``,
``search.results.pareto.front_frame``, ...).
"""

from objectives.data import DataConfig
from objectives.distill import Distill
from objectives.pipeline import Budget
from objectives.transfer import Transfer
from search.config import Constraints, SamplerConfig, SpaceConfig, StudyConfig, load_config
from search.early_stop import EarlyStopping
from search.errors import ConfigError, DatasetError, FrontierError, StorageError
from search.study import Study
from search.tracking import Logging
from spaces import CNNSpace, MLPSpace, MobileNetSpace, ResNetSpace, create_space, register_space

__all__ = [
    "Budget",
    "CNNSpace",
    "ConfigError",
    "Constraints",
    "DataConfig",
    "DatasetError",
    "Distill",
    "EarlyStopping",
    "FrontierError",
    "Logging",
    "MLPSpace",
    "MobileNetSpace",
    "ResNetSpace",
    "SamplerConfig",
    "SpaceConfig",
    "StorageError",
    "Study",
    "StudyConfig",
    "Transfer",
    "create_space",
    "load_config",
    "register_space",
]
