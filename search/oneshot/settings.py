"""The ``[oneshot]`` section of a study config: the one-shot (weight-sharing) mode's settings.

With ``[study] mode = "one-shot"`` a supernet holding the space's largest candidate is trained
once (``epochs``, the sandwich rule with ``random_subnets`` random sub-networks per step);
``candidates`` sub-networks are then explored by the study's sampler, each estimated by slicing
its weights from the supernet, recalibrating its batch-norm statistics on ``calibration``
training inputs and compressing it as its Spec says, with no training; finally the study's
``n_trials`` trials fine-tune the best of them from their inherited weights
(``finetune_epochs`` of training instead of ``budget.epochs``, then prune → fine-tune → QAT as
usual).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MODES", "OneShot"]

#: ``[study] mode``: train every candidate, share one supernet's weights, or derive every
#: candidate from a trained base model (``[base]``, ``objectives.base``).
MODES = ("standard", "one-shot", "compress")


@dataclass(frozen=True)
class OneShot:
    """Settings of ``mode = "one-shot"`` (ignored in the standard mode)."""

    #: Supernet training epochs (each step trains the largest, the smallest and
    #: ``random_subnets`` random sub-networks).
    epochs: int = 40
    random_subnets: int = 2
    #: Supernet learning rate (AdamW, cosine schedule).
    lr: float = 0.01
    #: Sub-networks the sampler explores on the supernet (estimates, no training).
    candidates: int = 1000
    #: Population of the exploring sampler (a GA sampler; ignored by the others).
    population_size: int = 50
    #: Training inputs the batch-norm statistics of a sliced candidate are recalibrated on.
    calibration: int = 512
    #: Epochs a chosen candidate trains from its inherited weights before being compressed.
    finetune_epochs: int = 5

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) of every setting out of range."""
        checks = [("epochs", self.epochs >= 1, "must be >= 1"),
                  ("random_subnets", self.random_subnets >= 0, "must be >= 0"),
                  ("lr", self.lr > 0, "must be > 0"),
                  ("candidates", self.candidates >= 1, "must be >= 1"),
                  ("population_size", self.population_size >= 2, "must be >= 2"),
                  ("calibration", self.calibration >= 1, "must be >= 1"),
                  ("finetune_epochs", self.finetune_epochs >= 1, "must be >= 1")]
        return [(f"oneshot.{name}", f"{getattr(self, name)} {message}")
                for name, ok, message in checks if not ok]
