"""A transformer encoder classifier built from Hugging Face ``transformers``' BERT layers.

:class:`FrontierEncoder` is a ``transformers.PreTrainedModel``: inputs of shape
``(C, L)`` (sequences; a flat ``(L,)`` is one channel) or ``(C, H, W)`` (images) are cut into
patches of ``patch`` steps or ``patch × patch`` pixels, each patch becomes a token (a linear
embedding plus a learned position, layer-normed), ``BertLayer`` s encode them, and the mean
token goes through a linear head to the logits (a plain tensor, as every Frontier model).

Each layer keeps its own number of attention heads and FFN neurons
(``config.layer_heads``, ``config.layer_intermediate``), so a structurally pruned encoder
(:meth:`FrontierEncoder.prune_structure`) records its shapes in its config, and
``save_pretrained`` / ``from_pretrained`` (or ``transformers.AutoModel.from_pretrained`` once
this module is imported) rebuild it. Nothing is downloaded: models are built from a config.
"""

from __future__ import annotations

from typing import Any

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, PreTrainedModel
from transformers.models.bert.modeling_bert import BertLayer

from spaces.layers import keep_count
from spaces.patches import token_shape

__all__ = ["FrontierEncoder", "FrontierEncoderConfig"]


@strict
class FrontierEncoderConfig(BertConfig):
    """A BertConfig plus the input (``input_shape``, ``patch``) and the per-layer widths a
    pruned encoder keeps (``layer_heads``, ``layer_intermediate``; None: the BERT sizes)."""

    model_type = "frontier-encoder"
    input_shape: list[int] | None = None
    patch: int = 1
    layer_heads: list[int] | None = None
    layer_intermediate: list[int] | None = None

    def heads(self) -> list[int]:
        """Attention heads of each layer."""
        return list(self.layer_heads or [self.num_attention_heads] * self.num_hidden_layers)

    def intermediate(self) -> list[int]:
        """FFN neurons of each layer."""
        return list(self.layer_intermediate
                    or [self.intermediate_size] * self.num_hidden_layers)


def _linear(old: nn.Linear, rows: torch.Tensor | None, cols: torch.Tensor | None) -> nn.Linear:
    """A smaller copy of ``old`` keeping output ``rows`` and input ``cols`` (None: all)."""
    weight = old.weight.detach()
    weight = weight[rows] if rows is not None else weight
    weight = weight[:, cols] if cols is not None else weight
    new = nn.Linear(weight.shape[1], weight.shape[0], bias=old.bias is not None,
                    device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        new.weight.copy_(weight)
        if old.bias is not None:
            new.bias.copy_(old.bias.detach()[rows] if rows is not None else old.bias.detach())
    return new


def _keep_heads(attention: Any, heads: torch.Tensor) -> None:
    """Keep only attention ``heads`` (indices, ascending) of ``attention`` in place."""
    self_attn = attention.self
    size = self_attn.attention_head_size
    rows = (heads[:, None] * size + torch.arange(size)).reshape(-1)
    for name in ("query", "key", "value"):
        setattr(self_attn, name, _linear(getattr(self_attn, name), rows, None))
    attention.output.dense = _linear(attention.output.dense, None, rows)
    self_attn.num_attention_heads = len(heads)
    self_attn.all_head_size = len(heads) * size


def _keep_neurons(layer: Any, neurons: torch.Tensor) -> None:
    """Keep only FFN ``neurons`` (indices, ascending) of ``layer`` in place."""
    layer.intermediate.dense = _linear(layer.intermediate.dense, neurons, None)
    layer.output.dense = _linear(layer.output.dense, None, neurons)


def _strongest(scores: torch.Tensor, keep: int) -> torch.Tensor:
    """Indices of the ``keep`` largest ``scores``, ascending (ties: the earlier index)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return torch.tensor(sorted(order[:keep]), dtype=torch.long)


class FrontierEncoder(PreTrainedModel):
    """Patches → tokens → ``BertLayer`` × depth → mean token → linear head (see the module)."""

    config_class = FrontierEncoderConfig
    base_model_prefix = "frontier"
    main_input_name = "inputs"
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: FrontierEncoderConfig) -> None:
        super().__init__(config)
        if config.input_shape is None:
            raise ValueError("FrontierEncoderConfig: input_shape is required")
        self.tokens, features = token_shape(config.input_shape, config.patch)
        hidden = config.hidden_size
        self.embed = nn.Linear(features, hidden)
        self.positions = nn.Embedding(self.tokens, hidden)
        self.norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.layers = nn.ModuleList(BertLayer(config, layer_idx=i)
                                    for i in range(config.num_hidden_layers))
        heads, neurons = config.heads(), config.intermediate()
        if len(heads) != len(self.layers) or len(neurons) != len(self.layers):
            raise ValueError("FrontierEncoderConfig: layer_heads and layer_intermediate need "
                             f"one entry per layer ({len(self.layers)})")
        layers: list[Any] = list(self.layers)
        for layer, h, n in zip(layers, heads, neurons, strict=True):
            if h < config.num_attention_heads:
                _keep_heads(layer.attention, torch.arange(h))
            if n < config.intermediate_size:
                _keep_neurons(layer, torch.arange(n))
        self.head = nn.Linear(hidden, config.num_labels or 2)
        self.post_init()

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape)`` → ``(B, tokens, features)``, patch by patch, row-major."""
        shape = list(self.config.input_shape)
        p = self.config.patch
        if len(shape) == 1:
            shape = [1, *shape]
        if len(shape) == 2:
            c, n = shape
            x = x.reshape(-1, c, n // p, p).permute(0, 2, 1, 3)
        else:
            c, h, w = shape
            x = x.reshape(-1, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(-1, self.tokens, c * p ** (len(shape) - 1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_labels)`` of inputs ``(B, *input_shape)``."""
        hidden = self.norm(self.embed(self._patches(inputs)) + self.positions.weight[None])
        for layer in self.layers:
            hidden = layer(hidden)
        return self.head(hidden.mean(dim=1))

    def extra_macs(self, inputs: torch.Tensor) -> int:
        """Multiply-accumulates the linear layers do not count: each layer's two attention
        products (queries × keys, weights × values), ``2 · tokens² · heads · head size``."""
        size = self.config.hidden_size // self.config.num_attention_heads
        per_input = sum(2 * self.tokens ** 2 * h * size for h in self.config.heads())
        return int(inputs.shape[0]) * per_input

    @torch.no_grad()
    def prune_structure(self, ratio: float) -> None:
        """Remove ``ratio`` of the attention heads and of the FFN neurons of every layer in
        place (each keeps ``max(1, round((1 − ratio) · n))``, the same rule as channel
        pruning): those whose weights (query, key and value rows and output columns of a head;
        input row and output column of a neuron) have the smallest L2 norm. The config records
        the new widths, so ``save_pretrained`` / ``from_pretrained`` keep them."""
        size = self.config.hidden_size // self.config.num_attention_heads
        heads, neurons = [], []
        layers: list[Any] = list(self.layers)
        for layer in layers:
            attn = layer.attention
            n_heads = int(attn.self.query.out_features) // size
            keep = keep_count(n_heads, ratio)
            if keep < n_heads:
                score = attn.output.dense.weight.pow(2).reshape(-1, n_heads, size).sum(dim=(0, 2))
                for name in ("query", "key", "value"):
                    score = score + _rows(getattr(attn.self, name), size)
                _keep_heads(attn, _strongest(score, keep))
            n_neurons = int(layer.intermediate.dense.out_features)
            keep = keep_count(n_neurons, ratio)
            if keep < n_neurons:
                score = (layer.intermediate.dense.weight.pow(2).sum(dim=1)
                         + layer.output.dense.weight.pow(2).sum(dim=0))
                _keep_neurons(layer, _strongest(score, keep))
            heads.append(int(attn.self.num_attention_heads))
            neurons.append(int(layer.intermediate.dense.out_features))
        self.config.layer_heads, self.config.layer_intermediate = heads, neurons


def _rows(linear: nn.Linear, size: int) -> torch.Tensor:
    """Squared L2 norm of each head's block of ``size`` output rows (weights and bias)."""
    score = linear.weight.pow(2).sum(dim=1)
    if linear.bias is not None:
        score = score + linear.bias.pow(2)
    return score.reshape(-1, size).sum(dim=1)


AutoConfig.register(FrontierEncoderConfig.model_type, FrontierEncoderConfig, exist_ok=True)
AutoModel.register(FrontierEncoderConfig, FrontierEncoder, exist_ok=True)
