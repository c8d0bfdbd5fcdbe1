"""The base model built or loaded (:func:`load_base`) and checked before a study is written
(:func:`check_base`): every problem one ValueError naming the ``[base]`` field and the fix."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from objectives.base.config import BaseConfig
from objectives.base.folder import base_of_meta, load_weights, read_meta, read_spec, rebuild
from objectives.base.huggingface import load_huggingface
from objectives.base.paths import find_path, looked_in
from objectives.base.state import load_checkpoint
from objectives.data.batches import first_inputs
from objectives.data.splits import TensorData
from spaces.locate import locate

__all__ = ["check_base", "load_base", "load_folder"]

#: Inputs the base runs on in :func:`check_base`.
CHECK_ROWS = 2


def _existing(path: str, field: str, root: str | Path | None, *, folder: bool) -> Path:
    dirs = [root] if root is not None else []
    found = find_path(path, dirs)
    if not (found.is_dir() if folder else found.is_file()):
        what = "folder" if folder else "file"
        where = "" if Path(path).is_absolute() else f" (looked in {looked_in(path, dirs)})"
        raise ValueError(f"{field}: {path} is not a {what}{where}; give the path of the {what} "
                         "on this machine (a relative path is found next to the study file, "
                         "then in the current folder)")
    return found


def _built(cfg: BaseConfig, input_shape: tuple[int, ...], num_classes: int,
           root: str | Path | None) -> nn.Module:
    build = locate(cfg.model, "base.model", [root] if root is not None else [])
    try:
        model = build(tuple(input_shape), num_classes)
    except Exception as err:  # the user's builder may raise anything
        raise ValueError(f"base.model: {cfg.model}({tuple(input_shape)}, {num_classes}) failed "
                         f"({type(err).__name__}: {err}); build_base takes (input_shape, "
                         "num_classes) and returns the model") from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"base.model: {cfg.model} returned {type(model).__name__}, not a "
                         "torch.nn.Module")
    if cfg.checkpoint:
        path = _existing(cfg.checkpoint, "base.checkpoint", root, folder=False)
        load_checkpoint(model, path, head_free=cfg.transfer_epochs > 0)
    return model


def load_base(cfg: BaseConfig, input_shape: tuple[int, ...], num_classes: int, *,
              root: str | Path | None = None) -> nn.Module:
    """The base model of ``cfg`` in eval mode on the CPU: ``model`` built for
    ``(input_shape, num_classes)`` with ``checkpoint`` loaded (with ``transfer_epochs`` a head
    of another width keeps fresh weights), a Hugging Face folder (with ``transfer_epochs`` its
    classifier rebuilt for ``num_classes`` when it differs), or a ``frontier export`` folder.
    Relative paths are found in ``root`` (the study file's folder), then the current folder.
    Raises ValueError naming the field and the fix."""
    problems = cfg.problems()
    if problems:
        raise ValueError(f"{problems[0][0]}: {problems[0][1]}")
    if cfg.model:
        model = _built(cfg, input_shape, num_classes, root)
    elif cfg.huggingface:
        folder = _existing(cfg.huggingface, "base.huggingface", root, folder=True)
        model = load_huggingface(folder, num_classes, new_head=cfg.transfer_epochs > 0)
    else:
        folder = _existing(cfg.export, "base.export", root, folder=True)
        try:
            model = load_folder(folder)
        except ValueError as err:
            raise ValueError(f"base.export: {err}") from None
    return model.cpu().eval()


def _logits(model: nn.Module, x: torch.Tensor, field: str) -> torch.Tensor:
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as err:  # any layer may reject the input
        reason = (str(err).splitlines() or [""])[0][:200]
        raise ValueError(f"{field}: the base model does not run on a batch of the data "
                         f"(inputs {tuple(x.shape)}, {x.dtype}): {type(err).__name__}: "
                         f"{reason}; give a base built for this data") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        what = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{field}: the base model returns {what}, not logits (batch, "
                         "classes); return one tensor of logits from forward")
    return out


def check_base(cfg: BaseConfig, data: TensorData, *, root: str | Path | None = None
               ) -> nn.Module:
    """Everything about the base that can be checked before a study is written: it loads
    (:func:`load_base`), runs on the first training inputs of ``data``, and its output width
    is the data's number of classes, or ``transfer_epochs`` is set to replace the head. Raises
    ValueError naming the field and the fix; ``trim`` must name modules of the base. Returns
    the loaded base (eval mode, CPU)."""
    model = load_base(cfg, data.input_shape, data.num_classes, root=root)
    modules = [name for name, _ in model.named_modules() if name]
    unknown = [name for name in cfg.trim if name not in modules]
    if unknown:
        raise ValueError(f"base.trim: the base has no module {unknown[0]!r}; name modules as "
                         f"named_modules() spells them: {', '.join(modules[:6])}"
                         f"{', ...' if len(modules) > 6 else ''}")
    field = f"base.{cfg.kind}"
    out = _logits(model, first_inputs(data.train, CHECK_ROWS), field)
    width = out.shape[-1]
    if width != data.num_classes and cfg.transfer_epochs == 0:
        raise ValueError(f"{field}: the base model gives {width} outputs and the data has "
                         f"{data.num_classes} classes; set [base] transfer_epochs to replace "
                         "and fine-tune the head")
    return model


def load_folder(model_dir: str | Path) -> nn.Module:
    """The exported model of ``model_dir`` on the CPU in eval mode, with the weights of its
    packed file (``objectives.base.folder``); a compress-mode candidate is rebuilt on its own
    study's base first. Raises ValueError naming the file that is missing or unreadable."""
    meta = read_meta(model_dir)
    shape, classes = tuple(meta["input_shape"]), int(meta["num_classes"])
    stored = base_of_meta(meta)
    base = load_base(stored, shape, classes) if stored is not None else None
    model, _ = rebuild(read_spec(model_dir), meta["space"], meta.get("space_options", {}),
                       shape, classes, base)
    load_weights(model_dir, model)
    return model.cpu().eval()
