"""``[dataset]`` of a study as :class:`DataConfig`: which data, how it is split, held in memory
and scored. Plain data: checking it is ``objectives.data.loading.check_dataset``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DataConfig"]


@dataclass(frozen=True)
class DataConfig:
    """``[dataset]`` of a study: which data, how it is split, held in memory and scored.

    - ``name``: a registered dataset (digits, mnist, fashion_mnist, cifar10, imagefolder,
      mnist1d, or one of :func:`register_dataset`); not used when ``source`` is given.
    - ``source``: the import string of a user's ``load()`` function, which takes no arguments:
      ``"my_data:load"`` (a module) or ``"path/to/my_data.py:load"`` (a file). It returns
      ``(x, y)`` arrays or tensors, a map-style ``torch.utils.data.Dataset`` of
      ``(input, target)`` items, or a ``(train, val, test)`` tuple of such datasets (see
      ``objectives.data.sources``). User data is never standardised by Frontier.
    - ``data_dir``: the folder a built-in dataset reads its files from.
    - ``val_fraction``, ``test_fraction``, ``split_seed``: the seeded split; stratified by
      class when the targets are integer labels (a ``(train, val, test)`` source is used as
      it is). ``split_seed`` also seeds a generated dataset (mnist1d).
    - ``augment``: a training-batch augmentation (``objectives.data.augment.AUGMENTS``); None: the
      dataset's default.
    - ``image_size``: resize a built-in dataset's images to ``image_size`` squared.
    - ``num_classes``: the model's output width; None: inferred (integer labels: the largest
      label + 1, at least the length of a dataset's ``classes`` attribute; float targets:
      their width, 1 for one number per example).
    - ``in_memory``: true: hold the splits as tensors; false: stream them through a
      ``DataLoader``; None (default): tensors when they fit in ``memory_share`` of the
      machine's RAM (a Dataset: its first item's size × its length) and, when the study's
      device is CUDA, of the free GPU memory. Arrays (built-in datasets, ``(x, y)`` sources)
      are in RAM already: only the GPU's memory counts for them.
    - ``memory_share``: that share, in (0, 1] (default 0.5).
    - ``loader_workers``: worker processes that read a streamed dataset (default 2; 0: the
      main process). Streamed and in-memory data give the same batches and metrics.
    - ``loss``: the training loss: ``"cross_entropy"``, ``"mse"``, ``"l1"``, or the import
      string of ``loss(outputs, targets) -> scalar tensor``.
    - ``metric``: what the study maximises on the validation split and reports on the test
      split: ``"accuracy"``, ``"neg_mse"``, ``"neg_rmse"``, ``"neg_mae"``, or the import string
      of ``metric(outputs, targets) -> float`` (higher is better), computed on a whole split's
      outputs at once. Outputs label it ``val_<name>`` / ``test_<name>`` when it is not
      accuracy; inside a study it is still stored as ``val_accuracy`` / ``test_accuracy``.
    """

    name: str = "digits"
    data_dir: str | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    augment: str | None = None  # None: the dataset's default (see register_dataset)
    image_size: int | None = None  # resize to image_size × image_size; None: native size
    #                                (imagefolder, whose images differ in size: 32)
    source: str | None = None
    num_classes: int | None = None
    in_memory: bool | None = None
    memory_share: float = 0.5
    loader_workers: int = 2
    loss: str = "cross_entropy"
    metric: str = "accuracy"

    @property
    def label(self) -> str:
        """What the data are called: the source's import string, or the built-in name."""
        return self.source if self.source is not None else self.name
