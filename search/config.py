"""``StudyConfig``: one typed description of a study, loaded from TOML or built in Python.

Every problem is reported as a :class:`ConfigError` naming the field (``budget.epochs``) and
the fix; nothing is executed, a config is data. Checking a config reads no data: whether a study
can run on this machine (its data, its transfer checkpoint, its ``[base]``) is checked where it
runs (``search.run.check_runnable``, ``prepare``); the paths it names are made absolute (next to
the study file, then the current folder). A new config imports the user code it names, to store
it as import strings; a config read back from a study's storage (``from_dict(...,
stored=True)``) imports nothing, so the read-only commands need only the storage.
"""

from __future__ import annotations

import dataclasses
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

from objectives.base import BaseConfig
from objectives.data import CHECKS, DATASETS, DataConfig, check_dataset
from objectives.distill import TEACHERS, Distill
from objectives.pipeline import Budget
from objectives.transfer import Transfer
from search.config_io.compress_checks import compress_checks
from search.config_io.files import read_toml
from search.config_io.files_named import PATH_FIELDS, resolve_files
from search.config_io.limits import check_limits
from search.config_io.ranges import range_checks
from search.config_io.tables import typed_table
from search.config_io.toml_writer import dumps
from search.config_io.user_code import DATA_REFS, resolve_tables, resolve_user_code
from search.early_stop import EarlyStopping
from search.errors import ConfigError, FrontierError, reraise_as
from search.oneshot.settings import MODES, OneShot
from search.samplers import SAMPLERS
from search.tracking.settings import Logging
from spaces.domain import domain_values
from spaces.space import create_space

__all__ = [
    "OBJECTIVES",
    "Constraints",
    "SamplerConfig",
    "SpaceConfig",
    "StudyConfig",
    "load_config",
]

#: Study objectives and their directions. The test accuracy is never an objective.
#: ``val_accuracy`` is the study's metric (``[dataset] metric``, accuracy by default) on the
#: validation split.
OBJECTIVES: dict[str, str] = {
    "val_accuracy": "maximize",
    "params": "minimize",
    "size_bytes": "minimize",
    "macs": "minimize",
    "latency_ms": "minimize",
}


@dataclass(frozen=True)
class SpaceConfig:
    """Which space and its options (domains as plain data, see ``spaces.domain``).

    A user's define-by-run builder is the space ``"model"`` with the option ``model``: its
    import string, or (from Python) the function itself, stored as its import string."""

    name: str = "cnn"
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def builder(cls, build: Any, **options: Any) -> SpaceConfig:
        """The space of a user's ``build(trial, input_shape, num_classes)`` (a function or an
        import string) with the knobs in ``options`` (``prune_ratio``, ``bits``, ``lr``...)."""
        return cls("model", {"model": build, **options})


@dataclass(frozen=True)
class SamplerConfig:
    """Which Optuna sampler, by name (see ``search.samplers.SAMPLERS``)."""

    name: str = "nsga2"
    seed: int | None = 0
    population_size: int = 16


@dataclass(frozen=True)
class Constraints:
    """Feasibility limits; infeasible trials are kept but never on the exported front."""
    max_params: int | None = None
    max_size_bytes: int | None = None
    min_accuracy: float | None = None

    def violations(self, metrics: dict[str, Any]) -> dict[str, float]:
        """Optuna constraint values (<= 0 is feasible) for a trial's metrics."""
        out: dict[str, float] = {}
        if self.max_params is not None:
            out["max_params"] = float(metrics["params"] - self.max_params)
        if self.max_size_bytes is not None:
            out["max_size_bytes"] = float(metrics["size_bytes"] - self.max_size_bytes)
        if self.min_accuracy is not None:
            out["min_accuracy"] = float(self.min_accuracy - metrics["val_accuracy"])
        return out


@dataclass(frozen=True)
class StudyConfig:
    """A whole study: name, storage, target size, and what and how to search."""

    name: str
    n_trials: int = 40
    storage: str | None = None
    seed: int = 0
    device: str = "cpu"
    output_dir: str | None = None
    objectives: tuple[str, ...] = ("val_accuracy", "params")
    #: "standard", "one-shot" (see [oneshot], search.oneshot.settings) or "compress" (candidates
    #: derived from the trained model of [base], objectives.base)
    mode: str = "standard"
    #: Modules imported before the config is checked, in every process (e.g. ones that
    #: ``@register_space`` a space); dotted names or ``.py`` paths, stored as in spaces.locate.
    imports: tuple[str, ...] = ()
    space: SpaceConfig = field(default_factory=SpaceConfig)
    dataset: DataConfig = field(default_factory=DataConfig)
    budget: Budget = field(default_factory=Budget)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    constraints: Constraints = field(default_factory=Constraints)
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)
    distill: Distill = field(default_factory=Distill)
    transfer: Transfer = field(default_factory=Transfer)
    logging: Logging = field(default_factory=Logging)  # trackers; a resume may log elsewhere
    oneshot: OneShot = field(default_factory=OneShot)
    base: BaseConfig = field(default_factory=BaseConfig)  # mode = "compress" only
    #: True for a config read back from a study (``search.storage.studies.stored_config``):
    #: its import strings stay as stored (canonical since the study was created), and no user
    #: code is imported and no user space built here; the run paths and ``export`` import what
    #: they use.
    stored: InitVar[bool] = False

    def __post_init__(self, stored: bool) -> None:
        with reraise_as(ConfigError):  # spaces/ and objectives/ raise ValueError
            if not stored:
                _resolve_user_code(self)
            _validate(self, stored)

    @property
    def out_dir(self) -> Path:
        """Where exports go: ``output_dir`` or ``runs/<name>``."""
        return Path(self.output_dir) if self.output_dir else Path("runs") / self.name

    @property
    def directions(self) -> list[str]:
        """Optuna directions of the objectives."""
        return [OBJECTIVES[o] for o in self.objectives]

    def to_dict(self) -> dict[str, Any]:
        """The TOML-shaped dict of this config, without the storage URL (it may hold a
        password); stored on the study so ``resume`` needs no file."""
        study = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                 if f.name not in _SECTIONS and f.name != "storage"}
        study["objectives"] = list(self.objectives)
        study["imports"] = list(self.imports)
        return {"study": study, "space": {"name": self.space.name, **self.space.options},
                **{name: dataclasses.asdict(getattr(self, name)) for name in _TABLES
                   if name != "base" or self.base.is_set}}

    def to_toml(self) -> str:
        """The study file of this config: :func:`load_config` reads it back to an equal config.
        Fields left at None are left out (TOML has no null; ConfigError for one whose default
        is not None, e.g. an unseeded sampler); ``storage`` is written when set (as given, so
        with any password in it)."""
        for section in ("study", *_TABLES):
            part = self if section == "study" else getattr(self, section)
            for f in dataclasses.fields(part):
                if getattr(part, f.name) is None and f.default not in (None, dataclasses.MISSING):
                    raise ConfigError(f"{section}.{f.name}: None has no TOML form, and the file "
                                      f"would read back {f.default!r}; set a value")
        data = self.to_dict()
        data["study"]["storage"] = self.storage
        return dumps(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config",
                  base_dir: str | Path | None = None, *, stored: bool = False) -> StudyConfig:
        """Build from a TOML-shaped dict; unknown sections or keys are errors. Import strings
        are looked up in ``base_dir`` (the study file's folder), then the current folder.
        ``stored``: the dict was stored on a study by :meth:`to_dict`; its import strings are
        kept as they are and nothing is imported (see :attr:`stored`)."""
        unknown = set(data) - {"study", *_SECTIONS}
        if unknown:
            raise ConfigError(f"{source}: unknown section [{sorted(unknown)[0]}]; known "
                              f"sections: {sorted({'study', *_SECTIONS})}")
        study = _table(data, "study", source)
        if "name" not in study:
            raise ConfigError(f"{source}: study.name is missing; add name = \"...\" under "
                              "[study]")
        kwargs = typed_table(cls, study, "study", source, skip=set(_SECTIONS))
        if "objectives" in kwargs:
            kwargs["objectives"] = tuple(kwargs["objectives"])
        imports = tuple(kwargs.get("imports", ()))
        space, dataset = _table(data, "space", source), _table(data, "dataset", source)
        if not stored:
            with reraise_as(ConfigError, f"{source}: "):
                imports, space, dataset = resolve_tables(
                    imports, space, dataset, [base_dir] if base_dir is not None else [])
        kwargs["imports"] = imports
        space = dict(space)
        space_name = space.pop("name", _default_space(space, kwargs.get("mode")))
        if not isinstance(space_name, str):
            raise ConfigError(f"{source}: space.name must be a string, got {space_name!r}")
        kwargs["space"] = SpaceConfig(space_name, space)
        for name, kind in _TABLES.items():  # [dataset]: its table with user code resolved
            table = dataset if name == "dataset" else _table(data, name, source)
            if not stored and name in PATH_FIELDS:  # paths next to the study file
                with reraise_as(ConfigError, f"{source}: "):
                    table = {**table, **resolve_files(
                        name, table, [base_dir] if base_dir is not None else [])}
            kwargs[name] = kind(**typed_table(kind, table, name, source))
        try:
            return cls(**kwargs, stored=stored)
        except FrontierError as err:
            raise type(err)(f"{source}: {err}") from None


#: The sections of a study after ``[study]``, in file order, each a field of StudyConfig:
#: ``[space]`` (a name and free options), then the dataclass tables and their types.
_TABLES: dict[str, type[Any]] = {
    "dataset": DataConfig, "budget": Budget, "sampler": SamplerConfig,
    "constraints": Constraints, "early_stopping": EarlyStopping, "distill": Distill,
    "transfer": Transfer, "logging": Logging, "oneshot": OneShot, "base": BaseConfig}
_SECTIONS = ("space", *_TABLES)


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a TOML study file (its data is checked where the study runs)."""
    p = Path(path)
    return StudyConfig.from_dict(read_toml(p), source=str(p), base_dir=p.parent)


def _table(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {name} must be a table ([{name}]), got {table!r}")
    return table


def _resolve_user_code(cfg: StudyConfig) -> None:
    """Store every reference to user code in ``cfg`` as an import string (see
    ``search.config_io.user_code``, which imports it: raises ValueError); the config stays frozen to
    everyone else."""
    imports, options, refs = resolve_user_code(
        cfg.imports, cfg.space.name, cfg.space.options,
        {key: getattr(cfg.dataset, key) for key in DATA_REFS})
    object.__setattr__(cfg, "imports", imports)
    if refs:
        object.__setattr__(cfg, "dataset", dataclasses.replace(cfg.dataset, **refs))
    if options != cfg.space.options:
        object.__setattr__(cfg, "space", SpaceConfig(cfg.space.name, options))
    for name in PATH_FIELDS:  # relative paths from the current folder, the builder canonical
        part = getattr(cfg, name)
        changed = resolve_files(name, dataclasses.asdict(part), [])
        if changed:
            object.__setattr__(cfg, name, dataclasses.replace(part, **changed))


def _validate(cfg: StudyConfig, stored: bool = False) -> None:
    """Raise ConfigError (or, from ``objectives``/``spaces``, ValueError) naming the first bad
    field. Reads no files; a ``stored`` config's space is not built (it may need user code)."""
    check_limits(cfg, _SECTIONS)  # the name, finite numbers, seeds, counts
    for ok, name, message in (*range_checks(cfg), *_mode_checks(cfg)):
        if not ok:
            raise ConfigError(f"{name}: {message}")
    _check_names(cfg)
    if not stored:
        _check_space(cfg)


def _mode_checks(cfg: StudyConfig) -> list[tuple[bool, str, str]]:
    """``(ok, field, message)`` for the device, the mode and the options that go together."""
    return [
        (cfg.early_stopping.record_curves or not cfg.early_stopping.enabled,
         "early_stopping.record_curves", "must be true while early stopping is enabled"),
        (cfg.device in ("cpu", "auto") or cfg.device.startswith("cuda"), "study.device",
         f"{cfg.device!r} is not a device; use 'cpu', 'cuda' or 'auto'"),
        (cfg.mode in MODES, "study.mode", f"{cfg.mode!r} is not one of {', '.join(MODES)}"),
        (cfg.mode != "one-shot" or cfg.space.name == "cnn", "study.mode",
         "one-shot mode supports the cnn space; use mode = \"standard\" for this one"),
        (cfg.mode != "one-shot" or not cfg.transfer.checkpoint, "transfer.checkpoint",
         "one-shot candidates start from the supernet's weights; remove it"),
        *((False, name, message) for name, message in cfg.oneshot.problems()),
        *compress_checks(cfg),
    ]


def _check_names(cfg: StudyConfig) -> None:
    """The objectives, dataset, loss, sampler and teacher are ones Frontier knows."""
    for o in cfg.objectives:
        if o not in OBJECTIVES:
            raise ConfigError(f"study.objectives: unknown objective {o!r}; choose from "
                              f"{sorted(OBJECTIVES)}")
    if len(set(cfg.objectives)) != len(cfg.objectives):
        raise ConfigError("study.objectives: an objective is listed twice")
    if cfg.dataset.source is None and cfg.dataset.name not in DATASETS:
        raise ConfigError(f"dataset.name: unknown dataset {cfg.dataset.name!r}; choose one "
                          f"of {sorted(DATASETS)}, or give dataset.source")
    check_dataset(_options_only(cfg.dataset))
    if cfg.dataset.loss != "cross_entropy" and cfg.distill.teacher:
        raise ConfigError(f"dataset.loss: distillation ([distill] teacher) mixes in a KL loss "
                          f"over class logits and needs loss = \"cross_entropy\", not "
                          f"{cfg.dataset.loss!r}; remove the teacher or use cross_entropy")
    if cfg.sampler.name not in SAMPLERS:
        raise ConfigError(f"sampler.name: unknown sampler {cfg.sampler.name!r}; choose one "
                          f"of {sorted(SAMPLERS)}")
    if cfg.distill.teacher and cfg.distill.teacher not in TEACHERS:
        raise ConfigError(f"distill.teacher: unknown teacher {cfg.distill.teacher!r}; choose "
                          f"one of {sorted(TEACHERS)}, or \"\" for no distillation")
    if cfg.distill.teacher_epochs < 1:
        raise ConfigError(f"distill.teacher_epochs: {cfg.distill.teacher_epochs} must be >= 1")


def _default_space(space: dict[str, Any], mode: object) -> str:
    """The space of a ``[space]`` table without a name: a compress study's candidates come from
    its base, a table naming a builder is the builder's space, else the cnn space."""
    if mode == "compress":
        return "base"
    return "model" if "model" in space else "cnn"


def _check_space(cfg: StudyConfig) -> None:
    """The space builds from its options; its distillation knob has a teacher."""
    space = create_space(cfg.space.name, cfg.space.options)
    knobs = space.knobs
    if knobs is not None and not cfg.distill.teacher and cfg.mode != "compress" and any(
            w > 0 for w in domain_values(knobs.kd_weight)):  # compress: the base teaches
        raise ConfigError("space.kd_weight: distillation needs a teacher; set teacher = "
                          "\"cnn-large\" under [distill], or keep kd_weight = 0")


def _options_only(data: DataConfig) -> DataConfig:
    """``data`` with its options alone to check: files are checked where the study runs."""
    if data.source is not None:
        return data
    fileless = next(name for name in DATASETS if name not in CHECKS)
    return dataclasses.replace(data, name=fileless, data_dir=None)
