"""A study built in Python with keyword arguments: the study of ``studies/mnist_cnn.toml``,
whose text it prints first (``study.config.to_toml()``). It reads MNIST's four IDX files in
data/MNIST/raw/, relative to the folder you launch from (see the TOML file).

    python studies/mnist_cnn.py
"""

from __future__ import annotations

from search import Budget, CNNSpace, DataConfig, FrontierError, SamplerConfig, Study


def make_study() -> Study:
    """The study: nothing is read or written until it is used."""
    return Study(
        "mnist_cnn",
        n_trials=40,
        device="auto",  # CUDA (bf16 autocast, channels-last) when present, else CPU
        output_dir="runs/mnist_cnn",
        space=CNNSpace(min_depth=1, max_depth=3, widths=[4, 8, 16, 32], kernels=[3, 5],
                       prune_ratio={"low": 0.0, "high": 0.95}, bits=[2, 4, 8, 32], lr=0.003),
        data=DataConfig("mnist", data_dir="data", val_fraction=0.1, test_fraction=0.1),
        budget=Budget(epochs=5, finetune_epochs=1, qat_epochs=1, batch_size=128),
        sampler=SamplerConfig(population_size=10),
    )


def main() -> None:
    """Print the study file, run the study to its target and print its Pareto front."""
    study = make_study()
    print(study.config.to_toml())
    try:
        study.optimize()
    except FrontierError as err:  # e.g. the MNIST files are not there yet: say where
        raise SystemExit(f"frontier: error: {err}") from None
    print(study.front().to_string(index=False))


if __name__ == "__main__":
    main()
