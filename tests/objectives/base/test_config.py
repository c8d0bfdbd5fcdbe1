"""BaseConfig: the [base] table as data, and the settings that cannot hold whatever the files."""

from __future__ import annotations

import pytest

from objectives.base import BaseConfig


def test_an_empty_table_is_no_base() -> None:
    assert not BaseConfig().is_set and BaseConfig().kind == ""
    assert BaseConfig(transfer_epochs=1).is_set
    assert BaseConfig(huggingface="hf").kind == "huggingface"


def test_trim_from_a_toml_list_is_a_tuple() -> None:
    cfg = BaseConfig(model="m:f", trim=["layer3.1"])  # type: ignore[arg-type]
    assert cfg.trim == ("layer3.1",) and hash(cfg)


@pytest.mark.parametrize(("cfg", "field", "words"), [
    (BaseConfig(), "base", "set one of model"),
    (BaseConfig(model="m:f", export="e"), "base.export", "both set"),
    (BaseConfig(huggingface="h", checkpoint="c.pt"), "base.checkpoint", "set base.model"),
    (BaseConfig(model="m:f", transfer_epochs=-1), "base.transfer_epochs", "must be >= 0"),
    (BaseConfig(model="m:f", trim=("",)), "base.trim", "named_modules"),
])
def test_problems_name_the_field_and_the_fix(cfg: BaseConfig, field: str, words: str) -> None:
    problems = cfg.problems()
    assert problems and problems[0][0] == field and words in problems[0][1]


@pytest.mark.parametrize("cfg", [BaseConfig(model="m:f", checkpoint="c.pt", transfer_epochs=2),
                                 BaseConfig(huggingface="h"), BaseConfig(export="e")])
def test_one_kind_of_base_has_no_problem(cfg: BaseConfig) -> None:
    assert cfg.problems() == []
