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

    def __post_init__(self) -> None:
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"field {self.name}: choices go with kind 'choice' and only there")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"field {self.name}: min {self.min} is above max {self.max}")


@dataclass(frozen=True)
class StepSpec:
    """What one process step captures (`fields`) and derives (`computed`)."""

    name: str
    label: str
    fields: tuple[Field, ...]
    computed: tuple[str, ...]

    def field(self, name: str) -> Field:
        """The field called `name`; KeyError if this step has none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

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
class StepContext:
    """What a step needs to know about the product beyond its own form.

    `previous` holds the computed values of earlier steps by step name, e.g.
    `previous["sediment"]["tnc_out"]`; a step that was skipped is simply absent.
    """

    arm: str
    weight_kg: float
    harvest_end: datetime | None = None
    previous: Mapping[str, Mapping[str, float]] = dataclasses.field(
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
