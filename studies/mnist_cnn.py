"""A study from Python: the same study as ``studies/mnist_cnn.toml``. It reads
MNIST's four IDX files in data/MNIST/raw/ (relative to the folder you launch from);
see the TOML file.

    python studies/mnist_cnn.py      # or: python -m search run studies/mnist_cnn.toml
"""

from __future__ import annotations

from pathlib import Path

from search import FrontierError, create_or_load, load_config, run_study, write_outputs

CONFIG = Path(__file__).with_suffix(".toml")


def main() -> None:
    """Run the study to its target of finished trials and write the Pareto outputs."""
    try:
        cfg = load_config(CONFIG)
    except FrontierError as err:  # e.g. the dataset files are not there yet: say where
        raise SystemExit(f"frontier: error: {err}") from None
    study = create_or_load(cfg)
    run_study(study, cfg)
    for path in write_outputs(study, cfg.out_dir).values():
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
