"""One contract over every registered compression step (objectives.compress.steps): a step a
CompressSpec switches on compresses a trained model that still runs, replays its shapes on a
fresh model, states bits only for real layers, and plans its fine-tune phase."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from objectives.budget import Budget
from objectives.compress import COMPRESSORS, list_compressors
from objectives.compress.plan import (
    apply_compression,
    bits_by_layer,
    plan_for,
    replay_steps,
    resolve_targets,
)
from objectives.compress.steps import PHASES, STAGES, Targets
from spaces import create_space
from spaces.layers import prunable_layers
from spaces.spec import CompressSpec

#: A CompressSpec that switches each registered step on (a new step adds its own here).
ACTIVE = {
    "unstructured": CompressSpec(prune_ratio=0.5),
    "structured": CompressSpec(prune_ratio=0.5, method="structured"),
    "lowrank": CompressSpec(steps={"rank_ratio": 0.25}),
    "depth": CompressSpec(steps={"drop_units": ["0.1.0"]}),  # block 1's conv keeps 8×4×4
    "quantization": CompressSpec(bits=4, act_bits=8),
}
SHAPE = (1, 8, 8)


def _model() -> nn.Module:
    space = create_space("cnn", {"max_depth": 2, "widths": [8]})
    spec = space.spec_type(widths=(8, 8), kernel=3, batch_norm=True)
    torch.manual_seed(0)
    return space.build(spec, SHAPE, 10).eval()


def test_every_registered_step_has_an_example_and_runs_in_stage_order() -> None:
    assert set(list_compressors()) == set(ACTIVE)
    stages = [STAGES.index(COMPRESSORS[n].stage) for n in list_compressors()]
    assert stages == sorted(stages)
    order = list_compressors()
    assert order.index("depth") < order.index("structured") < order.index("lowrank")


@pytest.mark.parametrize("name", sorted(ACTIVE))
def test_the_step_contract(name: str) -> None:
    step = COMPRESSORS[name]
    assert step.name == name and step.stage in STAGES and step.phase in PHASES
    c = ACTIVE[name]
    assert step().active(c) and not step().active(CompressSpec())
    plan = plan_for(c)
    assert [s.name for s in plan.steps] == [name]
    assert plan.phases == (step.phase,)
    budget = Budget(epochs=3, finetune_epochs=2, qat_epochs=1)
    assert plan.epochs(budget) == 3 + (2 if step.phase == "prune" else 1)

    model, x = _model(), torch.randn(4, *SHAPE)
    masks = apply_compression(model, c, SHAPE)
    assert set(masks) == set(prunable_layers(model))
    assert model(x).shape == (4, 10)
    fresh = replay_steps(_model(), c, SHAPE)
    fresh.load_state_dict(model.state_dict())  # the replayed shapes take the stored weights
    bits = bits_by_layer(model, c, resolve_targets(_model(), c))
    assert set(bits) == set(prunable_layers(model))
    assert all(2 <= b <= 32 for b in bits.values())


def test_an_inactive_spec_plans_nothing_and_an_unknown_method_is_refused() -> None:
    assert plan_for(CompressSpec()).steps == ()
    assert plan_for(CompressSpec()).epochs(Budget(epochs=7)) == 7
    with pytest.raises(ValueError, match=r"^method: unknown pruning method 'magic'"):
        plan_for(CompressSpec(prune_ratio=0.5, method="magic"))


def test_layers_a_step_creates_inherit_their_ancestors_knobs() -> None:
    targets = Targets({"features.0": 0.3}, {"features.0": 4, "head": 8})
    assert targets.ratio_of("features.0.1") == 0.3 and targets.ratio_of("head") is None
    assert targets.bits_of("features.0.0", 32) == 4 and targets.bits_of("other", 6) == 6
