"""Performing each process step: scan + data + witness, one route per step.

The routes are generated from the step registry so that each one documents its own
data; every one of them is the same thin call of `perform_step`.
"""

# No `from __future__ import annotations` here: the generated routes' annotations must be
# the objects themselves, since FastAPI reads them from each closure.

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lims.api.deps import Credentials, DeferredRoleCheck, request_session
from lims.api.errors import errors
from lims.api.schemas import ContainerOut, Din, ProductOut, StepOut
from lims.api.step_models import STEP_MODELS, StepBody
from lims.services.steps import StepResult, perform_step
from workflows.product import TRIGGER_ROLES, Trigger, requires_witness
from workflows.steps import STEPS

router = APIRouter(tags=["steps"])


def step_out(result: StepResult) -> StepOut:
    din = result.product.din
    assert result.record.id is not None
    return StepOut(product=ProductOut.model_validate(result.product),
                   record_id=result.record.id, warnings=list(result.warnings),
                   new_containers=[ContainerOut.of(din, c) for c in result.new_containers])


def _add_step_route(step: str) -> None:
    model = STEP_MODELS[step]
    rule = DeferredRoleCheck(frozenset(TRIGGER_ROLES[Trigger(step)]), f"perform {step}")

    # The session is opened here rather than by a dependency: the hot path of the lab
    # pays for one worker thread and no dependency machinery (bench/http.py).
    def perform(din: Din, body: StepBody, credentials: Annotated[Credentials, Depends(rule)],
                request: Request) -> StepOut:
        values = body.values.model_dump(mode="json", exclude_none=True)
        with request_session(request) as session:
            return step_out(perform_step(
                session, actor=rule.admit(session, credentials), din=din, step=step,
                scan=body.scan, values=values, witness=body.witness,
                witness_password=body.witness_password,
                wristband=getattr(body, "wristband", None),
                expected_version=body.expected_version))

    perform.__name__ = f"perform_{step}"
    perform.__annotations__["body"] = model  # this step's own schema, for FastAPI
    witness = " with a witness" if requires_witness(step) else ""
    router.add_api_route(
        f"/products/{{din}}/steps/{step}", perform, methods=["POST"], response_model=StepOut,
        summary=f"Perform the step '{STEPS[step].label}'{witness}",
        description="The scan is checked against the container the step expects; a "
                    "mismatch changes nothing and is recorded as a chain-of-identity event.",
        responses=errors(401, 403, 404, 409, 422))


for _step in STEPS:
    _add_step_route(_step)
