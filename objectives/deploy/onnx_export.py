"""A model as ONNX: :func:`to_onnx` exports it with PyTorch's dynamo exporter (``torch.export``
then onnxscript's translation and optimizer), the batch dimension dynamic.

The export works on a CPU copy in eval mode, so the caller's model is left as it was. The copy
is made exportable first: parametrized weights (pruning masks, weight fake quantization) are
baked to plain tensors, and each activation fake quantizer
(``objectives.compress.quantize.ActFakeQuant``, whose tensor-scale op ``torch.export`` cannot
trace) is replaced by the same arithmetic, ``clamp(round(x * (1/s)), -q, q) * s`` with its
frozen scale (ONNX Mul, Round, Clip, Mul; identical results).

The exporter's optimizer (``optimize=True``) folds batch norm into the convolutions and folds
constants; the debugging metadata it attaches to every node (stack traces, FX node text,
module paths: more than half the bytes of a small model) and the intermediate shape
annotations are dropped, so the file holds the graph and the weights only.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from objectives.compress.quantize import ActFakeQuant
from objectives.deploy._quiet import quiet, require

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "UnsupportedModel", "exportable_copy", "to_onnx"]

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class UnsupportedModel(ValueError):
    """The model holds something ONNX (or ``torch.export``) cannot express; the message is one
    line naming the operator when the exporter names one."""


class _FrozenFakeQuant(nn.Module):
    """:class:`ActFakeQuant` in eval mode as plain arithmetic (exportable, same numbers)."""

    scale: torch.Tensor
    inv_scale: torch.Tensor

    def __init__(self, quant: ActFakeQuant) -> None:
        super().__init__()
        scale = quant.scale().detach().float().cpu().reshape(())
        self.qmax = float(2 ** (quant.bits - 1) - 1)
        self.register_buffer("scale", scale)
        self.register_buffer("inv_scale", 1.0 / scale)  # as the kernel does: x * (1/s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes = torch.clamp(torch.round(x * self.inv_scale), -self.qmax, self.qmax)
        return codes * self.scale


def _own_class(module: nn.Module) -> None:
    """Give a deep copy of a parametrized module a class of its own: the copy shares the
    original's generated ``Parametrized<Layer>`` class, and removing a parametrization deletes
    the weight property from that class, which would break the original."""
    cls = type(module)
    namespace = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, namespace)


def exportable_copy(model: nn.Module, act_quant: bool = True) -> nn.Module:
    """A CPU copy of ``model`` in eval mode that ``torch.export`` can trace: parametrizations
    baked, activation fake quantizers frozen to plain arithmetic (see the module docstring), or
    left out (``act_quant=False``)."""
    plain = copy.deepcopy(model).cpu().eval()
    for module in list(plain.modules()):
        if parametrize.is_parametrized(module):
            _own_class(module)
            for name in list(getattr(module, "parametrizations", {})):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
        for name, child in list(module.named_children()):
            if isinstance(child, ActFakeQuant):
                setattr(module, name, _FrozenFakeQuant(child) if act_quant else nn.Identity())
    return plain


def _chain(err: BaseException) -> list[BaseException]:
    """``err`` and its causes, outermost first."""
    out: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _first_line(err: BaseException) -> str:
    text = _ANSI.sub("", str(err)).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= 240 else line[:237] + "..."


def _reason(err: BaseException) -> str:
    """One line on why the export failed, naming the operator where the exporter does."""
    chain = _chain(err)
    innermost = chain[-1]
    texts = [_ANSI.sub("", str(e)) for e in chain]
    for text in texts:  # no translation registered: "<OpOverload(op='aten.linalg_eig', ...)>"
        found = re.search(r"No ONNX function found for <OpOverload\(op='([^']+)'", text)
        if found:
            return f"operator {found.group(1)} has no ONNX translation"
    for text in texts:  # the translation exists but refused: "... target=torch.ops.aten.x.y]("
        found = re.search(r"target=torch\.ops\.([\w.]+)", text)
        if found:
            op = found.group(1).removesuffix(".default")
            return f"operator {op} cannot be translated to ONNX: {_first_line(innermost)}"
    for e in chain:  # torch.export met an op it cannot trace (no fake-tensor kernel)
        if type(e).__name__ == "UnsupportedOperatorException":
            op = _first_line(e).removesuffix(".default")
            return f"operator {op} cannot be traced by torch.export"
    return f"torch.export cannot capture the model: {_first_line(innermost)}"


def _strip(graph: Any) -> None:
    """Drop debugging metadata, doc strings and intermediate shape annotations in place."""
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
        for attr in node.attribute:
            if attr.HasField("g"):
                _strip(attr.g)
            for sub in attr.graphs:
                _strip(sub)
    for value in (*graph.input, *graph.output, *graph.initializer):
        del value.metadata_props[:]
    del graph.value_info[:]
    del graph.metadata_props[:]
    graph.doc_string = ""


def _batch_is_dynamic(proto: Any) -> bool:
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return bool(dims) and dims[0].HasField("dim_param")


def to_onnx(model: nn.Module, example: torch.Tensor, *, act_quant: bool = True) -> bytes:
    """``model`` (a CPU copy in eval mode, see :func:`exportable_copy`) as a serialized ONNX
    model: one input ``"input"`` shaped as ``example`` with a dynamic batch dimension, one
    output ``"logits"``. ``act_quant=False`` leaves activation fake quantizers out (for
    ``quantize_int8``, which calibrates its own ranges). Nothing is printed. A model ONNX cannot
    express raises :class:`UnsupportedModel`; without the onnx extra, ``ModuleNotFoundError``."""
    require("onnx")
    require("onnxscript")
    if example.dim() == 0 or example.shape[0] == 0:
        raise ValueError("ONNX export needs an example input with at least one row, got shape "
                         f"{tuple(example.shape)}")
    x = example.detach().cpu()
    if x.shape[0] < 2:  # torch.export specializes a dimension of size 1: give it two rows
        x = x.expand(2, *x.shape[1:]).contiguous()
    plain = exportable_copy(model, act_quant)
    batch = torch.export.Dim("batch")
    with quiet():
        try:
            program = torch.onnx.export(
                plain, (x,), dynamo=True, dynamic_shapes=({0: batch},), optimize=True,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], verbose=False,
                report=False)
        except Exception as err:
            if isinstance(err, ModuleNotFoundError):
                raise
            raise UnsupportedModel(f"ONNX export: {_reason(err)}") from err
        if program is None:  # only the legacy exporter returns None
            raise UnsupportedModel("ONNX export: the exporter returned no program")
        proto = program.model_proto
    if not _batch_is_dynamic(proto):
        raise UnsupportedModel("ONNX export: the model fixes its batch size (e.g. a reshape to "
                               "a constant first dimension); use x.shape[0] or flatten(1)")
    _strip(proto.graph)
    data: bytes = proto.SerializeToString()
    return data
