"""Request models of the process steps, generated from the step registry (workflows.steps).

Each step's form in `STEPS` becomes a typed, documented OpenAPI schema; the service still
cleans and checks the values (it is authoritative), so the two cannot disagree on what is
accepted, only on how early a malformed value is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, create_model

from lims.api.schemas import MAX_ID, In
from lims.services.witness import PHYSICIAN_SIGNED_STEPS
from workflows.balance import carried_input
from workflows.identity import WRISTBAND_STEPS, input_kind
from workflows.registry import entry
from workflows.step_model import Field as StepField
from workflows.step_model import StepSpec
from workflows.steps import STEPS


def _field(f: StepField, step: str) -> tuple[Any, Any]:
    # Label, unit, physical range and protocol limits with their source (workflows.registry).
    description = entry(step, f.name).describe()
    base: Any
    constraints: dict[str, Any] = {}
    if f.kind in ("number", "integer"):
        base = float if f.kind == "number" else int
        # above_min: the value cannot even be the minimum (a volume, a count: not zero)
        constraints = {"gt" if f.above_min else "ge": f.min, "le": f.max}
        if f.kind == "number":
            constraints["allow_inf_nan"] = False
    elif f.kind == "datetime":
        base = AwareDatetime
        description += "; ISO 8601 with its timezone"
    elif f.kind == "bool":
        base = bool
    elif f.kind == "choice":
        assert f.choices is not None
        base = Literal[f.choices]
    else:
        base = str
        constraints = {"max_length": 500, "min_length": 1 if f.required else 0}
    if carried_input(f):  # left out, it is taken from what the earlier step put out
        assert f.where is not None
        description += (f"; {f.where.describe()}: left out, it is what that container holds "
                        f"by the earlier step's record")
    if f.required and not carried_input(f):
        return base, Field(description=description, **constraints)
    return base | None, Field(default=None, description=description, **constraints)


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _values_model(spec: StepSpec) -> type[BaseModel]:
    fields = {f.name: _field(f, spec.name) for f in spec.fields}
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{_title(spec.name)}Values", __base__=In, __doc__=f"{spec.label}: the step's data.",
        **fields)
    return model


class StepBody(In):
    """What every step submission carries besides its data (each step narrows `values`)."""

    values: BaseModel
    scan: str | None = Field(default=None, max_length=500)
    witness: str | None = Field(default=None, max_length=64,
                                description="User name of the second person")
    witness_password: str | None = Field(default=None, max_length=256,
                                         description="The witness's own password")
    expected_version: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="The product version the operator saw; a "
        "different current version is refused with 409 conflict")


def _step_model(spec: StepSpec) -> type[StepBody]:
    kind = input_kind(spec.name, "CD133")
    scan_help = ("The scanned 2-D code of the container this step handles"
                 if kind is not None else "Not used by this step")
    fields: dict[str, Any] = {
        "values": (_values_model(spec), Field(description="The step's data")),
        "scan": (str | None, Field(default=None, max_length=500, description=scan_help)),
    }
    if spec.name in WRISTBAND_STEPS:  # harvest and administration: two identifiers
        fields["wristband"] = (str, Field(min_length=1, max_length=500,
                                          description="The scanned patient wristband"))
    if spec.name in PHYSICIAN_SIGNED_STEPS:  # the administering physician signs at the bedside
        fields["physician"] = (str, Field(
            min_length=1, max_length=64, description="User name of the administering "
            "physician: the signed-in physician, signing for themself only"))
        fields["physician_password"] = (str, Field(
            min_length=1, max_length=256, description="The administering physician's "
            "password, re-entered to sign the administration (Part 11 §11.200)"))
    model: type[StepBody] = create_model(
        f"{_title(spec.name)}StepIn", __base__=StepBody,
        __doc__=f"{spec.label}: scan, data and witness.", **fields)
    return model


STEP_MODELS: Mapping[str, type[StepBody]] = {name: _step_model(spec)
                                              for name, spec in STEPS.items()}
