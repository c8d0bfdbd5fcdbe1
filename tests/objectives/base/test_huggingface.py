"""A local Hugging Face folder as a base: read with local_files_only, logits from token ids."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from objectives.base import BaseConfig, HuggingFaceBase, check_base, load_base
from tests.objectives.base.conftest import tokens


def test_the_folder_loads_as_a_classifier_of_token_ids(hf_folder: Path) -> None:
    model = load_base(BaseConfig(huggingface=str(hf_folder)), (6,), 3)
    assert isinstance(model, HuggingFaceBase) and not model.training
    x = tokens().train.x[:4]
    assert model(x).shape == (4, 3)
    assert torch.equal(model(x), model(x.long()))  # float ids are ids
    check_base(BaseConfig(huggingface=hf_folder.name), tokens(), root=hf_folder.parent)


def test_another_number_of_labels_needs_transfer_epochs(hf_folder: Path) -> None:
    with pytest.raises(ValueError, match=r"^base\.huggingface: the base model gives 3 outputs "
                       r"and the data has 5 classes; set \[base\] transfer_epochs"):
        check_base(BaseConfig(huggingface=str(hf_folder)), tokens(5))
    cfg = BaseConfig(huggingface=str(hf_folder), transfer_epochs=1)  # a new 5-wide classifier
    check_base(cfg, tokens(5))
    assert load_base(cfg, (6,), 5)(tokens(5).train.x[:2]).shape == (2, 5)


def test_a_folder_without_config_is_named(hf_folder: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(hf_folder, bare)
    (bare / "config.json").unlink()
    with pytest.raises(ValueError, match=r"^base\.huggingface: .*bare has no config\.json; give "
                       r"the folder save_pretrained wrote"):
        check_base(BaseConfig(huggingface=str(bare)), tokens())
    with pytest.raises(ValueError, match=r"^base\.huggingface: gone is not a folder"):
        check_base(BaseConfig(huggingface="gone"), tokens(), root=tmp_path)
