"""The compress-mode phase of a process, before its first trial: the base is measured once per
study (under the claim lock, so with several workers one measures and the others reuse it) and
stored on the study as the reference point of its outputs."""

from __future__ import annotations

import dataclasses

import optuna

from objectives.data import TensorData
from objectives.pipeline import evaluate
from search.config import StudyConfig
from search.keys import BASE_ATTR
from search.storage.claim import claim_for
from spaces.base import BaseSpec
from spaces.space import Space

__all__ = ["start_compress"]


def start_compress(study: optuna.Study, cfg: StudyConfig, space: Space,
                   data: TensorData) -> None:
    """Measure the base as it is (no compression, no training) once per study."""
    claim = claim_for(study)
    claim.acquire()
    try:
        if BASE_ATTR not in study.user_attrs:
            budget = dataclasses.replace(cfg.budget, epochs=0)
            measured, _ = evaluate(space, BaseSpec(), data, budget, seed=cfg.seed)
            study.set_user_attr(BASE_ATTR, measured.as_dict())
    finally:
        claim.release()
