"""Export a trial's model to a folder, and load it back without the study.

A model folder holds:

- ``spec.json``: the Spec, tagged with its space (``spaces.load_spec`` reads it);
- ``model.json``: space options, input shape, number of classes, dataset, study and trial;
- ``weights.safetensors``: the compressed weights exactly as the trial stored them, packed
  (``objectives.compress.packing``: quantized weights as bit-packed codes with per-channel
  scales, pruned zeros left out); its size is the trial's ``size_bytes`` plus a fixed header
  of under 512 bytes. :func:`load` rebuilds the model with bit-identical weights;
- ``program.pt2``: a ``torch.export`` program of the same model (batch size dynamic), which
  runs without Frontier's code (:func:`load_program`, or ``torch.export.load(path).module()``
  for a file you trust: see ``search.results.untrusted`` for what is safe to load from whom);
- ``metrics.json``: the trial's stored metrics, objective values and parameters;
- with ``onnx`` / ``int8``: ``model.onnx`` and ``model.int8.onnx`` with their checks and
  latencies (``search.results.deployment``);
- for a ``transformers`` model (the ``transformer`` space): ``huggingface/``, which
  ``from_pretrained`` reloads with its pruned shapes (``search.results.huggingface``).

Exporting needs the storage, the trial's stored weights and (for a user's builder or a
registered space) the user's code, not the data: the input shape and number of classes were
recorded on the study when it ran (``search.storage.studies.remember_shape``). Where the data can be
loaded, the rebuilt model's test accuracy is measured again and the example inputs are test
inputs; where it cannot, the example is zeros of the recorded shape and the accuracy is not
re-checked (:attr:`Exported.no_data` says why). ``int8`` needs the data: its calibration reads
the training split.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState
from torch import nn

from objectives.base import load_base, load_folder
from objectives.base.folder import rebuild
from objectives.compress.packing import pack
from objectives.compress.quantize import planned_bits
from objectives.data import DataConfig, TensorData, load_dataset
from objectives.data.batches import first_inputs
from objectives.metrics import score, weight_bits
from search.config import StudyConfig
from search.config_io.user_code import import_modules
from search.errors import ConfigError, DatasetError, FrontierError, StorageError, reraise_as
from search.keys import METRICS_ATTR, SPEC_ATTR, WEIGHTS_ATTR
from search.results.deployment import INT8_FILES, ONNX_FILES, Deployed, write_onnx
from search.results.huggingface import is_pretrained, load_pretrained, write_pretrained
from search.results.untrusted import check_onnx, check_program
from search.safe_files import check_out_dir, write_bytes, write_text
from search.storage.artifacts import load_state_dict, store_places
from search.storage.studies import stored_config, stored_shape

__all__ = ["FILES", "INT8_FILES", "ONNX_FILES", "Exported", "dataset_of", "export_trial", "load",
           "load_onnx", "load_program"]

#: The files of a model folder.
FILES = ("spec.json", "model.json", "weights.safetensors", "program.pt2", "metrics.json")


@dataclass(frozen=True)
class Exported:
    """Where a trial was exported and the test accuracy (the study's metric) its rebuilt model
    reaches: None when the data could not be loaded here, and ``no_data`` says why."""

    out_dir: Path
    trial: int
    on_front: bool
    test_accuracy: float | None
    stored_test_accuracy: float | None
    #: Bytes of weights.safetensors, and the size_bytes the trial recorded for them.
    weights_bytes: int = 0
    size_bytes: int | None = None
    deployed: tuple[Deployed, ...] = ()
    no_data: str | None = None
    #: The ``huggingface/`` folder (transformers models only) and the test accuracy of the
    #: model ``from_pretrained`` rebuilds from it (None without the data).
    pretrained: Path | None = None
    pretrained_accuracy: float | None = None


def _trial(study: optuna.Study, number: int) -> FrozenTrial:
    trials = study.get_trials(deepcopy=False)
    match = [t for t in trials if t.number == number]
    if not match:
        top = max((t.number for t in trials), default=-1)
        raise ConfigError(f"--trial: study {study.study_name!r} has no trial {number} "
                          f"(its trials are numbered 0 to {top}); `frontier pareto --study "
                          f"{study.study_name}` lists the front")
    t = match[0]
    if t.state != TrialState.COMPLETE:
        raise ConfigError(f"--trial: trial {number} of {study.study_name!r} is "
                          f"{t.state.name}; only COMPLETE trials keep their weights; pick one "
                          f"from `frontier pareto --study {study.study_name}`")
    if WEIGHTS_ATTR not in t.user_attrs or SPEC_ATTR not in t.user_attrs:
        raise StorageError(f"--trial: trial {number} of {study.study_name!r} has no stored "
                           "weights (it ran before Frontier kept them); run the study further "
                           "and export a newer trial")
    return t


def _weights(study: optuna.Study, t: FrozenTrial, cfg: StudyConfig,
             template: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The trial's stored weights: under ``output_dir`` as seen from here, else under the
    absolute output folder the study recorded when it ran."""
    places = store_places(study, cfg.out_dir)
    for place in places:
        try:  # ValueError: no artifact store there (load_state_dict never creates one)
            return load_state_dict(t, place, template)
        except (ValueError, ArtifactNotFound, FileNotFoundError):
            continue
    raise StorageError(f"weights: trial {t.number}'s weights are not in "
                       f"{' or '.join(str(p / 'artifacts') for p in places)}; run the command "
                       "from the folder the study ran in, or copy its output folder here")


def export_trial(study: optuna.Study, number: int, out_dir: str | Path,
                 cfg: StudyConfig | None = None, *, onnx: bool = False,
                 int8: bool = False) -> Exported:
    """Write the model folder of COMPLETE trial ``number`` (see the module docstring); with
    ``onnx`` also ``model.onnx``, with ``int8`` also ``model.int8.onnx`` (both checked in ONNX
    Runtime and timed). Without the data the folder is written all the same; ``int8`` then
    raises DatasetError before anything is written. An ``out_dir`` that is a file (or under
    one) is a ConfigError, raised first. Every file is written with ``search.safe_files``
    (atomically; a symlink planted at a file's name is replaced, never written through)."""
    out = check_out_dir(out_dir, "--out")
    cfg = cfg or stored_config(study)
    t = _trial(study, number)
    data, no_data = _data(cfg)
    if int8 and data is None:
        raise DatasetError(f"--int8: calibration needs the training split, and the data cannot "
                           f"be loaded here ({no_data})")
    input_shape, num_classes = _shape(study, data, no_data)
    with reraise_as(ConfigError):  # the user's builder, or modules that register a space
        import_modules(cfg.imports)
        base = load_base(cfg.base, input_shape, num_classes) if cfg.base.is_set else None
        model, _ = rebuild(t.user_attrs[SPEC_ATTR], cfg.space.name, cfg.space.options,
                           input_shape, num_classes, base)
    state = _weights(study, t, cfg, model.state_dict())
    model.load_state_dict(state)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "spec.json", json.dumps(json.loads(t.user_attrs[SPEC_ATTR]), indent=2,
                                             sort_keys=True) + "\n")
    meta = {"space": cfg.space.name, "space_options": cfg.space.options,
            "input_shape": list(input_shape), "num_classes": num_classes,
            "dataset": asdict(cfg.dataset), "study": study.study_name, "trial": t.number}
    if cfg.base.is_set:  # a compress-mode candidate is rebuilt from its base
        meta["base"] = asdict(cfg.base)
    write_text(out / "model.json", json.dumps(meta, indent=2) + "\n")
    packed = pack(state, weight_bits(model, planned_bits(model)))
    write_bytes(out / "weights.safetensors", packed)
    example = first_inputs(data.test, 2) if data is not None else torch.zeros(2, *input_shape)
    program = io.BytesIO()
    torch.export.save(_program(model, example), program)
    write_bytes(out / "program.pt2", program.getvalue())
    metrics = t.user_attrs.get(METRICS_ATTR, {})
    write_text(out / "metrics.json", json.dumps(
        {"metrics": metrics, "values": t.values, "params": t.params}, indent=2) + "\n")
    on_front = t.number in {b.number for b in study.best_trials}
    deployed = write_onnx(model, out, input_shape, data, int8=int8) if onnx or int8 else []
    rechecked = score(model, data.test, data.metric) if data is not None else None
    pretrained, reloaded = None, None
    if is_pretrained(model):
        pretrained = write_pretrained(model, out)
        if data is not None:
            reloaded = score(load_pretrained(pretrained), data.test, data.metric)
    return Exported(out, t.number, on_front, rechecked, metrics.get("test_accuracy"), len(packed),
                    metrics.get("size_bytes"), tuple(deployed), no_data, pretrained, reloaded)


def _data(cfg: StudyConfig) -> tuple[TensorData | None, str | None]:
    """The study's data, or None and the one-line reason it cannot be loaded here."""
    try:
        return load_dataset(cfg.dataset), None
    except ValueError as err:  # missing files or source module, unreadable data
        return None, str(err)


def _shape(study: optuna.Study, data: TensorData | None, no_data: str | None
           ) -> tuple[tuple[int, ...], int]:
    """The input shape and number of classes the trial's model was built for: as recorded when
    the study ran, else as the data says."""
    recorded = stored_shape(study)
    if recorded is not None:
        return recorded
    if data is None:
        raise DatasetError(f"export: study {study.study_name!r} recorded no input shape (it ran "
                           "before Frontier kept one), so rebuilding its model needs its data, "
                           f"which cannot be loaded here ({no_data})")
    return data.input_shape, data.num_classes


def _program(model: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    return torch.export.export(model.cpu(), (example,), dynamic_shapes=({0: batch},))


def _file(model_dir: str | Path, name: str) -> Path:
    path = Path(model_dir) / name
    if not path.is_file():
        if name in INT8_FILES or name in ONNX_FILES:
            flag = "--int8" if name in INT8_FILES else "--onnx"
            raise FrontierError(f"{path}: missing; export the trial with `frontier export "
                                f"{flag}` to get it")
        raise FrontierError(f"{path}: missing; a model folder written by `frontier export` "
                            f"holds {', '.join(FILES)}")
    return path


def load(model_dir: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The exported model, rebuilt from ``spec.json`` + ``model.json`` with the weights of
    ``weights.safetensors`` (bit-identical to the trial's; a folder written before the packed
    format: ``state_dict.pt``, loaded with ``weights_only=True``), in eval mode. The folder is
    read by ``objectives.base.load_folder`` (a study's ``[base] export`` reads it too);
    its one-line problems are FrontierErrors here."""
    with reraise_as(FrontierError):
        model = load_folder(model_dir)
    return model.to(device).eval()


def load_onnx(model_dir: str | Path, *, int8: bool = False) -> Any:
    """An ONNX Runtime session (CPU) on the folder's ``model.onnx``, or with ``int8`` on its
    ``model.int8.onnx``; feed it ``{"input": x}`` and read ``logits``. ONNX is protobuf and
    runs no code from the file; a model keeping tensors in external files (which ONNX Runtime
    would read by path) is refused in one line (``search.results.untrusted.check_onnx``)."""
    from objectives.deploy.runtime import session

    path = _file(model_dir, (INT8_FILES if int8 else ONNX_FILES)[0])
    check_onnx(path)
    return session(path)


def load_program(model_dir: str | Path, *, trusted: bool = False
                 ) -> torch.export.ExportedProgram:
    """The ``torch.export`` program of an exported model (call ``.module()`` to run it).

    ``torch.export.load`` can run code from a crafted file (pickled entries, among others), so
    the file is first checked against what ``torch.export.save`` writes for a Frontier model
    (``search.results.untrusted.check_program``): anything else is refused in one line naming
    the file and the entry. ``trusted=True`` skips the check and hands the file to
    ``torch.export.load`` as it is: only for files whose author you trust. The check narrows,
    but cannot close, what a hostile ``program.pt2`` can do; for a folder from a stranger use
    :func:`load` (``weights.safetensors``, no pickle) or :func:`load_onnx`. The bytes are read
    once, so the file checked is the file loaded."""
    path = _file(model_dir, "program.pt2")
    data = path.read_bytes()
    if not trusted:
        check_program(data, path)
    try:
        return torch.export.load(io.BytesIO(data))
    except Exception as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise FrontierError(f"{path}: torch.export.load failed ({reason}); re-export the "
                            "trial") from None


def dataset_of(model_dir: str | Path) -> DataConfig:
    """The dataset (and split) the exported model was trained and measured on."""
    meta = json.loads(_file(model_dir, "model.json").read_text())
    return DataConfig(**meta["dataset"])
