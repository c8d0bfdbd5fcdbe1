from pathlib import Path

import optuna
import pytest
import torch

from objectives.pipeline import Budget, evaluate
from objectives.transfer import Transfer, load_matching
from search.config import StudyConfig, load_config
from search.errors import DatasetError
from search.keys import TRANSFER_ATTR
from search.run import check_runnable, run_study
from search.storage.studies import create_or_load
from spaces import CNNSpec, create_space
from tests.conftest import tiny_toml


@pytest.fixture
def checkpoint(digits, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A state dict saved from a trained digits CNN with widths (8, 16)."""
    _, model = evaluate(create_space("cnn"), CNNSpec((8, 16)), digits,
                        Budget(epochs=2, latency_reps=0), seed=0)
    path = tmp_path / "trained.pt"
    torch.save(model.state_dict(), path)
    return path


def test_load_matching_loads_layers_whose_shapes_fit(checkpoint: Path, digits) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    same = space.build(CNNSpec((8, 16)), digits.input_shape, 10)
    loaded, skipped = load_matching(same, checkpoint)
    assert skipped == [] and "0.0.0.weight" in loaded and "3.weight" in loaded
    state = torch.load(checkpoint, weights_only=True)
    assert all(torch.equal(same.state_dict()[k], state[k]) for k in loaded)

    other = space.build(CNNSpec((8, 12)), digits.input_shape, 10)  # second conv and head differ
    fresh = other.state_dict()["0.1.0.weight"].clone()
    loaded, skipped = load_matching(other, checkpoint)
    assert "0.0.0.weight" in loaded and "0.0.1.running_mean" in loaded
    assert {"0.1.0.weight", "0.1.1.weight", "3.weight"} <= set(skipped)
    assert "3.bias" in loaded  # 10 classes either way
    assert torch.equal(other.state_dict()["0.1.0.weight"], fresh)


def test_transferred_start_beats_a_fresh_one_after_one_epoch(checkpoint: Path, digits) -> None:  # type: ignore[no-untyped-def]
    space, spec = create_space("cnn"), CNNSpec((8, 16))
    budget = Budget(epochs=1, finetune_epochs=0, qat_epochs=0, latency_reps=0)
    def init(model: torch.nn.Module) -> None:
        load_matching(model, checkpoint)

    warm, _ = evaluate(space, spec, digits, budget, seed=3, init=init)
    cold, _ = evaluate(space, spec, digits, budget, seed=3)
    assert warm.val_accuracy >= cold.val_accuracy - 0.02 and warm.val_accuracy > 0.8


def test_missing_checkpoint_names_the_field(tmp_path: Path) -> None:
    cfg = StudyConfig(name="t", transfer=Transfer(checkpoint=str(tmp_path / "nope.pt")))
    with pytest.raises(DatasetError, match=r"^transfer.checkpoint: "):  # where it would run
        check_runnable(cfg)


def test_study_records_what_was_loaded(checkpoint: Path, workdir: Path) -> None:
    extra = f'\n[transfer]\ncheckpoint = "{checkpoint}"\n'
    (workdir / "t.toml").write_text(tiny_toml("tr", n_trials=1, epochs=1) + extra)
    cfg = load_config(workdir / "t.toml")
    study = create_or_load(cfg, "sqlite:///runs/t.db")
    run_study(study, cfg, progress=False)
    (trial,) = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    report = trial.user_attrs[TRANSFER_ATTR]
    assert set(report) == {"loaded", "skipped"}
    assert report["loaded"] and "0.0.0.bias" not in report["loaded"]  # batch norm: no conv bias
