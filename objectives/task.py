"""What a study trains for and selects by: the loss and the metric (``[dataset] loss`` and
``metric``), each a built-in name or the import string of a user's function.

- A loss is ``loss(outputs, targets) -> scalar tensor`` on one batch (differentiable).
- A metric is ``metric(outputs, targets) -> float`` on a whole split's outputs at once; higher
  is better (negate an error: ``neg_rmse``). The study maximises it on the validation split.

A metric's *name* labels outputs (``val_<name>``): a built-in's name, or the last part of its
import string (a function's ``__name__`` as written), so tables and plots need no user code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "METRICS", "Loss", "Metric", "check_task", "loss_fn", "metric_fn",
           "metric_name"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Metric = Callable[[torch.Tensor, torch.Tensor], float]


def _like(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Targets shaped as the outputs when they hold as many numbers (N against N×1)."""
    if targets.shape != outputs.shape and targets.numel() == outputs.numel():
        return targets.reshape(outputs.shape)
    return targets


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return F.mse_loss(outputs, _like(outputs, targets).to(outputs.dtype))


def l1(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return F.l1_loss(outputs, _like(outputs, targets).to(outputs.dtype))


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of rows whose largest output is the target label."""
    return int((outputs.argmax(dim=1) == targets).sum()) / max(1, len(targets))


def neg_mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Minus the mean squared error."""
    return -float(mse(outputs.float(), targets))


def neg_rmse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Minus the root mean squared error."""
    return -float(mse(outputs.float(), targets)) ** 0.5


def neg_mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Minus the mean absolute error."""
    return -float(l1(outputs.float(), targets))


#: Built-in losses by the name a config gives.
LOSSES: dict[str, Loss] = {"cross_entropy": F.cross_entropy, "mse": mse, "l1": l1}
#: Built-in metrics by the name a config gives.
METRICS: dict[str, Metric] = {"accuracy": accuracy, "neg_mse": neg_mse, "neg_rmse": neg_rmse,
                              "neg_mae": neg_mae}


def _is_ref(value: str) -> bool:
    module, sep, attr = value.rpartition(":")
    return bool(sep and module and attr)


def check_task(loss: str, metric: str) -> None:
    """Raise ValueError naming ``dataset.loss`` / ``dataset.metric`` when one is neither a
    built-in name nor an import string (nothing is imported)."""
    for field, value, known in (("loss", loss, LOSSES), ("metric", metric, METRICS)):
        if value not in known and not _is_ref(value):
            raise ValueError(f"dataset.{field}: unknown {field} {value!r}; choose one of "
                             f"{sorted(known)}, or give the import string of your function, "
                             f"e.g. \"my_{field}s:{field}\"")


def _user(ref: str, field: str) -> Callable[..., object]:
    from spaces.locate import locate

    fn = locate(ref, f"dataset.{field}")
    if not callable(fn):
        raise ValueError(f"dataset.{field}: {ref!r} is a {type(fn).__name__}, not a function; "
                         f"give a function {field}(outputs, targets)")
    return fn


def loss_fn(name: str) -> Loss:
    """The loss a config names: a built-in, or the user's function it imports."""
    check_task(name, "accuracy")
    return LOSSES[name] if name in LOSSES else _user(name, "loss")  # type: ignore[return-value]


def metric_fn(name: str) -> Metric:
    """The metric a config names: a built-in, or the user's function it imports."""
    check_task("cross_entropy", name)
    if name in METRICS:
        return METRICS[name]
    fn = _user(name, "metric")
    return lambda outputs, targets: float(fn(outputs, targets))  # type: ignore[arg-type]


def metric_name(metric: str) -> str:
    """The label of a metric in outputs: a built-in's name, or the function's name that ends
    its import string (``"pkg/m.py:scores.neg_rmse"`` -> ``"neg_rmse"``)."""
    if metric in METRICS or not _is_ref(metric):
        return metric
    return metric.rpartition(":")[2].rpartition(".")[2]
