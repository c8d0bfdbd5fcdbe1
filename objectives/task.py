"""What a study trains for and selects by: the loss and the metric (``[dataset] loss`` and
``metric``), each a built-in name or the import string of a user's function.

- A loss is ``loss(outputs, targets) -> scalar tensor`` on one batch (differentiable).
- A metric is ``metric(outputs, targets) -> float`` on a whole split's outputs at once; higher
  is better (negate an error: ``neg_rmse``). The study maximises it on the validation split.

Add a built-in name of your own with :func:`register_loss` / :func:`register_metric`.

A metric's *name* labels outputs (``val_<name>``): a built-in's name, or the last part of its
import string (a function's ``__name__`` as written), so tables and plots need no user code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from spaces.registry import Registry

__all__ = ["LOSSES", "METRICS", "Loss", "Metric", "check_task", "list_losses", "list_metrics",
           "loss_fn", "metric_fn", "metric_name", "register_loss", "register_metric"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Metric = Callable[[torch.Tensor, torch.Tensor], float]

_REF_HINT = "or give the import string of your function, e.g. \"my_{0}s:{0}\""
#: Losses by the name a config gives (``[dataset] loss = "mse"``).
LOSSES: Registry[Loss] = Registry("loss", "dataset.loss", _REF_HINT.format("loss"))
#: Metrics by the name a config gives (``[dataset] metric = "neg_rmse"``).
METRICS: Registry[Metric] = Registry("metric", "dataset.metric", _REF_HINT.format("metric"))
#: ``@register_loss("mine")`` above ``def mine(outputs, targets) -> scalar tensor``.
register_loss = LOSSES.register
#: ``@register_metric("mine")`` above ``def mine(outputs, targets) -> float`` (higher is better).
register_metric = METRICS.register
#: The registered loss names, sorted.
list_losses = LOSSES.names
#: The registered metric names, sorted.
list_metrics = METRICS.names
register_loss("cross_entropy")(F.cross_entropy)


def _like(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Targets shaped as the outputs when they hold as many numbers (N against N×1)."""
    if targets.shape != outputs.shape and targets.numel() == outputs.numel():
        return targets.reshape(outputs.shape)
    return targets


@register_loss("mse")
def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return F.mse_loss(outputs, _like(outputs, targets).to(outputs.dtype))


@register_loss("l1")
def l1(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return F.l1_loss(outputs, _like(outputs, targets).to(outputs.dtype))


@register_metric("accuracy")
def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of rows whose largest output is the target label."""
    return int((outputs.argmax(dim=1) == targets).sum()) / max(1, len(targets))


@register_metric("neg_mse")
def neg_mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Minus the mean squared error."""
    return -float(mse(outputs.float(), targets))


@register_metric("neg_rmse")
def neg_rmse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Minus the root mean squared error."""
    return -float(mse(outputs.float(), targets)) ** 0.5


@register_metric("neg_mae")
def neg_mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Minus the mean absolute error."""
    return -float(l1(outputs.float(), targets))


def _is_ref(value: str) -> bool:
    module, sep, attr = value.rpartition(":")
    return bool(sep and module and attr)


def check_task(loss: str, metric: str) -> None:
    """Raise ValueError naming ``dataset.loss`` / ``dataset.metric`` when one is neither a
    registered name nor an import string (nothing is imported)."""
    for value, known in ((loss, LOSSES), (metric, METRICS)):
        if not _is_ref(value):
            known.get(value)


def _user(ref: str, field: str) -> Callable[..., object]:
    from spaces.locate import locate

    fn = locate(ref, f"dataset.{field}")
    if not callable(fn):
        raise ValueError(f"dataset.{field}: {ref!r} is a {type(fn).__name__}, not a function; "
                         f"give a function {field}(outputs, targets)")
    return fn


def loss_fn(name: str) -> Loss:
    """The loss a config names: a registered one, or the user's function it imports."""
    check_task(name, "accuracy")
    return LOSSES[name] if name in LOSSES else _user(name, "loss")  # type: ignore[return-value]


def metric_fn(name: str) -> Metric:
    """The metric a config names (a float of it): a registered one, or the user's function
    it imports."""
    check_task("cross_entropy", name)
    fn = METRICS[name] if name in METRICS else _user(name, "metric")
    return lambda outputs, targets: float(fn(outputs, targets))  # type: ignore[arg-type]


def metric_name(metric: str) -> str:
    """The label of a metric in outputs: a built-in's name, or the function's name that ends
    its import string (``"pkg/m.py:scores.neg_rmse"`` -> ``"neg_rmse"``)."""
    if metric in METRICS or not _is_ref(metric):
        return metric
    return metric.rpartition(":")[2].rpartition(".")[2]
