"""A torchvision base: ``resnet18`` (never downloaded: ``weights=None``), its first conv fitted
to the input's channels. ``studies/resnet18_digits.toml`` loads a local state-dict file into it
(``[base] checkpoint``), transfers it to the digits at 3×32×32 and compresses it.

The checkpoint is an ImageNet-shaped resnet18 (a 1000-class head, as torchvision's weights
have), so the study must transfer: the head is replaced for the 10 digits and the network
fine-tuned once (``[base] transfer_epochs``). ``studies/resnet18_digits_prepare.py`` writes
such a file on any machine (a resnet18 trained briefly on the digits under a 1000-class head);
with internet access you may save torchvision's own ImageNet weights instead::

    from torchvision.models import resnet18
    torch.save(resnet18(weights="DEFAULT").state_dict(), "studies/resnet18_digits.pt")
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18

__all__ = ["IMAGENET_CLASSES", "build_base"]

#: The head width of torchvision's ImageNet weights.
IMAGENET_CLASSES = 1000


def build_base(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """torchvision's resnet18 for ``input_shape`` = (channels, height, width) with
    ``num_classes`` outputs, random weights (the checkpoint brings the trained ones). Its
    stem is ImageNet's (7×7 conv at stride 2, max pool): a 32×32 input reaches layer4 at 1×1,
    about 37 M MACs."""
    model = resnet18(weights=None, num_classes=num_classes)
    if input_shape[0] != 3:  # grey or multispectral inputs: the stem takes their channels
        model.conv1 = nn.Conv2d(input_shape[0], 64, 7, stride=2, padding=3, bias=False)
    return model
