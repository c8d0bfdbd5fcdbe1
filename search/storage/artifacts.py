"""Each complete trial keeps its compressed weights, packed (``objectives.compress.packing``:
bit-packed codes, per-channel scales, pruned zeros left out), in Optuna's file-system artifact
store.

The store lives in ``<output_dir>/artifacts`` (share that folder, or point several machines at
the same path, when workers run elsewhere); the artifact id is recorded on the trial by Optuna.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact
from torch import nn

from objectives.compress.packing import is_packed, load_packed, save_packed
from search.keys import ARTIFACTS_ATTR, WEIGHTS_ATTR

__all__ = ["artifact_store", "load_state_dict", "remember_store", "save_weights", "store_places",
           "stored_out_dir"]


def remember_store(study: optuna.Study, out_dir: str | Path) -> None:
    """Record the absolute ``out_dir`` on ``study`` (once: the first process to run it)."""
    if ARTIFACTS_ATTR not in study.user_attrs:
        study.set_user_attr(ARTIFACTS_ATTR, str(Path(out_dir).resolve()))


def stored_out_dir(study: optuna.Study) -> Path | None:
    """The absolute output folder recorded by :func:`remember_store`, if any."""
    value = study.user_attrs.get(ARTIFACTS_ATTR)
    return Path(value) if value else None


def store_places(study: optuna.Study, out_dir: Path) -> list[Path]:
    """Where ``study``'s artifacts may be: ``out_dir`` as seen from here, then the absolute
    output folder the study recorded when it ran (when that is another folder)."""
    places = [out_dir]
    recorded = stored_out_dir(study)
    if recorded is not None and recorded != out_dir.resolve():
        places.append(recorded)
    return places


def artifact_store(out_dir: str | Path, *, create: bool = True) -> FileSystemArtifactStore:
    """The artifact store of a study whose outputs go to ``out_dir``; with ``create=False`` a
    missing store is a ValueError instead of a new empty folder."""
    base = Path(out_dir) / "artifacts"
    if not create and not base.is_dir():
        raise ValueError(f"{base}: no stored weights here; pass the output folder of the run "
                         "(--out-dir / [study] output_dir) that trained the trial")
    base.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(base))


def save_weights(trial: optuna.Trial, model: nn.Module, out_dir: str | Path,
                 bits: Mapping[str, int]) -> str:
    """Upload ``model``'s state dict as an artifact of ``trial``, packed
    (``objectives.compress.packing``: ``bits`` per state-dict key of a quantized weight);
    returns the artifact id."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trial_{trial.number}.safetensors"
        save_packed(path, state, bits)
        artifact_id = upload_artifact(artifact_store=artifact_store(out_dir), file_path=str(path),
                                      study_or_trial=trial)
    trial.set_user_attr(WEIGHTS_ATTR, artifact_id)
    return artifact_id


def load_state_dict(trial: optuna.trial.FrozenTrial, out_dir: str | Path,
                    template: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The stored state dict of ``trial``, unpacked along ``template`` (the state dict of the
    model rebuilt from the trial's spec: keys, shapes, dtypes). Weights stored by Frontier
    before the packed format (a ``torch.save`` file) load with ``weights_only=True``."""
    artifact_id = trial.user_attrs.get(WEIGHTS_ATTR)
    if artifact_id is None:
        raise ValueError(f"trial {trial.number}: no stored weights (only complete trials "
                         "keep theirs)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights"
        download_artifact(artifact_store=artifact_store(out_dir, create=False),
                          file_path=str(path), artifact_id=str(artifact_id))
        if is_packed(path):
            return load_packed(path, template)
        state: dict[str, torch.Tensor] = torch.load(path, weights_only=True)
    return state
