import math

from objectives.compress.prune import prunable_layers
from objectives.metrics import nonzero_params
from objectives.pipeline import Budget, evaluate, project_compressed
from spaces import CNNSpec, CompressSpec, create_space


def test_objective_on_a_tiny_budget(digits, tiny_budget) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.5, bits=4))
    measured, model = evaluate(space, spec, digits, tiny_budget, seed=0)
    assert measured.params == nonzero_params(model)
    assert abs(measured.pruned_fraction - 0.5) < 0.01
    assert 0.3 < measured.val_accuracy <= 1.0 and 0.3 < measured.test_accuracy <= 1.0
    assert measured.size_bytes < measured.params * 4
    assert measured.macs > 0 and measured.train_seconds > 0 and measured.latency_ms > 0
    for layer in prunable_layers(model).values():
        for channel in layer.weight.detach():
            assert channel.unique().numel() <= 2**4


def test_full_precision_unpruned_candidate(digits, tiny_budget) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    measured, model = evaluate(space, CNNSpec((4,)), digits, tiny_budget)
    total = sum(p.numel() for p in model.parameters())
    assert measured.params == nonzero_params(model) <= total
    assert measured.pruned_fraction == 0.0
    # the packed file: every weight at 4 bytes, plus the batch-norm running statistics and at
    # most 9 bytes of record header per state-dict entry (no zeros to index)
    stats = sum(v.numel() * 4 for k, v in model.state_dict().items() if "running" in k)
    entries = len(model.state_dict())
    assert measured.params * 4 + stats < measured.size_bytes
    assert measured.size_bytes <= measured.params * 4 + stats + 9 * entries


def test_same_seed_same_result(digits) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    spec = CNNSpec((4, 8), compress=CompressSpec(0.3, 3))
    budget = Budget(epochs=1, finetune_epochs=1, qat_epochs=1, latency_reps=0)
    a, _ = evaluate(space, spec, digits, budget, seed=5)
    b, _ = evaluate(space, spec, digits, budget, seed=5)
    assert (a.val_accuracy, a.params, a.size_bytes) == (b.val_accuracy, b.params, b.size_bytes)
    assert math.isnan(a.latency_ms)


def test_projection_at_a_training_checkpoint_matches_the_compressed_model(digits) -> None:  # type: ignore[no-untyped-def]
    # Early stopping projects the candidate from inside train(), where the model is in
    # channels-last memory; pruning a copy of it must work and give the final figures.
    space = create_space("cnn")
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.5, bits=4))
    budget = Budget(epochs=2, finetune_epochs=0, qat_epochs=0, latency_reps=0)
    seen: list[dict[str, float]] = []

    def at_epoch(phase: str, _epoch: int, model) -> None:  # type: ignore[no-untyped-def]
        if phase == "train":
            seen.append(project_compressed(model, spec, digits.input_shape, pruned=False))

    measured, _ = evaluate(space, spec, digits, budget, seed=0, on_epoch=at_epoch)
    assert len(seen) == 2
    assert seen[-1] == {"params": measured.params, "size_bytes": measured.size_bytes}


def _evaluate_phases(digits, spec, budget):  # type: ignore[no-untyped-def]
    """Run ``evaluate`` and return (measured, {phase: epochs seen}) from its callback."""
    seen: dict[str, list[int]] = {}
    measured, _ = evaluate(create_space("cnn"), spec, digits, budget, seed=0,
                           on_epoch=lambda phase, epoch, _m: seen.setdefault(phase, [])
                           .append(epoch))
    return measured, seen


def test_fine_tuning_is_skipped_where_compression_is_within_the_tolerance(digits) -> None:  # type: ignore[no-untyped-def]
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.3, bits=8))
    budget = Budget(epochs=2, finetune_epochs=2, qat_epochs=3, latency_reps=0,
                    finetune_tolerance=1.0)  # any drop is within it
    measured, seen = _evaluate_phases(digits, spec, budget)
    assert seen == {"train": [1, 2], "prune": [0], "qat": [0]}  # epoch 0: the phase skipped
    assert measured.epochs_run == 2
    assert abs(measured.pruned_fraction - 0.3) < 0.01  # still pruned

    always = Budget(epochs=2, finetune_epochs=2, qat_epochs=3, latency_reps=0,
                    skip_finetune=False, finetune_tolerance=1.0)
    measured, seen = _evaluate_phases(digits, spec, always)
    assert seen == {"train": [1, 2], "prune": [1, 2], "qat": [1, 2, 3]}
    assert measured.epochs_run == 7


def test_fine_tuning_runs_where_compression_hurt(digits) -> None:  # type: ignore[no-untyped-def]
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.9, bits=2))
    budget = Budget(epochs=3, finetune_epochs=2, qat_epochs=2, latency_reps=0,
                    finetune_tolerance=0.0)
    measured, seen = _evaluate_phases(digits, spec, budget)
    assert seen == {"train": [1, 2, 3], "prune": [1, 2], "qat": [1, 2]}
    assert measured.epochs_run == 7


def test_activation_quantization_always_gets_its_qat(digits) -> None:  # type: ignore[no-untyped-def]
    # activation ranges are observed only while training, so QAT cannot be skipped
    spec = CNNSpec((8,), compress=CompressSpec(prune_ratio=0.2, bits=8, act_bits=8))
    budget = Budget(epochs=2, finetune_epochs=2, qat_epochs=1, latency_reps=0,
                    finetune_tolerance=1.0)
    measured, seen = _evaluate_phases(digits, spec, budget)
    assert seen == {"train": [1, 2], "prune": [0], "qat": [1]}
    assert measured.epochs_run == 3


def test_progress_counts_only_the_epochs_that_run(digits) -> None:  # type: ignore[no-untyped-def]
    import optuna

    from search.config import SpaceConfig, StudyConfig
    from search.objective import Objective

    cfg = StudyConfig(name="skip", budget=Budget(epochs=2, finetune_epochs=2, qat_epochs=2,
                                                 latency_reps=0, finetune_tolerance=1.0),
                      space=SpaceConfig("cnn", {"max_depth": 1, "widths": [8],
                                                "prune_ratio": 0.3, "bits": [8]}))
    calls: list[tuple[str, int, int, int]] = []
    objective = Objective(cfg, create_space("cnn", cfg.space.options), digits,
                          progress=lambda _n, phase, epoch, done, total:
                          calls.append((phase, epoch, done, total)))
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.optimize(objective, n_trials=1)
    # the total drops by each skipped phase's epochs (epoch 0), so the bar ends full
    assert calls == [("train", 1, 1, 6), ("train", 2, 2, 6), ("prune", 0, 2, 4),
                     ("qat", 0, 2, 2)]
    assert study.trials[0].user_attrs["metrics"]["epochs_run"] == 2
