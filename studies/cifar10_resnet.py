"""Look at a stored study: load ``cifar10_resnet`` from its storage (the config is stored with
it; no study file is read), print its Pareto front and export its most accurate front trial to
runs/cifar10_resnet/best/. Run the study first; it reads CIFAR-10's python batches in
data/cifar-10-batches-py/ (see studies/cifar10_resnet.toml):

    python -m search run studies/cifar10_resnet.toml
    python studies/cifar10_resnet.py [STORAGE]     # default sqlite:///runs/frontier.db
"""

from __future__ import annotations

import sys

from search import FrontierError, Study


def main(storage: str = "sqlite:///runs/frontier.db") -> None:
    """Print the front of the stored study and export its most accurate trial."""
    try:
        study = Study.load("cifar10_resnet", storage=storage)
        front = study.front()
        if front.empty:
            raise FrontierError(f"study {study.name!r} has no completed trial yet; run it first")
        best = int(front.sort_values("val_accuracy")["trial"].iloc[-1])
        done = study.export(best, study.config.out_dir / "best")
    except FrontierError as err:  # no such study, or its dataset files are not here
        raise SystemExit(f"frontier: error: {err}") from None
    print(front.drop(columns="spec").to_string(index=False))
    checked = "not re-checked (no data here)" if done.test_accuracy is None else \
        f"test accuracy {done.test_accuracy:.4f}"
    print(f"trial {done.trial}: model folder {done.out_dir}, {checked}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
