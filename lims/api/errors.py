"""One mapping from coded domain errors to HTTP, and the `{code, detail}` error body.

Status codes, chosen once for every code (a test checks every ErrorCode is here):

- 401 the caller is not signed in, or their sign-in password did not verify;
- 403 the caller's role may not do this (or signs for someone else), or a witness's or
  signer's re-entered password did not verify (the caller's own session is still good);
- 404 the product, patient, container or record does not exist;
- 409 the product's state or records refuse the action however the request is written:
  transitions and guards (expired product, QC failed, reviewer not independent, expired
  reagent lot, ...), a stale `expected_version`, something that already exists;
- 422 the request itself is wrong and can be corrected: invalid data, a missing reason or
  witness, and every chain-of-identity refusal of a scan (COI_*): the scanned label is the
  wrong input for this step; the refusal is recorded and the product is untouched;
- 413 the request body is over the configured size (LIMS_MAX_REQUEST_BYTES);
- 502 the label printer did not accept the job (only the print route).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lims.api.refused_scans import record_refused_scans
from workflows.errors import DomainError, ErrorCode

E = ErrorCode

STATUS: dict[ErrorCode, int] = {
    E.AUTHENTICATION_FAILED: 401, E.ACCOUNT_LOCKED: 401,
    E.FORBIDDEN: 403, E.SIGNATURE_INVALID: 403,
    # a second person's or a signer's password did not verify: 403, never 401 with
    # WWW-Authenticate, which a client reads as its own session ending
    E.WITNESS_NOT_AUTHENTICATED: 403, E.SIGNATURE_NOT_AUTHENTICATED: 403,
    E.PASSWORD_NOT_AUTHENTICATED: 403, E.PASSWORD_CHANGE_REQUIRED: 403,
    E.PASSWORD_REFUSED: 422,
    # too many failed sign-ins: wait (the message says how long), then try again
    E.SIGNIN_THROTTLED: 429,
    E.NOT_FOUND: 404,
    # the request can be corrected
    E.INVALID_INPUT: 422, E.STEP_DATA_INVALID: 422, E.LIMIT_REFUSED: 422,
    E.REASON_REQUIRED: 422, E.SIGNATURE_REQUIRED: 422,
    E.WITNESS_REQUIRED: 422, E.WITNESS_SAME_USER: 422,
    E.IDENTITY_NOT_CONFIRMED: 422, E.PATIENT_NOT_ELIGIBLE: 422,
    E.TREATING_PHYSICIAN_INVALID: 422, E.TIME_IN_FUTURE: 422,
    E.DIN_INVALID: 422,
    E.REAGENT_UNKNOWN: 422, E.EQUIPMENT_UNKNOWN: 422,
    E.MATERIAL_WRONG_KIND: 422, E.EQUIPMENT_WRONG_KIND: 422, E.PHYSICIAN_APPROVAL_REQUIRED: 422,
    E.REAGENT_NOT_RELEASED: 422,  # a lot in quarantine or rejected: choose a released one
    E.COI_BAD_SCAN: 422, E.COI_UNKNOWN_DIN: 422, E.COI_WRONG_DIN: 422,
    E.COI_WRONG_PATIENT: 422, E.COI_WRONG_CONTAINER: 422, E.COI_WRONG_STAGE: 422,
    E.COI_CONTAINER_REQUIRED: 422, E.COI_SQUARE_CODE_REQUIRED: 422,
    E.COI_SUPERSEDED_LABEL: 422,
    # the product's state or records refuse it
    E.INVALID_TRANSITION: 409, E.WRONG_ARM: 409,
    E.REAGENT_EXPIRED: 409, E.EQUIPMENT_OUT_OF_CALIBRATION: 409, E.PRODUCT_EXPIRED: 409,
    E.PRODUCT_NOT_EXPIRED: 409, E.QC_INCOMPLETE: 409, E.QC_FAILED: 409,
    E.NOT_INDEPENDENT: 409, E.NOT_HELD_FROM: 409, E.LABEL_NOT_VERIFIED: 409,
    E.CONFLICT: 409, E.ALREADY_EXISTS: 409, E.DEVIATION_OPEN: 409, E.NOTHING_TO_EXCEPT: 409,
    E.ALERT_ACKNOWLEDGED: 409, E.LABEL_REQUIRES_RELEASE: 409,
    E.CERTIFICATE_REQUIRES_RELEASE: 409,
    E.RELEASE_SUSPENDED: 409,
    # QA review (issue 13): a release before every exception is acknowledged; an exception
    # changed or resolved since it was shown (read the review again)
    E.EXCEPTIONS_NOT_ACKNOWLEDGED: 409, E.EXCEPTION_NOT_CURRENT: 409,
    E.COMMENT_REQUIRED: 422,
    # the label printer did not take the job (nothing was recorded)
    E.PRINTER_ERROR: 502,
    # the printer holds another label stock than the label is laid out for
    E.PRINTER_WRONG_STOCK: 409,
    # the calendar refuses the slot (issue 16): taken, unstaffed, too late or too early
    E.BOOKING_DOUBLE_BOOKED: 409, E.BOOKING_RESOURCE_UNAVAILABLE: 409,
    E.BOOKING_NO_QUALIFIED_STAFF: 409, E.BOOKING_AFTER_EXPIRY: 409,
    E.BOOKING_BEFORE_READY: 409, E.BOOKING_PROCESSING_WONT_FIT: 409,
    # the request body is over the configured size (LIMS_MAX_REQUEST_BYTES)
    E.REQUEST_TOO_LARGE: 413,
}

_DESCRIPTIONS = {
    401: "Not signed in, session expired, or a password did not verify",
    403: "The signed-in user's role may not do this, or a witness's or signer's password "
         "did not verify",
    404: "No such product, patient, container or record",
    409: "Refused by the product's state or records (transition, guard, stale version)",
    422: "Invalid or incomplete request, or a scan that does not match (COI_*); nothing "
         "was written",
    413: "The request body is larger than the server accepts; nothing was read",
    502: "The label printer did not accept the job; nothing was recorded",
    429: "Too many failed sign-ins with this user name or from this address: wait, then "
         "try again",
}


class ErrorOut(BaseModel):
    """Every refusal: a stable code for programs and a message for the person."""

    code: ErrorCode
    detail: str
    fields: dict[str, str] | None = Field(
        default=None, description="Per-field messages when the request data was invalid")


def status_of(code: ErrorCode) -> int:
    return STATUS.get(code, 400)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each refusal status it can return, with ErrorOut."""
    return {status: {"model": ErrorOut, "description": _DESCRIPTIONS[status]}
            for status in sorted(set(statuses))}


# An error body echoes at most a bounded prefix of what was sent (no 2 MB refusals).
MAX_DETAIL, MAX_FIELD_MESSAGE, MAX_FIELD_NAME, MAX_FIELDS = 2000, 300, 100, 50


def clip(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters in all)"


def _body(code: ErrorCode, detail: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    if fields:
        fields = {clip(where, MAX_FIELD_NAME): clip(message, MAX_FIELD_MESSAGE)
                  for where, message in list(fields.items())[:MAX_FIELDS]}
    return ErrorOut(code=code, detail=clip(detail, MAX_DETAIL),
                    fields=fields).model_dump(exclude_none=True)


def _headers(status: int) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if status == 401 else None


async def domain_error(_request: Request, error: Exception) -> JSONResponse:
    """The one handler of coded domain errors."""
    assert isinstance(error, DomainError)
    return domain_error_response(error)


def domain_error_response(error: DomainError) -> JSONResponse:
    """A coded domain error as the API answers it (also lims.api.step_fast_path's)."""
    status = status_of(error.code)
    fields = getattr(error, "errors", None)
    return JSONResponse(_body(error.code, error.detail, dict(fields) if fields else None),
                        status_code=status, headers=_headers(status))


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    """Request data that does not fit the route's model: 422 with per-field messages; a
    refused scan among it is recorded like any refused scan (lims.api.refused_scans)."""
    assert isinstance(error, RequestValidationError)
    await record_refused_scans(request, error)
    fields: dict[str, str] = {}
    for problem in error.errors()[:MAX_FIELDS]:
        where = ".".join(clip(str(part), 40) for part in problem.get("loc", ()))
        if problem.get("type") == "json_invalid" or _not_an_object(problem):
            where = "body"  # "body.24" would name a character position as if it were a field
        fields[where or "request"] = clip(_message(problem), MAX_FIELD_MESSAGE)
    detail = "; ".join(f"{where}: {message}" for where, message in fields.items())
    return JSONResponse(_body(E.INVALID_INPUT, detail or "invalid request", fields),
                        status_code=422)


def _not_an_object(problem: Any) -> bool:
    """The whole body arrived as text: sent without the JSON content type (a form, text/plain)."""
    return tuple(problem.get("loc", ())) == ("body",) and isinstance(problem.get("input"),
                                                                       str | bytes)


def _message(problem: Any) -> str:
    """Pydantic's message, or what the client must change when the body is not JSON at all."""
    if problem.get("type") == "json_invalid":
        position = problem.get("loc", ("body", "?"))[-1]
        why = str((problem.get("ctx") or {}).get("error", "")).strip()
        return (f"the body is not valid JSON{f' ({why})' if why else ''} at character "
                f"{position}: send one JSON object")
    if _not_an_object(problem):
        return "the body must be a JSON object sent with Content-Type: application/json"
    return str(problem.get("msg", "invalid"))


_HTTP_CODES = {401: E.AUTHENTICATION_FAILED, 403: E.FORBIDDEN, 404: E.NOT_FOUND,
               409: E.CONFLICT}


async def http_error(_request: Request, error: Exception) -> JSONResponse:
    """Framework refusals (unknown path, method not allowed) in the same shape."""
    assert isinstance(error, StarletteHTTPException)
    # A body that is not even JSON (bad bytes) is invalid input like any other: 422.
    status = 422 if error.status_code == 400 else error.status_code
    code = _HTTP_CODES.get(status, E.INVALID_INPUT)
    headers = dict(error.headers or {}) | (_headers(status) or {})
    detail = str(error.detail)
    if detail == "There was an error parsing the body":  # FastAPI's, for bytes not JSON
        detail = ("the body could not be read: send one JSON object in UTF-8 (no byte that "
                  "is not UTF-8, nesting at most a few levels deep)")
    return JSONResponse(_body(code, detail), status_code=status,
                        headers=headers or None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
