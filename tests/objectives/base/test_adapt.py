"""Transfer: a base whose checkpoint has a 5-class head, adapted to the 10-class digits; the
adapted weights cached by a content hash and read back by a later call."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from objectives.base import BaseConfig, adapt_base, load_base, transfer_key
from objectives.data import DataConfig, load_dataset
from objectives.metrics import score
from tests.objectives.base.conftest import tiny

DATASET = {"name": "digits", "split_seed": 0}


@pytest.fixture
def five_class(base_dir: Path) -> Path:
    """base.pt with a 5-class head (the study's digits have 10)."""
    torch.save(tiny(5).state_dict(), base_dir / "five.pt")
    return base_dir


def _cfg(root: Path, **kw: object) -> BaseConfig:
    fields: dict[str, object] = {"model": str(root / "my_base.py") + ":build_base",
                                 "checkpoint": str(root / "five.pt"), "transfer_epochs": 1,
                                 "cache_dir": str(root / "cache"), **kw}
    return BaseConfig(**fields)  # type: ignore[arg-type]


def test_a_replaced_head_is_trained_cached_and_read_back(five_class: Path) -> None:
    data = load_dataset(DataConfig())
    cfg = _cfg(five_class, transfer_lr=0.01)
    first = adapt_base(load_base(cfg, data.input_shape, 10), cfg, data, DATASET, seed=0,
                       batch_size=64)
    assert first.trained and first.path.is_file() and first.path.parent == five_class / "cache"
    assert first.model(torch.zeros(2, *data.input_shape)).shape == (2, 10)
    assert first.val_accuracy == pytest.approx(score(first.model, data.val))
    assert first.val_accuracy > 0.5  # the fresh head learned the digits in one epoch
    assert list((five_class / "cache").iterdir()) == [first.path]  # no temp file left
    again = adapt_base(load_base(cfg, data.input_shape, 10), cfg, data, DATASET, seed=0,
                       batch_size=64)
    assert not again.trained and again.path == first.path
    assert again.val_accuracy == pytest.approx(first.val_accuracy)
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k])
    record = again.record()
    assert record == {"epochs": 1, "seconds": again.seconds, "val_accuracy": again.val_accuracy,
                      "file": str(first.path), "trained": False}


def test_the_key_changes_with_what_the_weights_depend_on(five_class: Path) -> None:
    cfg = _cfg(five_class)
    base = load_base(cfg, (1, 8, 8), 10)
    key = transfer_key(cfg, base, DATASET, seed=0, batch_size=64)
    assert key == transfer_key(cfg, load_base(cfg, (1, 8, 8), 10), DATASET, seed=0,
                               batch_size=64)  # the fresh head is not part of it
    others = [transfer_key(_cfg(five_class, transfer_lr=0.1), base, DATASET, seed=0,
                           batch_size=64),
              transfer_key(_cfg(five_class, transfer_epochs=2), base, DATASET, seed=0,
                           batch_size=64),
              transfer_key(cfg, base, {**DATASET, "split_seed": 1}, seed=0, batch_size=64),
              transfer_key(cfg, base, DATASET, seed=1, batch_size=64),
              transfer_key(cfg, base, DATASET, seed=0, batch_size=32)]
    torch.save(tiny(5).state_dict() | {"0.weight": torch.ones(16, 64)}, five_class / "five.pt")
    others.append(transfer_key(cfg, base, DATASET, seed=0, batch_size=64))  # other bytes
    assert len({key, *others}) == len(others) + 1


def test_a_head_that_fits_is_fine_tuned_too(base_dir: Path) -> None:
    data = load_dataset(DataConfig())
    cfg = BaseConfig(model=str(base_dir / "my_base.py") + ":build_base",
                     checkpoint=str(base_dir / "base.pt"), transfer_epochs=1,
                     cache_dir=str(base_dir / "cache"))
    before = torch.load(base_dir / "base.pt", weights_only=True)
    adapted = adapt_base(load_base(cfg, (1, 8, 8), 10), cfg, data, DATASET, seed=0,
                         batch_size=64)
    assert adapted.trained
    after = adapted.model.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)  # every layer adapted


def test_transfer_settings_are_checked() -> None:
    problems = dict(BaseConfig(model="m:f", transfer_lr=0.0).problems())
    assert "base.transfer_lr" in problems
    with pytest.raises(ValueError, match=r"base\.transfer_epochs"):
        adapt_base(tiny(), BaseConfig(model="m:f"), load_dataset(DataConfig()), DATASET,
                   seed=0, batch_size=64)
