"""The resnet, mobilenet and mlp spaces: sampling, conditional names, building, compression."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest
import torch
from torch import nn

from objectives.compress.prune import prunable_layers
from objectives.metrics import nonzero_params
from objectives.pipeline import evaluate
from spaces import (
    CompressSpec,
    MLPSpec,
    MobileNetSpec,
    ResNetSpec,
    create_space,
    load_spec,
    spec_json,
)
from spaces.blocks import BasicBlock, InvertedResidual

SHAPES = [(3, 32, 32), (1, 28, 28)]


def _samples(name: str, options: dict[str, Any], n: int, seed: int = 0) -> list[tuple[Any, dict]]:
    space = create_space(name, options)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((space.sample(trial), dict(trial.params)))
        study.tell(trial, 0.0)
    return out


def _conv_bn(cin: int, cout: int, k: int, groups: int = 1) -> int:
    return cin // groups * cout * k * k + 2 * cout


def _smaller(stride: int, h: int, w: int) -> tuple[int, int, int]:
    """The documented rule: a stride is skipped when the map is smaller than twice it."""
    s = stride if min(h, w) >= 2 * stride else 1
    return s, (h - 1) // s + 1, (w - 1) // s + 1


def resnet_params(spec: ResNetSpec, shape: tuple[int, int, int], classes: int) -> int:
    """Parameter count of a ResNetSpec, written out from the architecture's definition."""
    c, h, w = shape
    s, h, w = _smaller(spec.stem_stride, h, w)
    total, cin = _conv_bn(c, spec.widths[0], 3), spec.widths[0]
    for cout, blocks, stride in zip(spec.widths, spec.blocks, spec.strides, strict=True):
        s, h, w = _smaller(stride, h, w)
        for b in range(blocks):
            total += _conv_bn(cin, cout, 3) + _conv_bn(cout, cout, 3)
            if b == 0 and (s != 1 or cin != cout):
                total += _conv_bn(cin, cout, 1)
            cin = cout
    return total + cin * classes + classes


def mobilenet_params(spec: MobileNetSpec, shape: tuple[int, int, int], classes: int) -> int:
    total, cin = _conv_bn(shape[0], spec.stem_width, 3), spec.stem_width
    for cout, depth in zip(spec.widths, spec.depths, strict=True):
        for _ in range(depth):
            hidden = cin * spec.expansion
            if spec.expansion != 1:
                total += _conv_bn(cin, hidden, 1)
            total += _conv_bn(hidden, hidden, 3, groups=hidden) + _conv_bn(hidden, cout, 1)
            cin = cout
    if spec.head_width:
        total, cin = total + _conv_bn(cin, spec.head_width, 1), spec.head_width
    return total + cin * classes + classes


def mlp_params(spec: MLPSpec, shape: tuple[int, ...], classes: int) -> int:
    total, fin = 0, math.prod(shape)
    for width in spec.widths:
        total += fin * width + (2 * width if spec.batch_norm else width)
        fin = width
    return total + fin * classes + classes


COUNTS = {"resnet": resnet_params, "mobilenet": mobilenet_params, "mlp": mlp_params}
SEARCHED = {
    "resnet": {"max_stages": 4, "blocks": [1, 2], "widths": [4, 8, 16],
               "strides": [1, [1, 2], 2, [1, 2]], "stem_stride": [1, 2]},
    "mobilenet": {"min_stages": 1, "max_stages": 4, "depths": [1, 2], "expansion": [1, 2, 6],
                  "width_multiplier": {"low": 0.2, "high": 1.0}, "head_width": 64},
    "mlp": {"min_depth": 0, "max_depth": 3, "widths": [8, 16], "batch_norm": [True, False]},
}


@pytest.mark.parametrize("name", ["resnet", "mobilenet", "mlp"])
def test_every_sampled_spec_builds_runs_and_counts_its_params(name: str) -> None:
    space = create_space(name, SEARCHED[name])
    for spec, _ in _samples(name, SEARCHED[name], 12):
        assert load_spec(spec_json(space, spec)) == (name, spec)
        for shape in SHAPES:
            classes = 3 + shape[0]
            model = space.build(spec, shape, classes)
            model.eval()
            assert model(torch.randn(2, *shape)).shape == (2, classes)
            numel = sum(p.numel() for p in model.parameters())
            assert numel == COUNTS[name](spec, shape, classes)
            with torch.no_grad():  # a fresh model has zero BN biases; make every entry count
                for p in model.parameters():
                    p.uniform_(0.5, 1.0)
            assert nonzero_params(model) == numel


def test_mlp_flattens_any_shape() -> None:
    space = create_space("mlp")
    for shape in [(20,), (2, 5, 5), (3, 7, 11)]:
        model = space.build(MLPSpec((8, 4)), shape, 5)
        assert model(torch.randn(2, *shape)).shape == (2, 5)
    assert create_space("mlp").build(MLPSpec(()), (4,), 3)(torch.randn(2, 4)).shape == (2, 3)


@pytest.mark.parametrize("shape", [(3, 2, 2), (1, 5, 5), (3, 1, 1), (2, 48, 20)])
def test_residual_spaces_work_on_small_and_odd_inputs(shape: tuple[int, int, int]) -> None:
    resnet = create_space("resnet").build(ResNetSpec((4, 8, 8), (1, 2, 1), (2, 2, 2), 2), shape, 4)
    mobile = create_space("mobilenet").build(MobileNetSpec((8, 8), (2, 1), (2, 2)), shape, 4)
    for model in (resnet, mobile):
        model.eval()
        assert model(torch.randn(2, *shape)).shape == (2, 4)


def test_strides_never_shrink_maps_below_two_pixels() -> None:
    spec = ResNetSpec((4, 4, 4, 4, 4), (1,) * 5, (2,) * 5, stem_stride=2)
    model = create_space("resnet").build(spec, (3, 32, 32), 10).eval()
    x = model.stem(torch.zeros(1, 3, 32, 32))
    sizes = [x.shape[-1]]
    for stage in model.stages:
        x = stage(x)
        sizes.append(x.shape[-1])
    assert sizes == [16, 8, 4, 2, 2, 2]
    small = create_space("resnet").build(spec, (3, 3, 3), 10).eval()
    assert small.stages(small.stem(torch.zeros(1, 3, 3, 3))).shape[-2:] == (3, 3)


def test_resnet_blocks_project_only_when_the_shape_changes() -> None:
    model = create_space("resnet").build(ResNetSpec((8, 8, 16), (2, 1, 1), (1, 2, 1)),
                                         (3, 32, 32), 10)
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert [isinstance(b.shortcut, nn.Identity) for b in blocks] == [True, True, False, False]
    assert {n for n, _ in blocks[2].named_children()} == {"conv1", "conv2", "shortcut", "relu"}
    assert all(hasattr(b.conv1, "conv") and hasattr(b.conv1, "bn") for b in blocks)


def test_mobilenet_blocks_depthwise_and_residual() -> None:
    spec = MobileNetSpec((8, 16), (2, 1), (1, 2), expansion=4, stem_width=8)
    model = create_space("mobilenet").build(spec, (3, 32, 32), 10)
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert [b.residual for b in blocks] == [True, True, False]
    dw = blocks[0].depthwise.conv
    assert dw.groups == dw.in_channels == dw.out_channels == 32
    assert "stages.0.0.depthwise.conv" in prunable_layers(model)


def test_resnet_names_exist_only_when_used() -> None:
    seen = set()
    for spec, params in _samples("resnet", SEARCHED["resnet"], 40, seed=1):
        seen.add(spec.stages)
        assert params.get("stages", 1) == spec.stages
        for i in range(4):
            assert (f"blocks_{i}" in params) == (i < spec.stages)
            assert (f"width_{i}" in params) == (i < spec.stages)
            assert (f"stride_{i}" in params) == (i in (1, 3) and i < spec.stages)
        assert spec.strides[0] == 1 and "stem_stride" in params
    assert seen == {1, 2, 3, 4}


def test_resnet_width_multiplier_scales_base_widths() -> None:
    options = {"min_stages": 2, "max_stages": 3, "base_widths": [16, 32, 64],
               "width_multiplier": [0.25, 0.5, 1.0]}
    for spec, params in _samples("resnet", options, 15):
        m = params["width_multiplier"]
        assert spec.widths == tuple(round(w * m) for w in (16, 32, 64)[:spec.stages])
        assert not any(k.startswith("width_") and k[-1].isdigit() for k in params)


def test_mobilenet_names_and_rounded_widths() -> None:
    options = SEARCHED["mobilenet"]
    seen = set()
    for spec, params in _samples("mobilenet", options, 40, seed=2):
        seen.add(spec.stages)
        for i in range(4):
            assert (f"depth_{i}" in params) == (i < spec.stages)
        assert "stride_0" not in params  # fixed strides are not parameters
        assert all(w % 8 == 0 for w in (*spec.widths, spec.stem_width, spec.head_width))
        assert {"width_multiplier", "expansion"} <= set(params)
    assert seen == {1, 2, 3, 4}


@pytest.mark.parametrize(
    ("name", "options", "field"),
    [
        ("resnet", {"colour": 1}, "space.colour"),
        ("resnet", {"max_stages": 0}, "space.max_stages"),
        ("resnet", {"min_stages": 3, "max_stages": 2}, "space.min_stages"),
        ("resnet", {"blocks": [0, 1]}, "space.blocks"),
        ("resnet", {"widths": {"low": 4, "high": 8}}, "space.widths"),
        ("resnet", {"strides": [1, 3]}, "space.strides"),
        ("resnet", {"max_stages": 5}, "space.strides"),
        ("resnet", {"widths": [8], "width_multiplier": [0.5]}, "space.widths"),
        ("resnet", {"base_widths": [8, 16]}, "space.base_widths"),
        ("resnet", {"width_multiplier": [0.0, 1.0]}, "space.width_multiplier"),
        ("resnet", {"stem_stride": [4]}, "space.stem_stride"),
        ("resnet", {"bits": [1]}, "space.bits"),
        ("mobilenet", {"expansion": [0]}, "space.expansion"),
        ("mobilenet", {"max_stages": 7}, "space.base_widths"),
        ("mobilenet", {"depths": []}, "space.depths"),
        ("mobilenet", {"head_width": -1}, "space.head_width"),
        ("mobilenet", {"divisor": 0}, "space.divisor"),
        ("mobilenet", {"strides": "2"}, "space.strides"),
        ("mlp", {"max_depth": -1}, "space.max_depth"),
        ("mlp", {"widths": [0]}, "space.widths"),
        ("mlp", {"kernels": [3]}, "space.kernels"),
    ],
)
def test_bad_options_name_the_field(name: str, options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        create_space(name, options)


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("resnet", ResNetSpec((4, 8), (1, 1), (1, 2), compress=CompressSpec(0.5, 4))),
        ("mobilenet", MobileNetSpec((8, 8), (1, 1), (1, 2), expansion=2, stem_width=8,
                                    compress=CompressSpec(0.5, 4))),
    ],
)
def test_pruning_and_quantization_apply(digits, tiny_budget, name: str,  # type: ignore[no-untyped-def]
                                        spec: Any) -> None:
    measured, model = evaluate(create_space(name), spec, digits, tiny_budget, seed=0)
    assert abs(measured.pruned_fraction - 0.5) < 0.01
    assert measured.params == nonzero_params(model)
    assert measured.val_accuracy > 0.2
    for layer in prunable_layers(model).values():
        for channel in layer.weight.detach():
            assert channel.unique().numel() <= 2**4
