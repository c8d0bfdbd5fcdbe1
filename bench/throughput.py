"""Training throughput (images/s) of a small ResNet candidate on CIFAR-10-sized tensors.

    .venv/bin/python bench/throughput.py               # CPU, then CUDA when a GPU is present
    .venv/bin/python bench/throughput.py --cpu-images 50000

One epoch of the real training loop (``objectives.train.train``: AdamW, cosine schedule per
batch, crop + flip augmentation from ``objectives.data.augment``; on CUDA also bfloat16 autocast and
channels-last) over random standardised 3×32×32 tensors with 10 classes, batch 128. The
candidate comes from the resnet space: widths 16-32-64, one basic block per stage, strides
1-2-2 (a ResNet-8). Random data costs the same per image as CIFAR-10 and needs no files.

A full CIFAR-10 epoch is 50,000 images; on CPU the default is 10,000 so the run stays under two
minutes on 2 cores (throughput per image does not depend on the epoch length). The clock starts
after a 2-batch warm-up epoch.
"""

from __future__ import annotations

import argparse
import time

import torch

from objectives.data import Split
from objectives.data.augment import crop_flip
from objectives.metrics import macs
from objectives.train import train
from spaces import ResNetSpec, create_space

SPEC = ResNetSpec(widths=(16, 32, 64), blocks=(1, 1, 1), strides=(1, 2, 2))
SHAPE = (3, 32, 32)
BATCH = 128


def throughput(device: torch.device, images: int, seed: int = 0) -> float:
    """Images per second of one training epoch over ``images`` random tensors on ``device``."""
    gen = torch.Generator().manual_seed(seed)
    data = Split(torch.randn(images, *SHAPE, generator=gen),
                 torch.randint(0, 10, (images,), generator=gen)).to(device)
    torch.manual_seed(seed)
    model = create_space("resnet").build(SPEC, SHAPE, 10).to(device)
    warm = Split(data.x[:2 * BATCH], data.y[:2 * BATCH])
    train(model, warm, epochs=1, lr=0.01, batch_size=BATCH, augment=crop_flip)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    train(model, data, epochs=1, lr=0.01, batch_size=BATCH, augment=crop_flip)  # syncs per epoch
    seconds = time.perf_counter() - start
    trained = (images // BATCH) * BATCH  # the last partial batch is dropped
    return trained / seconds


def main() -> None:
    """Print the candidate and its training throughput on CPU and, when present, CUDA."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu-images", type=int, default=10_000, help="images in the CPU epoch")
    p.add_argument("--cuda-images", type=int, default=50_000, help="images in the CUDA epoch")
    args = p.parse_args()
    model = create_space("resnet").build(SPEC, SHAPE, 10)
    params = sum(p.numel() for p in model.parameters())
    print(f"candidate: resnet {SPEC.widths} blocks {SPEC.blocks} strides {SPEC.strides}, "
          f"{params:,} params, {macs(model, SHAPE) / 1e6:.1f} M MACs per image; batch {BATCH}, "
          "crop+flip")
    runs = [("cpu", args.cpu_images, f"{torch.get_num_threads()} threads")]
    if torch.cuda.is_available():
        runs.append(("cuda", args.cuda_images, f"{torch.cuda.get_device_name()}, bf16 autocast, "
                     "channels-last"))
    for name, images, detail in runs:
        rate = throughput(torch.device(name), images)
        print(f"{name}: {rate:,.0f} images/s training ({images:,} images, {detail}); a "
              f"50,000-image CIFAR-10 epoch takes {50_000 / rate:.1f} s")


if __name__ == "__main__":
    main()
