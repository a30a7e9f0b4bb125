"""Performing each process step: scan + data + witness, one route per step.

The routes are generated from the step registry so that each one documents its own
data; every one of them is the same thin call of `perform_step`.
"""

# No `from __future__ import annotations` here: the generated routes' annotations must be
# the objects themselves, since FastAPI reads them from each closure.

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import TypeAdapter
from sqlalchemy import Engine

from lims.api.deps import (
    Credentials,
    DeferredRoleCheck,
    RoleRule,
    SessionDep,
    get_engine_of,
    own_session,
    require_roles,
)
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import ContainerOut, Din, ProductOut, StepOut
from lims.api.schemas_quality import StepCorrectionIn, StepCorrectionOut
from lims.api.step_models import STEP_MODELS, StepBody
from lims.models import User
from lims.services.corrections import CORRECTING_ROLES, correct_step
from lims.services.steps import StepResult, perform_step
from lims.services.witness import PHYSICIAN_SIGNED_STEPS
from workflows.product import TRIGGER_ROLES, Trigger, requires_witness
from workflows.steps import STEPS

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["steps"])
_STEP_OUT = TypeAdapter(StepOut)


def step_out(result: StepResult) -> StepOut:
    din = result.product.din
    assert result.record.id is not None
    return StepOut(product=ProductOut.model_validate(result.product),
                   record_id=result.record.id, warnings=list(result.warnings),
                   new_containers=[ContainerOut.of(din, c) for c in result.new_containers])


def performed(engine: Engine, rule: RoleRule, credentials: Credentials, din: str, step: str,
              body: StepBody) -> bytes:
    """Perform `step` on `din` as `body` asks, by the caller of `credentials` if `rule`
    admits them: the answer, a StepOut in JSON. The one body of the step routes, and of the
    step fast path (lims.api.step_fast_path), which calls it with the route's own checks done.

    The session is opened here rather than by a dependency: the lab's most frequent call
    pays for one worker thread and no dependency machinery (bench/http.py); the answer is
    serialised here too, as FastAPI would serialise the StepOut, with no second hop."""
    values = body.values.model_dump(mode="json", exclude_none=True)
    with own_session(engine) as session:
        out = step_out(perform_step(
            session, actor=rule.admit(session, credentials), din=din, step=step,
            scan=body.scan, values=values, witness=body.witness,
            witness_password=body.witness_password,
            wristband=getattr(body, "wristband", None),
            physician=getattr(body, "physician", None),
            physician_password=getattr(body, "physician_password", None),
            expected_version=body.expected_version))
    return _STEP_OUT.dump_json(out, by_alias=True)


STEP_RULES = {step: DeferredRoleCheck(frozenset(TRIGGER_ROLES[Trigger(step)]),
                                      f"perform {step}") for step in STEPS}


def _add_step_route(step: str) -> None:
    model = STEP_MODELS[step]
    rule = STEP_RULES[step]

    # A step takes the bearer token only (a cookie never changes records), so no
    # dependency adds a header to the response, which is returned ready.
    def perform(din: Din, body: StepBody, credentials: Annotated[Credentials, Depends(rule)],
                request: Request) -> Response:
        return Response(performed(get_engine_of(request), rule, credentials, din, step, body),
                        media_type="application/json")

    perform.__name__ = f"perform_{step}"
    perform.__annotations__["body"] = model  # this step's own schema, for FastAPI
    witness = " with a witness" if requires_witness(step) else ""
    if step in PHYSICIAN_SIGNED_STEPS:
        witness += ", signed by the administering physician"
    router.add_api_route(
        f"/products/{{din}}/steps/{step}", perform, methods=["POST"], response_model=StepOut,
        summary=f"Perform the step '{STEPS[step].label}'{witness}",
        description="The scan is checked against the container the step expects; a "
                    "mismatch changes nothing and is recorded as a chain-of-identity event.",
        responses=errors(401, 403, 404, 409, 422))


for _step in STEPS:
    _add_step_route(_step)


StepName = Annotated[str, Path(min_length=1, max_length=30, pattern=r"^[a-z_]+$")]
_STEP_ROLES = frozenset(role for roles in TRIGGER_ROLES.values() for role in roles)
Corrector = Annotated[User, Depends(require_roles(*(_STEP_ROLES | CORRECTING_ROLES),
                                                  action="correct step data"))]


@router.post("/products/{din}/steps/{step}/corrections", status_code=201,
             response_model=StepCorrectionOut, responses=errors(401, 403, 404, 409, 422))
def correct(din: Din, step: StepName, body: StepCorrectionIn, actor: Corrector,
            session: SessionDep) -> StepCorrectionOut:
    """Correct a recorded step: the values that were wrong, and why. A new record replaces
    the old one (kept, marked superseded), each value is audited old → new with the
    reason; a correction after QA's release suspends the release."""
    result = correct_step(session, actor=actor, din=din, step=step, changes=body.changes,
                          reason=body.reason)
    return StepCorrectionOut(product=ProductOut.model_validate(result.product),
                             record_ids=[r.id for r in result.records if r.id is not None],
                             warnings=list(result.warnings),
                             release_suspended=result.release_suspended)
