"""Import strings: how a user's code (a model builder, a space, a dataset, a loss, a metric) is
found again by another process, from another folder.

An import string is ``"module:attribute"`` (an installed or importable module) or
``"path/to/file.py:attribute"``. :func:`canonical` turns what a user wrote, or the object itself,
into the form a study stores: an installed module stays ``"module:attribute"``; a module found
only through the study file's folder or the current folder, and a function of a script's
``__main__``, become the absolute path of their file, so workers, ``resume``, ``report`` and
``export`` find them from anywhere on the same machine (or any machine with the same path).
A module string without ``:`` (``"my_spaces"`` or ``"plugins/x.py"``) names a whole module, as
``[study] imports`` does.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["canonical", "canonical_module", "import_module", "locate", "module_ref", "ref_of"]

#: canonical import string -> object, for objects handed over in this process (a function of
#: ``__main__`` must not be found by importing its script a second time).
_KNOWN: dict[str, Any] = {}


def _is_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or "\\" in module


def _split(ref: str, field: str) -> tuple[str, str]:
    module, sep, attr = ref.rpartition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{field}: {ref!r} is not an import string; write \"module:function\" "
                         "or \"path/to/file.py:function\"")
    return module, attr


def _module_file(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _installed(path: Path) -> bool:
    """Whether ``path`` belongs to an installed distribution (site-packages) or the stdlib."""
    return any(part in ("site-packages", "dist-packages") for part in path.parts) or \
        path.is_relative_to(Path(sys.base_prefix).resolve())


def _load_file(path: Path, field: str) -> ModuleType:
    """Import ``path`` once per process: as ``pkg.mod`` when it sits in a package (its root goes
    on ``sys.path``), else under its stem, with its folder on ``sys.path`` for its own imports."""
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "") != "__main__" and _module_file(module) == path:
            return module
    if not path.is_file():
        raise ValueError(f"{field}: {path} is not a file; give the path of a .py file")
    parts, root = [path.stem], path.parent
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    if str(root) not in sys.path:
        sys.path.append(str(root))
    name = ".".join(parts)
    if len(parts) > 1:
        return importlib.import_module(name)
    if name in sys.modules:  # another module of that name is loaded: keep both apart
        name = f"frontier_user_{abs(hash(str(path)))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{field}: cannot import {path}; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_module(module: str, field: str, base_dirs: Sequence[str | Path] = ()) -> ModuleType:
    """Import a module named by a dotted name or a ``.py`` path (relative paths and top-level
    names are looked up in ``base_dirs`` first, then the current folder). Raises ValueError
    naming ``field`` and the string when it cannot be imported, or when importing it fails."""
    roots = [Path(d).resolve() for d in (*base_dirs, Path.cwd())]
    try:
        if _is_path(module):
            candidates = [Path(module)] if Path(module).is_absolute() else \
                [root / module for root in roots]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise ValueError(f"{field}: {module} is not a file (looked in "
                                 f"{', '.join(str(r) for r in roots)})")
            return _load_file(found.resolve(), field)
        for root in reversed(roots):
            if str(root) not in sys.path:
                sys.path.append(str(root))
        return importlib.import_module(module)
    except ValueError:
        raise
    except Exception as err:  # a user module may raise anything while importing
        raise ValueError(f"{field}: cannot import {module!r} ({type(err).__name__}: {err}); "
                         "check the module name and that it imports on its own") from None


def locate(ref: str, field: str, base_dirs: Sequence[str | Path] = ()) -> Any:
    """The object an import string names (see :func:`import_module` for the lookup)."""
    if ref in _KNOWN:
        return _KNOWN[ref]
    module_name, attr = _split(ref, field)
    module = import_module(module_name, field, base_dirs)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{field}: {module_name!r} has no attribute {attr!r}; check the "
                             "name after the ':'")
        obj = getattr(obj, part)
    return obj


_OWN = ("spaces", "objectives", "search", "studies")


def _by_name(module_name: str, file: Path | None) -> bool:
    """Whether a module is found by its name from any folder: Frontier's own packages and
    installed distributions are; a user's file is stored by its path instead."""
    return module_name != "__main__" and (file is None or _installed(file)
                                          or module_name.partition(".")[0] in _OWN)


def module_ref(module: ModuleType, field: str) -> str:
    """The canonical string of an imported module: its dotted name, or its file's path."""
    file = _module_file(module)
    if _by_name(module.__name__, file):
        return module.__name__
    if file is None:
        raise ValueError(f"{field}: module {module.__name__!r} has no file; put the code in a "
                         ".py file so other processes can import it")
    return str(file)


def ref_of(obj: Any, field: str) -> str:
    """The canonical import string of a module-level function or class ``obj``."""
    qualname = getattr(obj, "__qualname__", None)
    module_name = getattr(obj, "__module__", None)
    module = sys.modules.get(module_name or "")
    if not qualname or module is None or "<" in qualname:
        raise ValueError(f"{field}: {obj!r} is not a module-level function or class; define it "
                         "at the top level of a .py file so other processes can import it")
    ref = f"{module_ref(module, field)}:{qualname}"
    _KNOWN[ref] = obj
    return ref


def canonical_module(name: str, field: str, base_dirs: Sequence[str | Path] = ()) -> str:
    """The canonical string of a module named by a dotted name or a path, after importing it."""
    return module_ref(import_module(name, field, base_dirs), field)


def canonical(ref_or_obj: Any, field: str, base_dirs: Sequence[str | Path] = ()) -> str:
    """The import string a study stores for ``ref_or_obj`` (an import string, or the object),
    after checking that it imports. See the module docstring for the rules."""
    if not isinstance(ref_or_obj, str):
        return ref_of(ref_or_obj, field)
    module_name, attr = _split(ref_or_obj, field)
    obj = locate(ref_or_obj, field, base_dirs)
    ref = f"{canonical_module(module_name, field, base_dirs)}:{attr}"
    _KNOWN[ref] = obj
    return ref
