import pytest
import torch
from torch import nn

from objectives.sensitivity import Unit, units_of, width_units
from tests.objectives.sensitivity.conftest import Net


class Residual(nn.Module):
    """``a`` and ``b`` are tied by a residual addition (one channel group); ``c`` is its own."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.c = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a(x)
        x = self.c(x + self.b(x))
        return self.head(x.mean(dim=(2, 3)))


def test_units_of_lists_groups_layers_and_named_modules() -> None:
    units = units_of(Net(), (1, 8, 8), depth_units=["block"])
    assert [(u.kind, u.name) for u in units] == [
        ("width", "features.0"), ("width", "features.3"), ("width", "block.0"),
        ("bits", "features.0"), ("bits", "features.3"), ("bits", "block.0"), ("bits", "head.2"),
        ("depth", "block")]
    assert units[0].values == (1.0, 0.75, 0.5, 0.25)
    assert units[3].values == (32, 8, 6, 4, 3, 2)
    assert units[-1].values == (False, True)


def test_coupled_layers_are_one_width_unit_named_by_the_earliest() -> None:
    assert width_units(Residual(), (1, 8, 8)) == ["a", "c"]


def test_identity_values_are_added_and_empty_values_leave_a_kind_out() -> None:
    units = units_of(Net(), (1, 8, 8), ratios=(0.5,), bits=())
    assert {u.kind for u in units} == {"width"}
    assert all(u.values == (1.0, 0.5) for u in units)
    assert {u.values for u in units_of(Net(), (1, 8, 8), ratios=(), bits=(4,))} == {(32, 4)}


def test_bad_units_name_the_field() -> None:
    with pytest.raises(ValueError, match="depth_units: 'nope'"):
        units_of(Net(), (1, 8, 8), depth_units=["nope"])
    with pytest.raises(ValueError, match=r"keep ratio 0\.0"):
        Unit("width", "a", (0.0,))
    with pytest.raises(ValueError, match="1 bits"):
        Unit("bits", "a", (1,))
    with pytest.raises(ValueError, match="depth unit 'b'"):
        Unit("depth", "b", (1,))
    with pytest.raises(ValueError, match="kind: unknown unit kind 'rank'"):
        Unit("rank", "a", (1.0,))
