"""Devices: "auto", the CPU loop left unchanged, one GPU per worker, and CUDA when present."""

from __future__ import annotations

import pytest
import torch

from objectives.compress.prune import prune_magnitude
from objectives.data import resolve_device
from objectives.pipeline import Budget, evaluate
from objectives.train import train
from search.storage import workers
from search.storage.workers import gpu_envs
from spaces import CompressSpec, ResNetSpec, create_space

CUDA = torch.cuda.is_available()


@pytest.mark.skipif(CUDA, reason="checks the CPU fallback")
def test_auto_is_cpu_without_cuda() -> None:
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_cpu_training_keeps_layout_and_precision(digits) -> None:  # type: ignore[no-untyped-def]
    model = create_space("resnet").build(ResNetSpec((4, 8), (1, 1), (1, 2)), (1, 8, 8), 10)
    train(model, digits.train, epochs=1, lr=0.01)
    for p in model.parameters():
        assert p.dtype == torch.float32 and p.is_contiguous()
    prune_magnitude(model, 0.5)


@pytest.mark.parametrize(
    ("workers_", "device", "gpus", "expected"),
    [
        (2, "auto", ["0", "1"], ["0", "1"]),
        (3, "cuda", ["0", "1"], ["0", "1", "0"]),
        (2, "auto", ["GPU-a", "GPU-b", "GPU-c"], ["GPU-a", "GPU-b"]),
        (2, "cuda:1", ["0", "1"], [None, None]),
        (2, "cpu", ["0", "1"], [None, None]),
        (2, "auto", [], [None, None]),
    ],
)
def test_one_gpu_per_worker(workers_: int, device: str, gpus: list[str],
                            expected: list[str | None]) -> None:
    envs = gpu_envs(workers_, device, gpus)
    assert [e.get("CUDA_VISIBLE_DEVICES") for e in envs] == expected


def test_visible_gpus_respects_the_parent_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert workers.visible_gpus() == ["3", "5"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert workers.visible_gpus() == ["0", "1"]


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_cuda_candidate_trains_prunes_and_quantizes(digits) -> None:  # type: ignore[no-untyped-def]
    data = digits.to(torch.device("cuda"))
    spec = ResNetSpec((8, 16), (1, 1), (1, 2), compress=CompressSpec(0.5, 4))
    budget = Budget(epochs=2, finetune_epochs=1, qat_epochs=1, latency_reps=2)
    measured, model = evaluate(create_space("resnet"), spec, data, budget)
    assert abs(measured.pruned_fraction - 0.5) < 0.01 and measured.val_accuracy > 0.2
    assert all(p.is_contiguous() and p.device.type == "cuda" for p in model.parameters())
