"""The default study from Python: the same study as ``studies/digits_cnn.toml``.

    python studies/digits_cnn.py            # or: python -m search run studies/digits_cnn.toml
"""

from __future__ import annotations

from pathlib import Path

from search import create_or_load, load_config, run_study, write_outputs

CONFIG = Path(__file__).with_suffix(".toml")


def main() -> None:
    """Run the study to its target of finished trials and write the Pareto outputs."""
    cfg = load_config(CONFIG)
    study = create_or_load(cfg)
    run_study(study, cfg)
    for path in write_outputs(study, cfg.out_dir).values():
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
