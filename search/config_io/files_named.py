"""Where a study config names files ([base] checkpoint, huggingface and export, [transfer]
checkpoint) and the base's builder: paths become absolute (found next to the study file, then
in the current folder: ``objectives.base.paths``) and the builder its canonical import string
(``spaces.locate``), so workers, ``resume`` and ``report`` find them from any folder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from objectives.base.paths import find_path
from spaces.locate import canonical

__all__ = ["PATH_FIELDS", "resolve_files"]

#: The path fields of each section.
PATH_FIELDS: dict[str, tuple[str, ...]] = {
    "base": ("checkpoint", "huggingface", "export"), "transfer": ("checkpoint",)}


def resolve_files(section: str, values: Mapping[str, Any], base_dirs: Sequence[str | Path]
                  ) -> dict[str, Any]:
    """The fields of ``values`` (one section's table or fields) that change: set paths made
    absolute, ``[base] model`` (an import string or, from Python, the function) made canonical.
    A path that exists nowhere is kept as its place in the first folder, for the run paths'
    checks to name. Raises ValueError naming the field when the builder does not import."""
    out: dict[str, Any] = {}
    for key in PATH_FIELDS.get(section, ()):
        value = values.get(key)
        if isinstance(value, str) and value:
            found = str(find_path(value, base_dirs))
            if found != value:
                out[key] = found
    model = values.get("model") if section == "base" else None
    if model is not None and model != "":
        ref = canonical(model, "base.model", base_dirs)
        if ref != model:
            out["model"] = ref
    return out
