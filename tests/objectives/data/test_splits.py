import pytest
import torch

from objectives.data import DataConfig, load_dataset


def test_digits_split_is_fixed_disjoint_and_stratified() -> None:
    a = load_dataset(DataConfig())
    b = load_dataset(DataConfig())
    assert (len(a.train), len(a.val), len(a.test)) == (1077, 360, 360)
    assert a.input_shape == (1, 8, 8) and a.num_classes == 10
    torch.testing.assert_close(a.test.x, b.test.x)
    rows = {tuple(r.tolist()) for r in a.train.x.flatten(1)}
    assert not any(tuple(r.tolist()) in rows for r in a.test.x.flatten(1)[:50])
    counts = torch.bincount(a.test.y, minlength=10)
    assert counts.min() >= 34  # every class present in proportion
    assert abs(float(a.train.x.mean())) < 1e-4


def test_split_seed_changes_the_split() -> None:
    a = load_dataset(DataConfig(split_seed=0))
    b = load_dataset(DataConfig(split_seed=1))
    assert not torch.equal(a.test.x, b.test.x)


def test_unknown_dataset() -> None:
    with pytest.raises(ValueError, match=r"dataset\.name: unknown dataset 'imagenet'"):
        load_dataset(DataConfig(name="imagenet"))
