"""The one-shot phase of a process, before its first trial.

:func:`start_oneshot` runs before a process's first trial: it loads or trains the study's
supernet (``store``), explores candidates on it and enqueues the best as the study's trials
(``explore``), all under the study's claim lock, so with several workers one trains and the
others wait and reuse it. It returns how a trial's model inherits its weights.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna
import torch
from torch import nn

from objectives.data import TensorData
from objectives.data.batches import first_inputs
from search.config import StudyConfig
from search.errors import ConfigError
from search.keys import ENQUEUED_ATTR
from search.oneshot.explore import enqueue_chosen, explore
from search.oneshot.store import load_or_train
from search.progress import DEFAULT_LOG, phase_printer
from search.storage.claim import claim_for
from search.storage.workers import threads_per_worker
from spaces.cnn import CNNSpace
from spaces.space import Space
from spaces.spec import Spec

__all__ = ["Inherit", "start_oneshot"]

#: spec -> the ``init`` hook that gives its freshly built model the supernet's weights.
Inherit = Callable[[Spec], Callable[[nn.Module], None]]


def start_oneshot(study: optuna.Study, cfg: StudyConfig, space: Space, data: TensorData,
                  log_mode: str = DEFAULT_LOG) -> Inherit:
    """Make the study's one-shot phase happen once (supernet, exploration, chosen candidates
    enqueued) and return the weights inheritance of its trials."""
    if not isinstance(space, CNNSpace):
        raise ConfigError(f"study.mode: one-shot mode supports the cnn space, not "
                          f"{type(space).__name__}")
    log = phase_printer(log_mode)
    calibration = first_inputs(data.train, cfg.oneshot.calibration).to(data.device)
    claim = claim_for(study)
    claim.acquire()
    # every other worker of this machine waits for this phase (the claim lock): use every core
    threads = torch.get_num_threads()
    torch.set_num_threads(max(threads, threads_per_worker(1)))
    try:
        try:
            net = load_or_train(study, cfg, space, data, log)
        except ValueError as err:  # e.g. a space the supernet cannot hold
            raise ConfigError(str(err)) from None
        if ENQUEUED_ATTR not in study.user_attrs:
            enqueue_chosen(study, cfg, explore(study, cfg, space, data, net, calibration, log),
                           log)
    finally:
        torch.set_num_threads(threads)
        claim.release()
    return lambda spec: net.inherit(spec, calibration)  # type: ignore[arg-type]
