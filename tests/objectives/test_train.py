import math

import pytest
import torch
from torch import nn

from objectives.metrics import accuracy
from objectives.train import NonFiniteLossError, make_scheduler, train
from spaces import CNNSpec, create_space
from spaces.spec import SCHEDULES


def test_training_learns_digits(digits) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = create_space("cnn").build(CNNSpec((8, 16)), digits.input_shape, 10)
    before = accuracy(model, digits.val)
    losses: list[float] = []
    train(model, digits.train, epochs=4, lr=0.01, on_epoch=lambda e, loss: losses.append(loss))
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert accuracy(model, digits.val) > max(0.8, before + 0.3)


def test_training_is_deterministic_under_a_seed(digits) -> None:  # type: ignore[no-untyped-def]
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = create_space("cnn").build(CNNSpec((4,)), digits.input_shape, 10)
        train(model, digits.train, epochs=1, lr=0.01, seed=3)
        outs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(outs[0], outs[1])


def test_nan_loss_raises(digits) -> None:  # type: ignore[no-untyped-def]
    model = create_space("cnn").build(CNNSpec((4,)), digits.input_shape, 10)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        train(model, digits.train, epochs=1, lr=0.01)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules(schedule: str) -> None:
    opt = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    sched = make_scheduler(opt, schedule, 0.1, total_steps=30)
    lrs = []
    for _ in range(30):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert all(math.isfinite(v) and v >= 0 for v in lrs)
    if schedule == "constant":
        assert lrs[-1] == pytest.approx(0.1)
    else:
        assert lrs[-1] < 0.1 * 0.5


def test_unknown_schedule() -> None:
    opt = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_scheduler(opt, "warp", 0.1, 10)
