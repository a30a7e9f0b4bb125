"""Read-only FHIR R5 endpoints at /fhir: the CapabilityStatement, Patient and
BiologicallyDerivedProduct reads, a search of products by identifier (DIN), and each
product's transaction Bundle. JSON as application/fhir+json; every refusal an
OperationOutcome; no write method (405).

Signed in as the API is (bearer token, or the session cookie for reading); everyone who
reads lab records may read these. Patients are pseudonymised unless `identified=true` is
asked for by a role that reads patient names (lims.services.fhir_bundle); each identified
answer is recorded in the audit trail first (lims.services.fhir_disclosure).
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from lims.api.deps import Reader, SessionDep
from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute, add_routes
from lims.services.fhir_bundle import FHIR_JSON, dumps, product_bundle
from lims.services.fhir_disclosure import Interface
from lims.services.fhir_metadata import capability_statement, operation_outcome
from lims.services.fhir_read import (
    FHIR_ID,
    container_resource,
    patient_resource,
    search_containers,
)
from workflows.errors import DomainError

FHIR_PREFIX = "/fhir"
# Described by its CapabilityStatement (GET /fhir/metadata), not the API's OpenAPI: its
# refusals are OperationOutcomes, not the API's {code, detail}.
router = APIRouter(route_class=OneThreadRoute, prefix=FHIR_PREFIX, tags=["fhir"],
                   include_in_schema=False)
LogicalId = Annotated[str, Path(pattern=FHIR_ID)]
Identified = Annotated[bool, Query(description="names, MRN and date of birth (physician, "
                                               "supervisor, QA)")]
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    # Patient data: never kept in a shared cache.
    return Response(dumps(resource), status_code=status, media_type=FHIR_JSON,
                    headers={"Cache-Control": "no-store"})


@router.get("/metadata")
def metadata(request: Request) -> Response:
    """The CapabilityStatement: what this read-only server offers."""
    return fhir_response(capability_statement(request.app.version))


@router.get("/Patient/{subject_id}")
def read_patient(subject_id: LogicalId, user: Reader, session: SessionDep,
                 identified: Identified = False) -> Response:
    """A patient by trial subject ID (pseudonymised unless identified=true)."""
    return fhir_response(patient_resource(session, subject_id, reader=user,
                                          identified=identified, interface=Interface.API))


@router.get("/BiologicallyDerivedProduct/{container_id}")
def read_product(container_id: LogicalId, _user: Reader, session: SessionDep) -> Response:
    """A container of a product by its id, DIN-product code-flags."""
    return fhir_response(container_resource(session, container_id))


@router.get("/BiologicallyDerivedProduct")
def search_products(_user: Reader, session: SessionDep,
                    identifier: Annotated[str, Query(min_length=1, max_length=200)]
                    ) -> Response:
    """The containers of a DIN (identifier=[system|]DIN) or one container by its id."""
    return fhir_response(search_containers(session, identifier))


@router.get("/Bundle/{din}")
def product_bundle_of(din: LogicalId, user: Reader, session: SessionDep,
                      identified: Identified = False) -> Response:
    """The product's transaction Bundle (conditional updates), as `lims fhir export`."""
    return fhir_response(product_bundle(session, din, reader=user, identified=identified,
                                        interface=Interface.API))


@router.api_route("", methods=WRITES, include_in_schema=False)  # a transaction's address
@router.api_route("/{path:path}", methods=WRITES, include_in_schema=False)
def refuse_writes(path: str = "") -> Response:
    """Nothing is written through FHIR: records are made in the LIMS, with its checks."""
    return fhir_response(operation_outcome(
        405, "this FHIR interface is read-only: records are made in the LIMS"), 405)


@router.get("/{path:path}", include_in_schema=False)
def unknown(path: str) -> Response:
    """Any other resource type or interaction: not served here (the CapabilityStatement
    lists what is)."""
    return fhir_response(operation_outcome(
        404, f"/fhir/{path} is not served: GET /fhir/metadata lists what is"), 404)


def _outcome(request: Request, error: Exception) -> Response:
    if isinstance(error, DomainError):
        status, detail, code = status_of(error.code), error.detail, error.code.value
    elif isinstance(error, RequestValidationError):
        status, code = 422, "invalid_input"
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                           for e in error.errors()[:10]) or "invalid request"
    else:
        assert isinstance(error, StarletteHTTPException)
        status, detail, code = error.status_code, str(error.detail), ""
    response = fhir_response(operation_outcome(status, detail, code), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def install(app: FastAPI) -> None:
    """Mount /fhir and answer refusals on its paths with an OperationOutcome (the API's
    and the pages' handlers keep every other path). Call after the web UI is added."""
    add_routes(app.router, router)
    for error in (DomainError, RequestValidationError, StarletteHTTPException):
        previous = app.exception_handlers.get(error)

        async def handler(request: Request, exc: Exception, previous: Any = previous
                          ) -> Response:
            path = request.url.path
            if path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/") or previous is None:
                return _outcome(request, exc)
            result = previous(request, exc)
            return await result if inspect.isawaitable(result) else result  # type: ignore[no-any-return]

        app.add_exception_handler(error, handler)
