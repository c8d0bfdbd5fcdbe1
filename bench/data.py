"""Epoch time of the same images held in memory and streamed (``[dataset] in_memory``).

    .venv/bin/python bench/data.py                  # 10,000 images, about a minute on 2 cores
    .venv/bin/python bench/data.py --images 2000 --workers 0 2 4

One epoch of the real training loop (``objectives.train.train``: AdamW, cosine schedule, batch
128) of one CNN candidate over 10,000 random 3×32×32 images of 10 classes, read five ways:

- in memory: a ``Split`` of tensors, batches gathered by index (what built-in datasets and
  user data that fit in ``memory_share`` of the RAM get);
- streamed tensors: the same tensors as a map-style Dataset, read item by item through a
  ``DataLoader`` (``StreamSplit``) with 0 and with N loader workers;
- streamed image folder: the same images as PNG files on disk, read by
  ``torchvision.datasets.ImageFolder`` + ``ToTensor`` (decoded on every epoch, as a dataset
  larger than RAM is), with 0 and with N workers.

The images are whole multiples of 1/255, so the PNG files decode to exactly the tensors: all
runs see the same data in the same batches (one seed), and the bench checks that they end with
the same weights. The clock starts after a one-batch warm-up run of each reader; a streamed
epoch includes starting its loader workers (a new ``DataLoader`` per epoch). On a 2-core
machine the workers compete with the two training threads, so they pay off only where cores
are spare and decoding is the bottleneck.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from objectives.data import DataSplit, Split, stream_tensors
from objectives.data.stream import StreamSplit
from objectives.train import train
from spaces import CNNSpec, create_space

SPEC = CNNSpec((16, 32))
SHAPE = (3, 32, 32)
BATCH = 128
CLASSES = 10


def image_folder(root: Path, images: int, seed: int = 0) -> tuple[Split, object]:
    """Write ``images`` random PNGs under ``root/<class>/``; return them as tensors (in the
    folder's order) and as a torchvision ImageFolder."""
    from torchvision import datasets, transforms

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, images)
    for c in range(CLASSES):
        (root / f"c{c}").mkdir(parents=True)
    for i, (p, c) in enumerate(zip(pixels, labels, strict=True)):
        Image.fromarray(p).save(root / f"c{c}" / f"{i:06d}.png", compress_level=1)
    folder = datasets.ImageFolder(str(root), transform=transforms.ToTensor())
    order = [int(Path(path).stem) for path, _ in folder.samples]
    x = torch.from_numpy(pixels[order]).permute(0, 3, 1, 2).float().div(255).contiguous()
    return Split(x, torch.from_numpy(labels[order]).long()), folder


def epoch(split: DataSplit) -> tuple[float, torch.Tensor]:
    """Seconds of one training epoch over ``split`` (after a one-batch warm-up), and the
    trained weights."""
    warm = create_space("cnn").build(SPEC, SHAPE, CLASSES)
    train(warm, _head(split), epochs=1, lr=0.01, batch_size=BATCH)
    torch.manual_seed(0)
    model = create_space("cnn").build(SPEC, SHAPE, CLASSES)
    start = time.perf_counter()
    train(model, split, epochs=1, lr=0.01, batch_size=BATCH, seed=0)
    seconds = time.perf_counter() - start
    return seconds, torch.cat([p.detach().flatten() for p in model.parameters()])


def _head(split: DataSplit) -> DataSplit:
    """The first batch of ``split``, of the same kind."""
    if isinstance(split, Split):
        return Split(split.x[:BATCH], split.y[:BATCH])
    return StreamSplit(split.dataset, split.indices[:BATCH], split.input_shape, split.workers)


def main() -> None:
    """Print the epoch time and images/s of each way of reading the same images."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=10_000, help="images in the epoch")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                   help="loader worker counts of the streamed runs")
    args = p.parse_args()
    print(f"candidate: cnn {SPEC.widths}, batch {BATCH}, {args.images:,} images of "
          f"{'×'.join(map(str, SHAPE))}, {torch.get_num_threads()} torch threads")
    with tempfile.TemporaryDirectory(prefix="frontier-bench-") as tmp:
        start = time.perf_counter()
        tensors, folder = image_folder(Path(tmp), args.images)
        print(f"wrote {args.images:,} PNG files in {time.perf_counter() - start:.1f} s")
        runs: list[tuple[str, DataSplit]] = [("in memory (tensors)", tensors)]
        for w in args.workers:
            runs.append((f"streamed tensors, {w} workers", stream_tensors(tensors, w)))
        for w in args.workers:
            runs.append((f"streamed PNG folder, {w} workers",
                         StreamSplit(folder, np.arange(args.images), SHAPE, w)))
        reference = None
        for name, split in runs:
            seconds, weights = epoch(split)
            same = "" if reference is None else (
                ", same weights" if torch.equal(weights, reference) else ", DIFFERENT weights")
            reference = weights if reference is None else reference
            trained = (args.images // BATCH) * BATCH
            print(f"{name:32s} epoch {seconds:6.2f} s  {trained / seconds:8,.0f} images/s{same}")


if __name__ == "__main__":
    main()
