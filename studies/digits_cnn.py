"""The default study from a script: ``studies/digits_cnn.toml`` through ``search.Study``.

    python studies/digits_cnn.py      # as: python -m search run studies/digits_cnn.toml

``optimize`` runs until the study holds the file's 60 finished trials, so a second run finds
them in runs/frontier.db and only prints the front again.
"""

from __future__ import annotations

from pathlib import Path

from search import Study

COLUMNS = ["trial", "val_accuracy", "test_accuracy", "params", "size_bytes"]


def main() -> None:
    """Run the study to its target, print its Pareto front and write the outputs."""
    study = Study.from_toml(Path(__file__).with_suffix(".toml"))
    study.optimize()
    print(study.front()[COLUMNS].to_string(index=False))
    for path in study.write_outputs().values():  # runs/digits_cnn/: pareto.csv, .json, .html
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
