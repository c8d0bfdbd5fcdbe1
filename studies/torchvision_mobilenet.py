"""A user builder over a torchvision model family: MobileNetV2 built from scratch (no weights),
its width multiplier, depth and expansion searched, with structured pruning through
Torch-Pruning's dependency graph. ``studies/torchvision_mobilenet.toml`` points at ``build``.

    python -m search run studies/torchvision_mobilenet.toml
"""

from __future__ import annotations

import optuna
from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.ops import Conv2dNormActivation

#: torchvision's MobileNetV2 stages as (expansion t, channels c, blocks n, stride s), with the
#: strides of small inputs: 32×32 digits keep a 4×4 map instead of shrinking to 1×1.
HEAD = 128  # channels of the last 1×1 conv (torchvision: 1280)
STAGES = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)]


def build(trial: optuna.Trial, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """One MobileNetV2 candidate for ``input_shape`` = (channels, height, width)."""
    width = trial.suggest_categorical("width_mult", [0.25, 0.5, 0.75])
    stages = trial.suggest_int("stages", 3, len(STAGES))
    expansion = trial.suggest_categorical("expansion", [2, 4, 6])
    setting = [[1 if i == 0 else expansion, c, n, s] for i, (_, c, n, s) in
               enumerate(STAGES[:stages])]
    model = mobilenet_v2(weights=None, num_classes=num_classes, width_mult=width,
                         inverted_residual_setting=setting, dropout=0.0)
    stem = model.features[0][0]  # 3 input channels and stride 2 are for ImageNet
    model.features[0][0] = nn.Conv2d(input_shape[0], stem.out_channels, 3, 1, 1, bias=False)
    last = model.features[-1][0]  # a 1280-channel head is for 1000 classes
    model.features[-1] = Conv2dNormActivation(last.in_channels, HEAD, 1,
                                              activation_layer=nn.ReLU6)
    model.classifier[1] = nn.Linear(HEAD, num_classes)
    return model
