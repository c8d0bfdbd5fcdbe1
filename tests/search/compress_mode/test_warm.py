"""The warm start's pieces without a study: the units and values a base space searches, an
allocation as that space's trial parameters (inside its domains), its measured cost."""

from __future__ import annotations

import torch
from torch import nn

from objectives.data import DataConfig, load_dataset
from objectives.sensitivity import sensitivity
from search.compress_mode.fit import fitted_allocations, measured_cost
from search.compress_mode.warm import allocation_params, budget_objective, realise, space_units
from spaces.base import BaseSpace


def _base() -> nn.Sequential:
    def block() -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    torch.manual_seed(0)
    return nn.Sequential(nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),
                                       nn.ReLU()),
                         block(), block(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 10)).eval()


def _space(**options: object) -> BaseSpace:
    space = BaseSpace({"prune_method": ["structured"], "prune_ratio": {"low": 0.2, "high": 0.6},
                       "per_layer_prune": True, "bits": [4, 8], "per_layer_bits": True,
                       "drop_blocks": True, **options})
    space.use_base(_base(), ["1", "2"])
    return space


def test_units_take_their_values_from_the_space_domains() -> None:
    units = space_units(_space(), (1, 8, 8))
    width = [u for u in units if u.kind == "width"]
    assert [u.name for u in width] == ["0.0", "1.0", "2.0"]
    assert width[0].values == (1.0, 0.8, 0.7, 0.6, 0.5, 0.4)  # low, ¼, ½, ¾, high; + identity
    assert [u.values for u in units if u.kind == "bits"] == [(32, 8, 4)] * 4
    assert [(u.name, u.values) for u in units if u.kind == "depth"] == [
        ("1", (False, True)), ("2", (False, True))]
    # unstructured only, or per-layer knobs off, or fixed domains: no such units
    assert [u.kind for u in space_units(_space(prune_method=["unstructured"], bits=[8]),
                                        (1, 8, 8))] == ["depth", "depth"]


def test_an_allocation_becomes_params_inside_the_domains() -> None:
    space = _space(prune_method=["structured", "unstructured"])
    choice = {"width": {"0.0": 1.0, "2.0": 0.5}, "bits": {"0.0": 32, "5": 4},
              "depth": {"1": True, "2": False}}
    assert allocation_params(space, choice) == {
        "prune_ratio_0": 0.2, "prune_ratio_2": 0.5, "prune_method": "structured",
        "bits_0": 8, "bits_3": 4, "drop_0": True, "drop_1": False}
    assert realise(space, choice)["width"] == {"0.0": 0.8, "2.0": 0.5}
    assert realise(space, choice)["bits"] == {"0.0": 8, "5": 4}
    assert budget_objective(["val_accuracy", "size_bytes", "macs"]) == "size_bytes"
    assert budget_objective(["val_accuracy", "latency_ms"]) == "macs"


def test_the_measured_cost_is_the_hand_count_and_budgets_are_met() -> None:
    model = _base()
    # conv 1→4 (2,304) + block 2's conv 4→8 (18,432) + head 80; block 1 dropped
    choice = {"width": {"0.0": 0.5}, "depth": {"1": True}}
    assert measured_cost(model, choice, "macs", (1, 8, 8)) == 2304 + 18432 + 80
    data = load_dataset(DataConfig())
    space = _space()
    space.use_base(model, ["1", "2"])
    table = sensitivity(model, data, space_units(space, data.input_shape))
    base_macs = int(table.loc[table.kind == "base", "macs"].iloc[0])
    for alloc in fitted_allocations(model, table, "macs", (1.5, 2, 4, 8), data.input_shape,
                                    lambda c: realise(space, c)):
        assert alloc["feasible"] and alloc["measured_cost"] <= base_macs / alloc["budget"]
        assert alloc["measured_cost"] == measured_cost(model, alloc["choice"], "macs",
                                                       data.input_shape)
