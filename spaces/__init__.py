"""What can be searched: ``sample(trial) -> Spec`` and ``build(spec, ...) -> nn.Module``."""

from spaces import cnn as _cnn  # noqa: F401  (registers "cnn")
from spaces import mlp as _mlp  # noqa: F401  (registers "mlp")
from spaces import mobilenet as _mobilenet  # noqa: F401  (registers "mobilenet")
from spaces import resnet as _resnet  # noqa: F401  (registers "resnet")
from spaces import transformer as _transformer  # noqa: F401  (registers "transformer")
from spaces import user as _user  # noqa: F401  (registers "model": a user's builder)
from spaces.cnn import CNNSpace, CNNSpec, ConvNet
from spaces.domain import Choice, Range, parse_domain, suggest
from spaces.mlp import MLPSpace, MLPSpec
from spaces.mobilenet import MobileNetSpace, MobileNetSpec
from spaces.registry import Registry
from spaces.resnet import ResNetSpace, ResNetSpec
from spaces.space import (
    SPACES,
    Space,
    as_space,
    create_space,
    list_spaces,
    load_spec,
    register_space,
    spec_json,
)
from spaces.spec import CompressSpec, Spec, TrainSpec, spec_from_dict, spec_to_dict
from spaces.transformer import TransformerSpace, TransformerSpec
from spaces.user import ModelSpace, ModelSpec, check_builder

__all__ = [
    "SPACES",
    "CNNSpace",
    "CNNSpec",
    "Choice",
    "CompressSpec",
    "ConvNet",
    "MLPSpace",
    "MLPSpec",
    "MobileNetSpace",
    "MobileNetSpec",
    "ModelSpace",
    "ModelSpec",
    "Range",
    "Registry",
    "ResNetSpace",
    "ResNetSpec",
    "Space",
    "Spec",
    "TrainSpec",
    "TransformerSpace",
    "TransformerSpec",
    "as_space",
    "check_builder",
    "create_space",
    "list_spaces",
    "load_spec",
    "parse_domain",
    "register_space",
    "spec_from_dict",
    "spec_json",
    "spec_to_dict",
    "suggest",
]
