"""Where a study config names user code (a builder, a data source, a loss, a metric, modules
that register spaces), every reference becomes the import string the study stores, so that
any process finds the code again (the rules are in ``spaces.locate``)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spaces.locate import canonical, canonical_module, import_module, module_ref
from spaces.space import SPACES

__all__ = ["DATA_REFS", "import_modules", "resolve_tables", "resolve_user_code"]

#: ``[dataset]`` fields that may name user code ("module:function"), or hold it from Python.
DATA_REFS = ("source", "loss", "metric")
_OWN_PACKAGES = ("spaces", "objectives", "search", "studies")


def _names_code(value: Any) -> bool:
    return callable(value) or (isinstance(value, str) and ":" in value)


def resolve_tables(imports: Sequence[str], space: dict[str, Any], dataset: dict[str, Any],
                   base_dirs: Sequence[str | Path]) -> tuple[tuple[str, ...], dict[str, Any],
                                                            dict[str, Any]]:
    """The ``[study] imports``, ``[space]`` and ``[dataset]`` tables of a study file with their
    import strings looked up from ``base_dirs`` (the file's folder) and made canonical.
    Raises ValueError naming the field."""
    resolved = tuple(canonical_module(m, "study.imports", base_dirs) for m in imports)
    space, dataset = dict(space), dict(dataset)
    if isinstance(space.get("model"), str):
        space["model"] = canonical(space["model"], "space.model", base_dirs)
    for key in DATA_REFS:
        if isinstance(dataset.get(key), str) and _names_code(dataset[key]):
            dataset[key] = canonical(dataset[key], f"dataset.{key}", base_dirs)
    return resolved, space, dataset


def resolve_user_code(imports: Sequence[str], space_name: str, options: Mapping[str, Any],
                      dataset_refs: Mapping[str, Any]
                      ) -> tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]:
    """Canonical ``(imports, space options, dataset references)`` of a config built in Python
    or read from storage: modules in ``imports`` are imported; a builder, source, loss or
    metric given as a function becomes its import string; the module of a space registered in
    this process (not one of Frontier's) joins ``imports``. Raises ValueError naming the
    field."""
    resolved = [canonical_module(m, "study.imports") for m in imports]
    opts = dict(options)
    if "model" in opts:
        if space_name != "model":
            raise ValueError(f"space.model: a builder is the space \"model\", not "
                             f"{space_name!r}; drop space.name or the model option")
        opts["model"] = canonical(opts["model"], "space.model")
    refs: dict[str, Any] = {key: canonical(value, f"dataset.{key}")
                            for key, value in dataset_refs.items() if _names_code(value)}
    factory = SPACES.get(space_name, None)
    module = sys.modules.get(getattr(factory, "__module__", ""))
    if module is not None and module.__name__.partition(".")[0] not in _OWN_PACKAGES:
        ref = module_ref(module, "space.name")
        if ref not in resolved:
            resolved.append(ref)
    return tuple(resolved), opts, refs


def import_modules(imports: Sequence[str]) -> None:
    """Import the modules of a stored ``[study] imports`` (e.g. ones that register a space), as
    the run paths and ``export`` do before building a model. Raises ValueError naming the
    module that does not import."""
    for module in imports:
        import_module(module, "study.imports")
