"""load_base for a builder with a checkpoint: the same weights, or every mismatch named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from objectives.base import BaseConfig, load_base
from tests.conftest import DIGITS
from tests.objectives.base.conftest import tiny


def _load(root: Path, **fields: object) -> torch.nn.Module:
    return load_base(BaseConfig(**fields), *DIGITS, root=root)  # type: ignore[arg-type]


def test_builder_and_checkpoint_give_the_saved_model_in_eval_mode(base_dir: Path) -> None:
    model = _load(base_dir, model="my_base.py:build_base", checkpoint="base.pt")
    x = torch.randn(3, 1, 8, 8)
    assert not model.training
    assert torch.equal(model(x), tiny().eval()(x))


def test_a_wrapped_state_dict_is_unwrapped(base_dir: Path) -> None:
    for key in ("state_dict", "model"):
        torch.save({key: tiny().state_dict(), "epoch": 3}, base_dir / "wrapped.pt")
        model = _load(base_dir, model="my_base.py:build_base", checkpoint="wrapped.pt")
        assert torch.equal(model[1].weight, tiny()[1].weight)


def test_a_builder_that_loads_its_own_weights_needs_no_checkpoint(base_dir: Path) -> None:
    assert isinstance(_load(base_dir, model="my_base.py:build_base"), torch.nn.Sequential)


@pytest.mark.parametrize(("fields", "words"), [
    ({"checkpoint": "gone.pt"}, r"^base\.checkpoint: gone\.pt is not a file \(looked in .*gone"),
    ({"model": "my_base.py:build_deeper"},
     r"^base\.checkpoint: .*base\.pt does not fit the model base\.model builds: missing keys "
     r"5\.weight, 5\.bias; build the "),
    ({"model": "my_base.py:build_flat_input"},
     r"missing keys 0\.weight, 0\.bias, 2\.weight, 2\.bias; unexpected keys 1\.weight, 1\.bias, "
     r"3\.weight, 3\.bias"),
    ({"model": "my_base.py:build_wide"},
     r"^base\.checkpoint: .* other shapes: 1\.weight \(16, 64\) in the file, \(24, 64\) in the "
     r"model, 1\.bias .*3\.weight \(10, 16\) in the file, \(10, 24\) in the model"),
    ({"model": "my_base.py:build_five"},
     r"3\.weight \(10, 16\) in the file, \(5, 16\) in the model.*set \[base\] transfer_epochs"),
    ({"model": "my_base.py:nope"}, r"^base\.model: .* has no attribute 'nope'"),
    ({"model": "my_base.py:not_a_model", "checkpoint": ""},
     r"^base\.model: my_base\.py:not_a_model returned str, not a torch\.nn\.Module"),
    ({"model": "", "checkpoint": ""}, r"^base: nothing names the base model"),
])
def test_a_bad_base_names_the_field_and_the_problem(base_dir: Path, fields: dict[str, str],
                                                     words: str) -> None:
    cfg = {"model": "my_base.py:build_base", "checkpoint": "base.pt", **fields}
    with pytest.raises(ValueError, match=words):
        _load(base_dir, **cfg)


@pytest.mark.parametrize(("content", "words"), [
    (b"not a checkpoint\n", r"is not a state dict torch\.load reads weights-only"),
    (None, r"does not hold a state dict \(tensors by name\)"),
])
def test_a_file_that_is_not_a_state_dict_is_named(base_dir: Path, content: bytes | None,
                                                  words: str) -> None:
    path = base_dir / "bad.pt"
    if content is None:
        torch.save({"epoch": 3, "lr": 0.1}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^base\.checkpoint: .*bad\.pt {words}"):
        _load(base_dir, model="my_base.py:build_base", checkpoint="bad.pt")


def test_with_transfer_epochs_a_head_of_another_width_stays_fresh(base_dir: Path) -> None:
    model = _load(base_dir, model="my_base.py:build_five", checkpoint="base.pt",
                  transfer_epochs=2)
    assert torch.equal(model[1].weight, tiny()[1].weight)  # the body is the checkpoint's
    assert model[3].weight.shape == (5, 16)
    with pytest.raises(ValueError, match=r"1\.weight \(16, 64\) in the file"):  # not the body
        _load(base_dir, model="my_base.py:build_wide", checkpoint="base.pt", transfer_epochs=2)
