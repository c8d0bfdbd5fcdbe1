"""The base of a compress-mode study: loaded from ``[base]``, transferred when
``transfer_epochs`` is set (``objectives.base.adapt``: once per process, the weights cached by
a content hash), and handed to the ``base`` space."""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import optuna
from torch import nn

from objectives.base import Adapted, adapt_base
from objectives.compress.depth import removable_units
from objectives.data import TensorData
from objectives.data.batches import first_inputs
from search.config import StudyConfig
from search.errors import ConfigError
from spaces.base import BaseSpace
from spaces.space import Space

__all__ = ["TRANSFER_ATTR", "attach_base", "record_transfer", "transfer_base"]

#: The study attribute holding the transfer's record (``Adapted.record``).
TRANSFER_ATTR = "base_transfer"
#: ``[dataset]`` fields that change how the data are held, not what they are.
_HOLDING = ("in_memory", "memory_share", "loader_workers")
#: The transfer of each space this process attached a base to, until it is recorded.
_ADAPTED: weakref.WeakKeyDictionary[Space, Adapted] = weakref.WeakKeyDictionary()


def transfer_base(cfg: StudyConfig, data: TensorData, base: nn.Module) -> Adapted | None:
    """The base fine-tuned on the study's training split when ``[base] transfer_epochs`` > 0
    (else None): AdamW at ``transfer_lr``, cosine, the study's batch size and seed; read from
    ``<[base] cache_dir>/<key>.pt`` when another process or run trained it already."""
    if cfg.base.transfer_epochs < 1:
        return None
    dataset = {k: v for k, v in dataclasses.asdict(cfg.dataset).items() if k not in _HOLDING}
    return adapt_base(base, cfg.base, data, dataset, seed=cfg.seed,
                      batch_size=cfg.budget.batch_size)


def attach_base(space: Space, cfg: StudyConfig, data: TensorData, base: nn.Module) -> None:
    """Hand the study's loaded base to ``space`` on the data's device, transferred first when
    ``[base] transfer_epochs`` is set (:func:`transfer_base`), with its removable units (found
    only when the space searches them; ``[base] trim`` names more)."""
    if not isinstance(space, BaseSpace):
        raise ConfigError(f"space.name: mode = \"compress\" derives every candidate from "
                          f"[base]; use the space \"base\" (or leave [space] name out), not "
                          f"{space.name!r}")
    adapted = transfer_base(cfg, data, base)
    if adapted is not None:
        base = adapted.model
        _ADAPTED[space] = adapted
    model = base.to(data.device)
    units: list[str] = []
    if space.drop_blocks:
        example = first_inputs(data.train, 2).to(data.device)
        units = removable_units(model, example, named=cfg.base.trim)
    space.use_base(model, units)


def record_transfer(study: optuna.Study, space: Space) -> None:
    """Store the transfer of ``space``'s base on ``study`` as :data:`TRANSFER_ATTR` (epochs,
    seconds, val_accuracy, file, trained): the first process's record is kept, unless a later
    one trained the weights (a cache read then does not hide the training)."""
    adapted = _ADAPTED.get(space)
    if adapted is None:
        return
    stored: dict[str, Any] | None = study.user_attrs.get(TRANSFER_ATTR)
    if stored is None or (adapted.trained and not stored.get("trained")):
        study.set_user_attr(TRANSFER_ATTR, adapted.record())
