"""What each value of a step is: the core of the one field registry.

Every typed field (`workflows.step_model.Field`) and every computed figure
(`Figure`) of the step registry (`workflows.steps.STEPS`) says its quantity
(cells, volume, concentration, time, material lot, ...), its unit, and, where it
measures a container, which container and in which direction: taken in from the
container the step handles (`Flow.IN`) or put out into the container it fills
(`Flow.OUT`). The cell and volume balance between containers (workflows.balance)
and the carrying forward of inputs read this; so do the material checks (a lot
field's material, an equipment field's type). Names, units and number formats
for every screen and printout are meant to come from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from workflows.identity import KIND_LABELS, ContainerKind


class Quantity(StrEnum):
    """What a value measures or names."""

    CELLS = "cells"  # total nucleated cells in a container (what the balance follows)
    CELL_SUBSET = "cell subset"  # cells of one kind among them: CD34+, CD133+, viable
    RED_CELLS = "red cells"
    CONCENTRATION = "cell concentration"
    VOLUME = "volume"
    PERCENT = "percent"
    RECOVERY = "recovery"  # out / in of one cell population, in %
    # out of one population / in of a wider one it is part of (MNC out / nucleated cells
    # in), in %: not a recovery, but above 100 % it is as impossible as one
    YIELD = "yield"
    MOMENT = "time"  # a point in time, with its zone
    DURATION = "duration"
    TEMPERATURE = "temperature"
    WEIGHT = "weight"
    DENSITY = "density"
    FORCE = "centrifugal force"
    FACTOR = "factor"
    COUNT = "count"
    DOSE = "dose per body weight"
    ENDOTOXIN = "endotoxin"
    MATERIAL_LOT = "material lot"
    EQUIPMENT = "equipment"
    TEXT = "text"
    PERSON = "person"  # a user name: people read the person's printed full name
    CHOICE = "choice"
    YES_NO = "yes/no"


# The quantity a number in each unit measures, when the field does not say otherwise.
QUANTITY_OF_UNIT: Mapping[str, Quantity] = MappingProxyType({
    "cells": Quantity.CELLS,
    "cells/µL": Quantity.CONCENTRATION,
    "cells/ml": Quantity.CONCENTRATION,
    "ml": Quantity.VOLUME,
    "%": Quantity.PERCENT,
    "min": Quantity.DURATION,
    "h": Quantity.DURATION,
    "°C": Quantity.TEMPERATURE,
    "g": Quantity.WEIGHT,
    "kg": Quantity.WEIGHT,
    "g/ml": Quantity.DENSITY,
    "×g": Quantity.FORCE,
    "×": Quantity.FACTOR,
    "log": Quantity.FACTOR,
    "cells/kg": Quantity.DOSE,
    "EU/ml": Quantity.ENDOTOXIN,
})

_QUANTITY_OF_KIND: Mapping[str, Quantity] = MappingProxyType({
    "integer": Quantity.COUNT,
    "text": Quantity.TEXT,
    "datetime": Quantity.MOMENT,
    "bool": Quantity.YES_NO,
    "choice": Quantity.CHOICE,
})


def quantity_for(kind: str, unit: str | None) -> Quantity:
    """The quantity of a value of form kind `kind` in `unit` (a number without a unit: factor)."""
    if kind == "number":
        return QUANTITY_OF_UNIT.get(unit or "", Quantity.FACTOR)
    return _QUANTITY_OF_KIND[kind]


class Flow(StrEnum):
    IN = "in"  # taken in from the container the step handles
    OUT = "out"  # put out into a container the step fills


@dataclass(frozen=True)
class Where:
    """The container a value measures, and whether the step took it in or put it out."""

    flow: Flow
    container: ContainerKind

    def describe(self) -> str:
        what = KIND_LABELS[self.container]
        return f"taken in from the {what}" if self.flow is Flow.IN else f"put into the {what}"


def taken_from(container: ContainerKind) -> Where:
    return Where(Flow.IN, container)


def put_into(container: ContainerKind) -> Where:
    return Where(Flow.OUT, container)


@dataclass(frozen=True)
class Figure:
    """A figure a step computes from its fields: its name, label, quantity, unit, container."""

    name: str
    label: str
    unit: str
    quantity: Quantity | None = None
    where: Where | None = None

    def __post_init__(self) -> None:
        if self.quantity is None:
            object.__setattr__(self, "quantity", quantity_for("number", self.unit))

    @property
    def what(self) -> Quantity:
        assert self.quantity is not None  # set in __post_init__
        return self.quantity
