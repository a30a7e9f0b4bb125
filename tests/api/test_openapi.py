"""The OpenAPI document is complete: summaries, request and response models, refusals,
and a role check on every route."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from lims.api import PREFIX, ROUTERS, _roles
from lims.api.errors import STATUS
from lims.app import create_app
from workflows.errors import ErrorCode
from workflows.registry import entry
from workflows.steps import STEPS

APP = create_app(web=False)
SCHEMA = APP.openapi()
OPERATIONS = [(f"{method.upper()} {path}", operation)
              for path, item in SCHEMA["paths"].items() for method, operation in item.items()]
IDS = [name for name, _ in OPERATIONS]
# The routes anyone may call: signing in, and signing out (it only clears the cookie).
OPEN_REFUSALS = {f"POST {PREFIX}/auth/login": {422}, f"POST {PREFIX}/auth/logout": set()}
OPEN = set(OPEN_REFUSALS)


def error_ref(response):
    return response["content"]["application/json"]["schema"]["$ref"]


def test_the_api_has_the_routes_the_lab_needs():
    assert len(OPERATIONS) >= 40
    assert all(path.startswith(PREFIX) for path in SCHEMA["paths"])


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_has_a_one_line_summary_of_its_own(name, operation):
    summary = operation.get("summary", "")
    assert summary and "\n" not in summary
    assert summary != operation["operationId"].split("_api_v1")[0].replace("_", " ").title()


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_documents_its_refusals_with_the_error_model(name, operation):
    statuses = {int(s) for s in operation["responses"] if s.startswith(("4", "5"))}
    expected = OPEN_REFUSALS.get(name, {401, 403})
    assert expected <= statuses
    for status in statuses:
        assert error_ref(operation["responses"][str(status)]).endswith("/ErrorOut")
    if "parameters" in operation or "requestBody" in operation:
        assert 422 in statuses


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_has_request_and_response_models(name, operation):
    if "requestBody" in operation:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" in schema
    success = [s for s in operation["responses"] if s.startswith("2")]
    assert len(success) == 1
    if success[0] != "204":
        content = operation["responses"][success[0]]["content"]
        assert all(media["schema"] for media in content.values())


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_but_sign_in_and_out_requires_authentication(name, operation):
    assert bool(operation.get("security")) == (name not in OPEN)


def test_every_route_but_sign_in_and_out_checks_the_callers_role():
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    unchecked = [f"{sorted(r.methods)} {r.path}" for r in routes if not _roles(r.dependant)]
    assert len(routes) == len(OPERATIONS)
    assert unchecked == [f"['POST'] {PREFIX}/auth/login", f"['POST'] {PREFIX}/auth/logout"]


def test_every_error_code_has_an_http_status():
    assert set(ErrorCode) - set(STATUS) == set()
    assert set(STATUS.values()) <= {401, 403, 404, 409, 413, 422, 429, 502}


def test_the_security_schemes_are_the_bearer_token_and_the_session_cookie():
    schemes = SCHEMA["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    cookie = next(s for s in schemes.values() if s["type"] == "apiKey")
    assert cookie["in"] == "cookie" and cookie["name"] == "lims_session"


def test_the_application_with_its_web_ui_documents_only_the_api():
    full = create_app().openapi()
    assert all(path.startswith(PREFIX) for path in full["paths"])


def test_every_step_field_is_described_by_the_registry_with_its_unit_and_limits():
    # given: the step schemas in the published document
    schemas = SCHEMA["components"]["schemas"]

    for step, spec in STEPS.items():
        title = "".join(part.capitalize() for part in step.split("_")) + "Values"
        properties = schemas[title]["properties"]
        for field in spec.fields:
            # then: each field's description starts with the registry's label, unit and limits
            assert properties[field.name]["description"].startswith(entry(step, field.name)
                                                                   .describe()), field.name
    viability = schemas["FormulateValues"]["properties"]["viability_pct"]["description"]
    assert "Viability, in %" in viability and "viability_release_min_pct" in viability
    assert "≥ 70.0 %" in viability
