"""Depth trimming: whole units of a model (residual blocks, layers of a stack) replaced by
``nn.Identity``.

A **removable unit** (:func:`removable_units`) is a module that holds a conv or linear layer,
is an item of an ``nn.Sequential`` or ``nn.ModuleList`` and, on one forward pass of an example
input (eval mode, no grad), returns a tensor of the shape it was given: a residual block whose
shortcut is the identity (torchvision's ``BasicBlock`` / ``Bottleneck`` without
``downsample``), a shape-keeping layer of a plain stack, a transformer layer that maps hidden
states to hidden states. Modules a user names are added. A unit is kept only where the model,
with that unit alone replaced by ``nn.Identity``, still runs and gives an output of the same
shape; for a classifier (a ``(batch, classes)`` output) the head (the last conv or linear layer
to run, and any module whose output is the model's) is never a unit. One forward pass per
candidate.

The step ``depth`` (stage "structure", fine-tuned in the "prune" phase) drops the units named in
``CompressSpec.steps["drop_units"]`` (a list of qualified module names, written there by the
space that chose them). It runs first among the structure steps, so structured pruning and
low-rank factorisation never work on removed blocks. Shapes depend only on the names, so a
fresh model replays it by dropping the same units. Per-layer knobs are named on the model as
built: the layers of a dropped unit simply have no entry any more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from objectives.compress.steps import Compressor, StepContext, register_compressor
from spaces.layers import PrunableLayer, PrunesItself
from spaces.spec import CompressSpec

__all__ = ["DROP_UNITS", "DepthTrimming", "drop_units", "removable_units"]

#: The ``CompressSpec.steps`` key that lists the units to drop.
DROP_UNITS = "drop_units"

_CONTAINERS = (nn.Sequential, nn.ModuleList)


def _shape(value: object) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


class _Trace:
    """One forward pass with hooks on every module: input and output shapes by module name
    (``None`` where a call disagreed or did not take/return a tensor), the order prunable
    layers ran in, and the names of modules whose output is the model's output."""

    def __init__(self, model: nn.Module, example_inputs: torch.Tensor) -> None:
        self.shapes: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]] = {}
        self.layers_run: list[str] = []
        outputs: dict[str, object] = {}  # held, so that no id is reused while tracing
        handles = []
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(self._hook(name, module, outputs)))
        try:
            self.output = model(example_inputs)
        finally:
            for handle in handles:
                handle.remove()
        self.gives_output = {n for n, out in outputs.items() if out is self.output}

    def _hook(self, name: str, module: nn.Module, outputs: dict[str, object]
              ) -> Callable[[nn.Module, tuple[object, ...], object], None]:
        def hook(_: nn.Module, args: tuple[object, ...], out: object) -> None:
            seen = (_shape(args[0]) if args else None, _shape(out))
            if self.shapes.setdefault(name, seen) != seen:
                self.shapes[name] = (None, None)  # called twice with other shapes
            outputs[name] = out
            if isinstance(module, PrunableLayer):
                self.layers_run.append(name)
        return hook


def _runs_without(model: nn.Module, name: str, example_inputs: torch.Tensor,
                  out_shape: tuple[int, ...] | None) -> str | None:
    """Why ``model`` cannot lose unit ``name`` (None: it runs, output shape unchanged); the
    unit is swapped for ``nn.Identity`` and back."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    unit = parent._modules[child]
    parent._modules[child] = nn.Identity()
    try:
        got = _shape(model(example_inputs))
    except Exception as err:  # any failure means: not removable
        return f"the model then fails ({type(err).__name__}: {err})"
    finally:
        parent._modules[child] = unit
    return None if got == out_shape else f"the output shape then changes {out_shape} -> {got}"


def _holds_layer(module: nn.Module) -> bool:
    return any(isinstance(m, PrunableLayer) for m in module.modules())


def _head(model: nn.Module, trace: _Trace) -> set[str]:
    """Names of the modules a (batch, classes) output depends on directly, with ancestors."""
    if not isinstance(trace.output, torch.Tensor) or trace.output.dim() != 2:
        return set()
    direct = set(trace.gives_output) | set(trace.layers_run[-1:])
    return {n for n, _ in model.named_modules() if n and any(
        d == n or d.startswith(n + ".") for d in direct)}


def _candidates(model: nn.Module, trace: _Trace) -> list[str]:
    containers = {n for n, m in model.named_modules() if isinstance(m, _CONTAINERS)}
    found = []
    for name, module in model.named_modules():
        parent = name.rpartition(".")[0]
        in_shape, out_shape = trace.shapes.get(name, (None, None))
        if (name and parent in containers and in_shape is not None and in_shape == out_shape
                and _holds_layer(module)):
            found.append(name)
    return found


def _check_named(model: nn.Module, named: Iterable[str], known: Sequence[str]) -> list[str]:
    modules = dict(model.named_modules())
    names = [str(n) for n in named]
    for name in names:
        if not name or name not in modules:
            hint = f"one of {list(known)}" if known else "see removable_units(model, inputs)"
            raise ValueError(f"drop_units: {name!r} is not a module of {type(model).__name__}; "
                             f"name a module as in named_modules(): {hint}")
    return names


@torch.no_grad()
def removable_units(model: nn.Module, example_inputs: torch.Tensor,
                    named: Iterable[str] = ()) -> list[str]:
    """Qualified names of the units of ``model`` that can be replaced by ``nn.Identity`` (see
    the module docstring), in ``named_modules`` order; ``named`` adds modules the user names.

    ``example_inputs`` (e.g. one batch of zeros of the input shape, on the model's device) runs
    once, plus once per candidate; the model's training mode is left as it was. Raises
    ValueError for a named module that does not exist or cannot be removed."""
    was_training = model.training
    model.eval()
    try:
        trace = _Trace(model, example_inputs)
        out_shape = _shape(trace.output)
        head = _head(model, trace)
        found = [n for n in _candidates(model, trace)
                 if n not in head and _runs_without(model, n, example_inputs, out_shape) is None]
        names = _check_named(model, named, found)
        for name in names:
            why = "it is the model's head" if name in head else \
                _runs_without(model, name, example_inputs, out_shape)
            if why is not None:
                raise ValueError(f"drop_units: {name!r} cannot be removed from "
                                 f"{type(model).__name__}: {why}; removable: {found}")
    finally:
        model.train(was_training)
    order = {n: i for i, (n, _) in enumerate(model.named_modules())}
    return sorted(set(found) | set(names), key=order.__getitem__)


def drop_units(model: nn.Module, names: Iterable[str]) -> None:
    """Replace each module named in ``names`` by ``nn.Identity()`` in place (an item of a
    ``Sequential`` or ``ModuleList`` too); a name inside a unit already dropped is skipped.
    Raises ValueError naming a module that does not exist."""
    order = {n: i for i, (n, _) in enumerate(model.named_modules())}
    dropped: list[str] = []
    for name in sorted(set(_check_named(model, names, ())), key=order.__getitem__):
        if any(name.startswith(d + ".") for d in dropped):
            continue
        parent, _, child = name.rpartition(".")
        model.get_submodule(parent).register_module(child, nn.Identity())
        dropped.append(name)


def _units(c: CompressSpec) -> list[str]:
    units = c.steps.get(DROP_UNITS, ())
    if isinstance(units, str) or not isinstance(units, list | tuple):
        raise ValueError(f"steps.{DROP_UNITS}: {units!r} is not a list of module names; give "
                         "a list such as [\"layer1.0\", \"layer2.1\"]")
    return [str(u) for u in units]


@register_compressor("depth")
class DepthTrimming(Compressor):
    """Drops the units listed in ``CompressSpec.steps["drop_units"]`` (:func:`drop_units`)."""

    stage = "structure"
    phase = "prune"

    def active(self, c: CompressSpec) -> bool:
        return bool(_units(c))

    def apply(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> None:
        if isinstance(model, PrunesItself):
            raise ValueError(f"steps.{DROP_UNITS}: {type(model).__name__} prunes its own "
                             "structure and reloads from its own config; drop no units of it")
        drop_units(model, _units(c))

    def replay(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> None:
        self.apply(model, c, ctx)
