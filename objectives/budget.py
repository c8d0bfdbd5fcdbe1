"""How much compute one candidate gets: epochs per phase, batch size, latency measurement."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget"]


@dataclass(frozen=True)
class Budget:
    """How much compute one candidate gets."""

    epochs: int = 20
    finetune_epochs: int = 5
    qat_epochs: int = 5
    batch_size: int = 64
    finetune_lr_scale: float = 0.1
    latency_reps: int = 10
    #: What the latency objective times: "torch" (the PyTorch model), "onnxruntime" (its ONNX
    #: export in ONNX Runtime) or "onnxruntime-int8" (that export at int8); see objectives.deploy.
    latency_backend: str = "torch"
    latency_batch: int = 1
    #: Skip the pruning fine-tune and QAT where compression lost at most ``finetune_tolerance``
    #: val accuracy against the trained float model (see ``objectives.pipeline``; False: always).
    skip_finetune: bool = True
    finetune_tolerance: float = 0.01
