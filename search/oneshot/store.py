"""The study's supernet: trained once, kept in the study's artifact store, reloaded by every
later process (``resume``, workers, ``export`` of a fine-tuned candidate does not need it).

The weights are a safetensors file (no pickle); the study attribute ``oneshot_supernet``
records its artifact id, the epochs, the training seconds and the loss of every epoch.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import torch
from optuna.artifacts import download_artifact, upload_artifact
from safetensors.torch import load_file, save_file

from objectives.data import TensorData
from objectives.oneshot import SuperCNN, train_supernet
from search.config import StudyConfig
from search.errors import StorageError
from search.keys import SUPERNET_ATTR
from search.storage.artifacts import artifact_store, store_places
from spaces.cnn import CNNSpace

__all__ = ["load_or_train"]


def _download(study: optuna.Study, cfg: StudyConfig, artifact_id: str, path: Path) -> None:
    places = store_places(study, cfg.out_dir)
    for place in places:
        try:
            download_artifact(artifact_store=artifact_store(place, create=False),
                              file_path=str(path), artifact_id=artifact_id)
            return
        except Exception:  # no store there, or not this artifact: try the next place
            continue
    raise StorageError(f"oneshot: the supernet of study {study.study_name!r} is not in "
                       f"{' or '.join(str(p / 'artifacts') for p in places)}; run from the "
                       "folder the study ran in, or copy its output folder here")


def load_or_train(study: optuna.Study, cfg: StudyConfig, space: CNNSpace, data: TensorData,
                  log: Callable[[str], None]) -> SuperCNN:
    """The study's supernet: loaded when an earlier process trained it, else trained now
    (``[oneshot]`` epochs, seeded by ``study.seed``) and stored."""
    torch.manual_seed(cfg.seed)  # its initial weights: not whatever drew from torch's RNG before
    net = SuperCNN(space, data.input_shape, data.num_classes).to(data.device)
    info = study.user_attrs.get(SUPERNET_ATTR)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "supernet.safetensors"
        if info:
            _download(study, cfg, str(info["artifact"]), path)
            net.load_state_dict(load_file(str(path), device=str(data.device)))
            log(f"oneshot: supernet loaded (trained for {info['epochs']} epochs in "
                f"{info['seconds']:.0f} s)")
            return net
        o = cfg.oneshot
        log(f"oneshot: training the supernet for {o.epochs} epochs")
        start = time.perf_counter()
        losses = train_supernet(net, data, epochs=o.epochs, lr=o.lr,
                                batch_size=cfg.budget.batch_size, seed=cfg.seed,
                                random_subnets=o.random_subnets)
        seconds = time.perf_counter() - start
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
                  str(path))
        artifact = upload_artifact(artifact_store=artifact_store(cfg.out_dir),
                                   file_path=str(path), study_or_trial=study)
    study.set_user_attr(SUPERNET_ATTR, {"artifact": artifact, "epochs": o.epochs,
                                        "seconds": seconds, "losses": losses})
    log(f"oneshot: supernet trained in {seconds:.0f} s (last loss {losses[-1]:.4f})")
    return net
