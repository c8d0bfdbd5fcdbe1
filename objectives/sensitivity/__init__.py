"""Sensitivity analysis of a trained model and the budgeted allocations it suggests.

``units_of`` lists the units (channel groups, layers' weight bits, removable modules) and the
values each is tried at; ``sensitivity`` scores the base model with one unit compressed at a
time (no fine-tuning) and costs each change; ``allocate`` picks one value per unit for each
budget under an additive model (``scipy.optimize.milp``). See ``docs/sensitivity.md``.
"""

from objectives.sensitivity.allocate import OBJECTIVES, allocate, typed_value
from objectives.sensitivity.table import COLUMNS, compressed, sensitivity
from objectives.sensitivity.units import (
    IDENTITY,
    KINDS,
    Unit,
    prune_ratio,
    units_of,
    width_units,
)

__all__ = [
    "COLUMNS",
    "IDENTITY",
    "KINDS",
    "OBJECTIVES",
    "Unit",
    "allocate",
    "compressed",
    "prune_ratio",
    "sensitivity",
    "typed_value",
    "units_of",
    "width_units",
]
