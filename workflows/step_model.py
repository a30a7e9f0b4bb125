"""Types shared by the step registry, the value cleaner and the limit rules.

Kept apart from `steps.py` so the rules module can use them without a circular
import; `workflows.steps` re-exports every public name here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from workflows.fields import Figure, Flow, Quantity, Where, quantity_for
from workflows.identity import ContainerKind
from workflows.materials import EquipmentType, Material
from workflows.protocol import Action

FieldKind = Literal["number", "integer", "text", "datetime", "bool", "choice"]
ARMS: tuple[str, ...] = ("CD133", "BM-MNC")


@dataclass(frozen=True)
class Field:
    """One value a step form asks for.

    `min`/`max` are the physically possible range (a viability of 120 % is a typo,
    not an out-of-spec product); protocol limits live in ProtocolParameters.
    `reagent` marks a lot number whose expiry the service must check against the
    reagent master data; `equipment` marks an equipment id whose calibration the
    service must check.

    What the value is (workflows.fields): `quantity` (derived from the kind and unit
    when not given), `where` (the container it was taken in from or put out into),
    `material` (the material a lot field takes; sets `reagent`) and `equipment_type`
    (the instrument an equipment field takes; sets `equipment`).
    """

    name: str
    label: str
    kind: FieldKind
    unit: str | None = None
    required: bool = True
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    reagent: bool = False
    equipment: bool = False
    quantity: Quantity | None = None
    where: Where | None = None
    material: Material | None = None
    equipment_type: EquipmentType | None = None
    # `min` itself is impossible too (a volume or count that cannot be zero): value > min.
    above_min: bool = False
    # Text matched character by character elsewhere (a lot number, an equipment ID, a
    # sample ID): printable ASCII only (workflows.typed_text); other text keeps any script.
    identifier: bool = False

    def __post_init__(self) -> None:
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"field {self.name}: choices go with kind 'choice' and only there")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"field {self.name}: min {self.min} is above max {self.max}")
        if self.reagent and self.material is None:
            raise ValueError(f"lot field {self.name} must say which material it takes")
        if self.identifier and self.kind != "text":
            raise ValueError(f"field {self.name}: only a text field is an identifier")
        if self.equipment and self.equipment_type is None:
            raise ValueError(f"equipment field {self.name} must say which instrument it takes")
        object.__setattr__(self, "reagent", self.material is not None)
        object.__setattr__(self, "equipment", self.equipment_type is not None)
        if self.quantity is None:
            quantity = (Quantity.MATERIAL_LOT if self.reagent else Quantity.EQUIPMENT
                        if self.equipment else quantity_for(self.kind, self.unit))
            object.__setattr__(self, "quantity", quantity)

    @property
    def what(self) -> Quantity:
        """The quantity (set in __post_init__ when not given)."""
        assert self.quantity is not None
        return self.quantity


@dataclass(frozen=True)
class StepSpec:
    """What one process step captures (`fields`) and derives (`computed`)."""

    name: str
    label: str
    fields: tuple[Field, ...]
    computed: tuple[str, ...]
    # What each computed figure is; every name in `computed` has one (checked below).
    figures: tuple[Figure, ...] = ()

    def __post_init__(self) -> None:
        described = tuple(f.name for f in self.figures)
        if described != self.computed:
            raise ValueError(f"step {self.name}: computed {self.computed} but figures describe "
                             f"{described}")

    def field(self, name: str) -> Field:
        """The field called `name`; KeyError if this step has none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def figure(self, name: str) -> Figure:
        """The computed figure called `name`; KeyError if this step computes none."""
        for candidate in self.figures:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def measures(self, flow: Flow, container: ContainerKind,
                 quantity: Quantity) -> tuple[Field | Figure, ...]:
        """Fields and computed figures of `quantity` that `flow` the `container`."""
        wanted = Where(flow, container)
        items: tuple[Field | Figure, ...] = (*self.fields, *self.figures)
        return tuple(item for item in items if item.where == wanted and item.what is quantity)

    @property
    def reagent_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.reagent)

    @property
    def equipment_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.equipment)


@dataclass(frozen=True)
class Finding:
    """A protocol limit crossed by a step's data; `action` says what the LIMS does."""

    field: str
    code: str
    message: str
    action: Action
    value: float | None = None
    limit: float | None = None


@dataclass(frozen=True)
class StepOutcome:
    """Cleaned values, computed figures and findings of one step submission."""

    values: Mapping[str, object]
    computed: Mapping[str, float]
    findings: tuple[Finding, ...]
    carried: tuple[str, ...] = ()  # inputs left empty and taken from the earlier step

    @property
    def refused(self) -> bool:
        """True when any finding refuses the submission; nothing may be saved."""
        return any(f.action == "refuse" for f in self.findings)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.action == "warn")

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.action == "refuse")


@dataclass(frozen=True)
class Holding:
    """What a container holds: what the step that filled it put out, less what its other
    children took since (samples, a container added later); None where nothing was counted."""

    container: ContainerKind
    step: str  # the step that filled it
    cells: float | None = None
    volume_ml: float | None = None
    cells_from: str = ""  # the figure the cells come from, e.g. "Cells in target fraction"
    volume_from: str = ""


@dataclass(frozen=True)
class StepContext:
    """What a step needs to know about the product beyond its own form.

    `previous` holds the computed values of earlier steps by step name, e.g.
    `previous["sediment"]["tnc_out"]`; a step that was skipped is simply absent.
    `holdings` says what each container filled so far holds (workflows.balance).
    """

    arm: str
    weight_kg: float
    harvest_end: datetime | None = None
    previous: Mapping[str, Mapping[str, float]] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    holdings: Mapping[ContainerKind, Holding] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        if self.arm not in ARMS:
            raise ValueError(f"unknown arm {self.arm!r}; expected one of {ARMS}")
        if isinstance(self.weight_kg, bool) or not self.weight_kg > 0:
            raise ValueError(f"body weight must be above zero kg, got {self.weight_kg!r}")
        if self.harvest_end is not None and self.harvest_end.utcoffset() is None:
            raise ValueError("harvest end must be timezone-aware")


class StepDataError(ValueError):
    """The submitted data cannot describe a real event; nothing may be saved.

    `errors` maps each offending field to a message for the form.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: Mapping[str, str] = MappingProxyType(dict(errors))
        summary = "; ".join(f"{name}: {message}" for name, message in self.errors.items())
        super().__init__(summary or "invalid step data")
