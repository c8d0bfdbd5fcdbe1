"""Checks on the files of a model folder that may come from someone else, before they are loaded.

What is safe to load from a stranger, and why:

- ``weights.safetensors`` through :func:`search.results.model_folder.load`: a safetensors
  header (JSON) and raw bytes, decoded by ``objectives.compress.packing``; the model is rebuilt
  from ``spec.json`` + ``model.json`` by Frontier's own code. No pickle, no code from the folder.
  (A folder from before the packed format holds ``state_dict.pt``: read with
  ``torch.load(weights_only=True)``, torch's restricted unpickler, which builds only tensors.)
- ``model.onnx`` / ``model.int8.onnx``: protobuf, run by ONNX Runtime, which executes no code
  from the model. An ONNX tensor may keep its data in an *external file*, named by path;
  ONNX Runtime 1.32 refuses absolute paths, ``..`` and symlinks leaving the model's folder, but
  older versions read any file the user can read into the model's weights (and so into its
  outputs). :func:`check_onnx` refuses external data outright: Frontier never writes it.

What is not: ``program.pt2``. ``torch.export.load`` unpickles entries with the full unpickler
(which runs whatever a crafted pickle says): weights and constants marked ``use_pickle`` in
the archive's configs, custom and opaque objects, legacy ``.pt`` weight files, and the example
inputs whenever torch's weights-only unpickler refuses them (it then falls back to
``weights_only=False``); it loads compiled AOTInductor libraries; it parses the graph's
symbolic shapes with ``sympy.sympify`` (which evaluates Python), and ``.module()`` executes the
archive's ``guards_code`` as Python. :func:`check_program` refuses all of these, by an
allowlist of what ``torch.export.save`` writes for a Frontier model (raw tensor entries, JSON
configs with ``use_pickle: false``, example inputs torch's weights-only unpickler accepts,
aten operators, plain symbolic expressions, no guard code), reading the archive with torch's
own zip reader and Python's (so both see the same entries). It narrows the attack surface but
cannot make torch's deserializer safe, which was not written for hostile input: load a
stranger's ``program.pt2`` only if you trust its author, and otherwise use
:func:`~search.results.model_folder.load` or ONNX.

Hashes of the folder's files (a ``hashes.json``) were not added: whoever can rewrite
``program.pt2`` can rewrite ``hashes.json`` too, so hashes only detect tampering when they come
from somewhere trusted, and then the trusted channel can carry the files themselves.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from search.errors import FrontierError

__all__ = ["check_onnx", "check_program"]

_FIXED = {"archive_format", "archive_version", "byteorder", ".data/version",
          ".data/serialization_id", "models/model.json", "data/sample_inputs/model.pt"}
_CONFIGS = {"data/weights/model_weights_config.json": "data/weights/",
            "data/constants/model_constants_config.json": "data/constants/"}
_RAW = re.compile(r"data/weights/weight_\d+|data/constants/tensor_\d+")
_TARGET = re.compile(r"torch\.ops\.aten\.[a-z_][a-z0-9_]*\.[a-z_][A-Za-z0-9_]*"
                     r"|_operator\.[a-z][a-z_]*|math\.[a-z][a-z0-9_]*")
#: Names a symbolic shape expression may use (sympy classes, torch's sympy functions, flags).
_SYM_NAMES = frozenset({
    "Symbol", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Max", "Min", "Mod", "Abs",
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "oo", "zoo", "nan", "true",
    "false", "True", "False", "S", "floor", "ceiling", "positive", "integer", "real",
    "nonnegative", "finite", "FloorDiv", "ModularIndexing", "Where", "PythonMod", "CleanDiv",
    "CeilToInt", "FloorToInt", "CeilDiv", "LShift", "RShift", "PowByNatural", "FloatPow",
    "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "TruncToFloat",
    "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity",
})
_SYMBOL = re.compile(r"[a-z]{1,3}\d+")
_EXPR_CHARS = re.compile(r"[A-Za-z0-9_ +\-*/%(),=<>!]*")


def _refuse(path: Path, entry: str, what: str) -> FrontierError:
    return FrontierError(f"{path}: entry {entry} {what}; load the model with "
                         "`search.results.model_folder.load` (weights.safetensors) or ONNX, or "
                         "pass trusted=True if you trust whoever wrote the file")


def _records(data: bytes, path: Path) -> list[str]:
    """The archive's entries (without its top folder) as torch's zip reader sees them, checked
    against Python's zipfile (torch.export.load falls back to it)."""
    try:
        records = list(torch._C.PyTorchFileReader(io.BytesIO(data)).get_all_records())
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (RuntimeError, zipfile.BadZipFile, ValueError) as err:
        raise FrontierError(f"{path}: not a torch.export archive ({str(err).splitlines()[0]}); "
                            "re-export the trial") from None
    top = names[0].split("/")[0] + "/" if names and "/" in names[0] else ""
    if (len(set(names)) != len(names) or not top
            or any(not n.startswith(top) for n in names)
            or sorted(records) != sorted(n.removeprefix(top) for n in names)):
        raise FrontierError(f"{path}: its zip entries differ between readers (duplicate names "
                            "or entries outside its top folder); re-export the trial")
    return records


def _read(data: bytes, entry: str) -> bytes:
    return bytes(torch._C.PyTorchFileReader(io.BytesIO(data)).get_record(entry))


def _check_config(data: bytes, path: Path, entry: str, folder: str) -> set[str]:
    """The raw entries a weights/constants config names; refuses pickled ones."""
    try:
        config = json.loads(_read(data, entry))["config"]
        items = [(str(k), dict(v)) for k, v in dict(config).items()]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _refuse(path, entry, "is not a torch.export payload config") from None
    named = set()
    for key, meta in items:
        name = f"{folder}{meta.get('path_name')}"
        if meta.get("use_pickle") is not False or not _RAW.fullmatch(name):
            raise _refuse(path, name, f"(for {key!r}) is pickled or not a raw tensor, and "
                          "torch.export.load would unpickle it with weights_only=False, which "
                          "can run code")
        named.add(name)
    return named


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _plain_expr(expr: str) -> bool:
    """Whether ``expr`` is a sympy expression of numbers, symbols and known functions only
    (no attribute access, subscripts, strings other than symbol names, or other names)."""
    bare = re.sub(r"'([a-z]{1,3}\d+)'", "0", expr)
    bare = re.sub(r"\d+\.\d*(e[+-]?\d+)?", "0", bare)
    if not _EXPR_CHARS.fullmatch(bare) or "__" in bare:
        return False
    return all(n in _SYM_NAMES or _SYMBOL.fullmatch(n)
               for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare))


def _check_graph(data: bytes, path: Path, entry: str) -> None:
    try:
        program = json.loads(_read(data, entry))
    except ValueError:
        raise _refuse(path, entry, "is not JSON") from None
    if not isinstance(program, dict) or program.get("guards_code"):
        raise _refuse(path, entry, "holds guards_code, which .module() executes as Python")
    for key, value in _walk(program):
        if key == "expr_str" and not (isinstance(value, str) and _plain_expr(value)):
            raise _refuse(path, entry, f"holds the symbolic expression {str(value)[:80]!r}, "
                          "which torch parses with sympy's eval-based sympify")
        if key == "target" and isinstance(value, str) and not _TARGET.fullmatch(value):
            raise _refuse(path, entry, f"calls {value[:80]!r}, not an aten operator")


def check_program(data: bytes, path: Path) -> None:
    """Raise FrontierError (one line naming ``path`` and the entry) unless ``data``, the bytes
    of a ``program.pt2``, holds only what ``torch.export.save`` writes for a Frontier model
    (see the module docstring): nothing that torch.export.load would unpickle unsafely,
    nothing compiled, no guard code, no symbolic expression beyond numbers and symbols."""
    records = _records(data, path)
    raw: set[str] = set()
    for entry, folder in _CONFIGS.items():
        if entry in records:
            raw |= _check_config(data, path, entry, folder)
    for entry in records:
        if entry in _FIXED or entry in _CONFIGS or (entry in raw and _RAW.fullmatch(entry)):
            continue
        head = _read(data, entry)[:4]
        what = ("is a pickle" if head[:1] == b"\x80" else "is a zip (a torch.save pickle)"
                if head == b"PK\x03\x04" else "is compiled code torch would load"
                if entry.startswith("data/aotinductor/") else "is not one torch.export.save "
                "writes for a plain program")
        raise _refuse(path, entry, f"{what}, and torch.export.load may unpickle or run it")
    if "models/model.json" not in records:
        raise FrontierError(f"{path}: holds no models/model.json; re-export the trial")
    _check_graph(data, path, "models/model.json")
    inputs = "data/sample_inputs/model.pt"
    if inputs in records:
        try:  # torch tries exactly this first; when it fails, it unpickles with weights_only=False
            torch.load(io.BytesIO(_read(data, inputs)), weights_only=True)
        except Exception:
            raise _refuse(path, inputs, "is a pickle torch's weights-only unpickler refuses, "
                          "so torch.export.load would unpickle it with weights_only=False, which "
                          "can run code") from None


def check_onnx(path: Path) -> None:
    """Raise FrontierError unless the ONNX model at ``path`` keeps all its tensors inside the
    file (external data names other files by path; Frontier never writes it)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:
        raise FrontierError(f"{path}: not an ONNX model ({str(err).splitlines()[0]}); "
                            "re-export the trial with `frontier export --onnx`") from None
    external = onnx.TensorProto.EXTERNAL
    functions = [t for f in model.functions for t in _node_tensors(f.node)]
    for key, value in [*_walk_proto(model.graph), *functions]:
        if value.data_location == external:
            where = {e.key: e.value for e in value.external_data}.get("location", "?")
            raise FrontierError(f"{path}: tensor {key!r} keeps its data in the external file "
                                f"{where!r}, which ONNX Runtime would read; Frontier writes "
                                "self-contained models: re-export the trial with `frontier "
                                "export --onnx`")


def _walk_proto(graph: Any) -> Iterator[tuple[str, Any]]:
    """Every TensorProto of ``graph`` and its subgraphs: initializers (sparse ones too) and
    node attributes."""
    for t in graph.initializer:
        yield t.name, t
    for s in graph.sparse_initializer:
        yield s.values.name, s.values
        yield s.indices.name, s.indices
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Any) -> Iterator[tuple[str, Any]]:
    """The TensorProtos in the attributes of ``nodes`` (and of their subgraphs)."""
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield f"{node.name}.{attr.name}", attr.t
            for t in attr.tensors:
                yield f"{node.name}.{attr.name}", t
            if attr.HasField("sparse_tensor"):
                yield f"{node.name}.{attr.name}", attr.sparse_tensor.values
            for g in [attr.g] if attr.HasField("g") else []:
                yield from _walk_proto(g)
            for g in attr.graphs:
                yield from _walk_proto(g)
