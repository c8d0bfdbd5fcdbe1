"""Write ``studies/resnet18_digits.pt``, the base of ``studies/resnet18_digits.toml``.

Nothing is downloaded: a torchvision resnet18 with an ImageNet-shaped 1000-class head is
trained for a few epochs on the training split of the digits at 3×32×32 as the study splits
them (``studies/digits32.py``, the default seeded split: the study's validation and test
images are never seen; the labels 0-9 use 10 of its 1000 outputs) and its state dict saved.
The study then has a base whose head does not fit its 10 classes, as with real ImageNet
weights, and transfers it. (Your own
torchvision checkpoint, or ``resnet18(weights="DEFAULT")`` saved on a machine with internet,
works the same.)

    python studies/resnet18_digits_prepare.py [--epochs 3] [--out studies/resnet18_digits.pt]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from resnet18_digits import IMAGENET_CLASSES, build_base  # noqa: E402

from objectives.data import DataConfig, load_dataset  # noqa: E402
from objectives.metrics import accuracy  # noqa: E402
from objectives.train import train  # noqa: E402


def main() -> None:
    """Train and save the 1000-class base."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "resnet18_digits.pt"))
    args = parser.parse_args()
    data = load_dataset(DataConfig(source=f"{HERE / 'digits32.py'}:load"))
    torch.manual_seed(0)
    model = build_base(data.input_shape, IMAGENET_CLASSES)
    start = time.perf_counter()
    train(model, data.train, epochs=args.epochs, lr=1e-3, batch_size=64, seed=0)
    torch.save(model.eval().state_dict(), args.out)
    print(f"{args.out}: resnet18 with a {IMAGENET_CLASSES}-class head, {args.epochs} epochs "
          f"in {time.perf_counter() - start:.0f} s, val accuracy {accuracy(model, data.val):.3f}")


if __name__ == "__main__":
    main()
