"""Knowledge distillation: a named larger teacher, trained once per dataset and seed and cached on
disk by a content hash, whose logits on the train split feed the student loss
(``objectives.train.distill_loss``)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from objectives.data import DataSplit, Split, TensorData
from objectives.metrics import predict
from objectives.train import train
from spaces.cnn import CNNSpec
from spaces.registry import Registry
from spaces.space import create_space
from spaces.spec import Spec, spec_to_dict

__all__ = ["TEACHERS", "Distill", "Teacher", "list_teachers", "load_teacher", "register_teacher",
           "teacher_key", "teacher_logits"]

#: Teacher name -> (space name, Spec): the architectures a study may distill from.
TEACHERS: Registry[tuple[str, Spec]] = Registry("teacher", "distill.teacher",
                                                 "or \"\" for no distillation")
#: The registered teacher names, sorted.
list_teachers = TEACHERS.names


def register_teacher(name: str, space: str, spec: Spec) -> None:
    """Register the architecture ``spec`` of the space ``space`` as the teacher ``name``
    (``[distill] teacher = "name"``); it is trained once per dataset and seed, then cached."""
    TEACHERS.add(name, (space, spec))


register_teacher("cnn-large", "cnn", CNNSpec((64, 64, 64)))


@dataclass(frozen=True)
class Distill:
    """``[distill]`` of a study: ``teacher = ""`` (off) or a name in :data:`TEACHERS`."""

    teacher: str = ""
    teacher_epochs: int = 10
    cache_dir: str = "runs/teachers"


@dataclass(frozen=True)
class Teacher:
    """A ready teacher: its cache file, whether this call trained it, and the seconds it took."""

    model: nn.Module
    path: Path
    trained: bool
    seconds: float


def teacher_key(cfg: Distill, dataset: str, split_seed: int, seed: int, batch_size: int) -> str:
    """sha256 of everything the teacher's weights depend on (as sorted JSON)."""
    space, spec = TEACHERS[cfg.teacher]
    fields = {"dataset": dataset, "split_seed": split_seed, "teacher": cfg.teacher,
              "space": space, "spec": spec_to_dict(spec), "epochs": cfg.teacher_epochs,
              "batch_size": batch_size, "seed": seed}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def load_teacher(cfg: Distill, data: TensorData, *, split_seed: int, seed: int,
                 batch_size: int = 64) -> Teacher:
    """The cached teacher for ``data``, training and caching it first if there is none.

    The file is ``<cache_dir>/<teacher_key>.pt`` (a state dict, read with ``weights_only``);
    it is written to a temporary name and renamed, so concurrent workers never read half a file.
    """
    space_name, spec = TEACHERS[cfg.teacher]
    start = time.perf_counter()
    device = data.device
    torch.manual_seed(seed)
    model = create_space(space_name).build(spec, data.input_shape, data.num_classes).to(device)
    path = Path(cfg.cache_dir) / f"{teacher_key(cfg, data.name, split_seed, seed, batch_size)}.pt"
    trained = not path.is_file()
    if trained:
        t = spec.train
        train(model, data.train, epochs=cfg.teacher_epochs, lr=t.lr, weight_decay=t.weight_decay,
              schedule=t.schedule, batch_size=batch_size, seed=seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
        os.replace(tmp, path)
    else:
        model.load_state_dict(torch.load(path, weights_only=True, map_location=device))
    model.eval()
    return Teacher(model, path, trained, time.perf_counter() - start)


@torch.no_grad()
def teacher_logits(model: nn.Module, data: torch.Tensor | DataSplit,
                   batch_size: int = 2048) -> torch.Tensor:
    """The teacher's logits (eval mode) on ``data`` (inputs, or a split read in order), row for
    row, computed once per study: ``train`` indexes them with each batch's row positions."""
    if isinstance(data, torch.Tensor):
        data = Split(data, torch.zeros(len(data), dtype=torch.int64, device=data.device))
    return predict(model, data, batch_size)[0]
