"""One-shot mode (objectives.oneshot): the supernet's sub-networks are the space's candidates
(same modules, same parameter counts, same outputs), the sandwich training makes them accurate
after BN recalibration, and an inherited candidate is measured by evaluate() without training."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
import torch
from torch import nn

from objectives import metrics
from objectives.data import TensorData, stream_tensors
from objectives.oneshot import SuperCNN, recalibrate_bn, train_supernet
from objectives.pipeline import Budget, evaluate
from spaces.cnn import CNNSpace, CNNSpec
from spaces.domain import Choice
from spaces.spec import CompressSpec, TrainSpec

SPACE_2D = CNNSpace(max_depth=3, widths=[8, 16, 32], kernels=[3, 5])
SPACE_1D = CNNSpace(max_depth=4, widths=[4, 8, 12], kernels=[3, 5, 7])
NO_TRAINING = Budget(epochs=0, finetune_epochs=0, qat_epochs=0, latency_reps=0)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def specs(net: SuperCNN, n: int, seed: int = 0) -> list[CNNSpec]:
    gen = torch.Generator().manual_seed(seed)
    return [net.largest(), net.smallest(), *(net.sample(gen) for _ in range(n))]


@pytest.fixture(scope="module")
def trained(digits: TensorData) -> SuperCNN:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = SuperCNN(SPACE_2D, digits.input_shape, digits.num_classes)
    losses = train_supernet(net, digits, epochs=8, seed=0)
    assert len(losses) == 8 and all(loss > 0 for loss in losses)
    return net


@pytest.mark.parametrize(("space", "shape"), [(SPACE_2D, (1, 8, 8)), (SPACE_2D, (3, 12, 10)),
                                              (SPACE_1D, (1, 40)), (SPACE_1D, (2, 7))])
def test_sub_networks_have_the_parameter_counts_of_stand_alone_candidates(
        space: CNNSpace, shape: tuple[int, ...]) -> None:
    net = SuperCNN(space, shape, 10)
    for spec in specs(net, 8):
        built = space.build(spec, shape, 10)
        extracted = net.extract(spec)
        assert n_params(extracted) == n_params(built)
        assert str(extracted) == str(built)  # the same modules, not just the same count
        assert {k: v.shape for k, v in extracted.state_dict().items()} == \
               {k: v.shape for k, v in built.state_dict().items()}
    assert n_params(net.extract(net.largest())) == n_params(net.net)


@pytest.mark.parametrize(("space", "shape"), [(SPACE_2D, (1, 8, 8)), (SPACE_1D, (1, 40))])
def test_extracted_model_computes_the_supernet_forward(space: CNNSpace,
                                                       shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = SuperCNN(space, shape, 10)
    x = torch.randn(16, *shape)
    for spec in specs(net, 6, seed=1):
        model = net.extract(spec).train()
        torch.testing.assert_close(model(x), net(x, spec), atol=1e-5, rtol=1e-5)


def test_sample_draws_from_the_space() -> None:
    net = SuperCNN(SPACE_1D, (1, 40), 10)
    drawn = specs(net, 60)
    assert net.largest() == CNNSpec((12, 12, 12, 12), 7) and net.smallest() == CNNSpec((4,), 3)
    assert {s.depth for s in drawn} == {1, 2, 3, 4}
    assert {s.kernel for s in drawn} == {3, 5, 7}
    assert {w for s in drawn for w in s.widths} == {4, 8, 12}
    assert drawn == specs(net, 60)  # the generator decides


def test_trained_sub_networks_beat_chance_after_recalibration(trained: SuperCNN,
                                                              digits: TensorData) -> None:
    calibration = digits.train.x[:512]
    largest, random = trained.largest(), specs(trained, 3, seed=5)[2:]
    for spec, floor in [(largest, 0.8), *((s, 0.5) for s in random)]:
        model = trained.extract(spec)
        recalibrate_bn(model, calibration)
        assert model.training  # as it was: recalibration restores the mode
        assert metrics.accuracy(model, digits.val) > floor, spec  # chance is 0.1


@pytest.mark.parametrize("method", ["unstructured", "structured"])
def test_inherit_measures_a_compressed_candidate_without_training(
        trained: SuperCNN, digits: TensorData, method: str) -> None:
    calibration = digits.train.x[:512]
    spec = CNNSpec((16, 32), 5, compress=CompressSpec(prune_ratio=0.3, bits=6, method=method),
                   train=TrainSpec(lr=0.003))
    measured, _ = evaluate(SPACE_2D, spec, digits, NO_TRAINING, seed=0,
                           init=trained.inherit(spec, calibration))
    plain = trained.extract(spec)
    recalibrate_bn(plain, calibration)
    assert measured.epochs_run == 0
    assert measured.pruned_fraction > 0.2
    assert measured.params < n_params(plain)
    assert measured.val_accuracy > 0.3  # pruned and quantized, never fine-tuned
    # uncompressed, the measured candidate is the extracted one, statistics included
    full = replace(spec, compress=CompressSpec())
    measured, _ = evaluate(SPACE_2D, full, digits, NO_TRAINING, seed=0,
                           init=trained.inherit(full, calibration))
    assert measured.val_accuracy == metrics.accuracy(plain, digits.val)
    assert measured.params == n_params(plain)


def test_same_seed_trains_the_same_weights(digits: TensorData) -> None:
    space = CNNSpace(max_depth=2, widths=[4, 8], kernels=[1, 3])

    def run(seed: int) -> tuple[list[float], dict[str, torch.Tensor]]:
        torch.manual_seed(0)
        net = SuperCNN(space, digits.input_shape, digits.num_classes)
        losses = train_supernet(net, digits, epochs=2, seed=seed, random_subnets=1)
        return losses, net.state_dict()

    (losses, weights), (again, weights_again), (other, _) = run(3), run(3), run(4)
    assert losses == again and losses != other
    assert all(torch.equal(weights[k], weights_again[k]) for k in weights)


def test_recalibrate_bn_averages_the_batches_and_restores_the_model() -> None:
    model = nn.Sequential(nn.BatchNorm1d(3)).eval()
    inputs = torch.randn(512, 3) * 2 + 5
    recalibrate_bn(model, inputs, batch_size=128)
    norm = model[0]
    assert isinstance(norm, nn.BatchNorm1d)
    assert not model.training and norm.momentum == 0.1
    torch.testing.assert_close(norm.running_mean, inputs.mean(0))
    torch.testing.assert_close(norm.running_var, inputs.var(0), atol=0.05, rtol=0.05)


def test_inherit_refuses_a_model_of_another_space() -> None:
    net = SuperCNN(SPACE_2D, (1, 8, 8), 10)
    hook = net.inherit(net.smallest(), None)
    with pytest.raises(ValueError, match=r"0\.0\.0\.weight"):
        hook(SPACE_2D.build(CNNSpec((64,)), (1, 8, 8), 10))
    with pytest.raises(ValueError, match=r"spec\.kernel"):
        net.extract(CNNSpec((8,), kernel=7))


@pytest.mark.parametrize(("change", "field"), [
    ({"batch_norm": [True, False]}, "space.batch_norm"),
    ({"batch_norm": [False]}, "space.batch_norm"),
])
def test_refuses_a_space_it_cannot_share(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=re.escape(field)):
        SuperCNN(CNNSpace(**change), (1, 8, 8), 10)


def test_refuses_even_kernels_and_streamed_data(digits: TensorData) -> None:
    space = CNNSpace()
    space.kernels = Choice((3, 4))  # CNNSpace itself refuses them; a hand-made one may not
    with pytest.raises(ValueError, match=r"space\.kernels"):
        SuperCNN(space, (1, 8, 8), 10)
    net = SuperCNN(SPACE_2D, digits.input_shape, digits.num_classes)
    streamed = replace(digits, train=stream_tensors(digits.train, workers=0))
    with pytest.raises(ValueError, match="in memory"):
        train_supernet(net, streamed, epochs=1)
