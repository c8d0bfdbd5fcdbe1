"""check_base: the base runs on a batch of the data and its width fits, or the fix is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from objectives.base import BaseConfig, check_base
from objectives.data import TensorData


def test_a_good_base_passes(base_dir: Path, digits: TensorData) -> None:
    check_base(BaseConfig(model="my_base.py:build_base", checkpoint="base.pt"), digits,
               root=base_dir)


def test_a_head_of_another_width_needs_transfer_epochs(base_dir: Path,
                                                       digits: TensorData) -> None:
    cfg = BaseConfig(model="my_base.py:build_five")
    with pytest.raises(ValueError, match=r"^base\.model: the base model gives 5 outputs and the "
                       r"data has 10 classes; set \[base\] transfer_epochs to replace and "
                       r"fine-tune the head$"):
        check_base(cfg, digits, root=base_dir)
    check_base(BaseConfig(model="my_base.py:build_five", transfer_epochs=1), digits,
               root=base_dir)


def test_a_base_that_does_not_run_on_the_data_is_named(base_dir: Path,
                                                        digits: TensorData) -> None:
    cfg = BaseConfig(model="my_base.py:build_flat_input")
    with pytest.raises(ValueError, match=r"^base\.model: the base model does not run on a batch "
                       r"of the data \(inputs \(2, 1, 8, 8\), torch\.float32\): RuntimeError: "):
        check_base(cfg, digits, root=base_dir)


def test_an_export_folder_is_a_base(model_folder: Path, digits: TensorData) -> None:
    check_base(BaseConfig(export=str(model_folder)), digits)
    (model_folder.parent / "empty").mkdir(exist_ok=True)
    with pytest.raises(ValueError, match=r"^base\.export: .*empty/model\.json: missing; a "
                       r"model folder written by `frontier export` holds spec\.json"):
        check_base(BaseConfig(export=str(model_folder.parent / "empty")), digits)
    with pytest.raises(ValueError, match=r"^base\.export: gone is not a folder"):
        check_base(BaseConfig(export="gone"), digits, root=model_folder)


def test_trim_names_modules_of_the_base(base_dir: Path, digits: TensorData) -> None:
    check_base(BaseConfig(model="my_base.py:build_base", trim=("2",)), digits, root=base_dir)
    with pytest.raises(ValueError, match=r"^base\.trim: the base has no module 'layer3'; name "
                       r"modules as named_modules\(\) spells them: 0, 1, 2, 3$"):
        check_base(BaseConfig(model="my_base.py:build_base", trim=("2", "layer3")), digits,
                   root=base_dir)
