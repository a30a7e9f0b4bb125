"""The FHIR server's CapabilityStatement and OperationOutcome: what /fhir offers (read and
search only; every write is refused 405) and how it says no."""

from __future__ import annotations

from typing import Any

from lims.services.fhir_bundle import validated
from lims.services.fhir_common import LOCAL_CODES

FHIR_VERSION = "5.0.0"
# (resource type, its interactions, its search parameters)
RESOURCES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Patient", ("read",), ()),
    ("BiologicallyDerivedProduct", ("read", "search-type"), ("identifier",)),
    ("Bundle", ("read",), ()),
)
ISSUE_TYPE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
              405: "not-supported", 413: "too-long", 422: "invalid"}


def capability_statement(software_version: str) -> dict[str, Any]:
    return validated({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-30",
        "kind": "instance",
        "software": {"name": "Cell-processing LIMS", "version": software_version},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": (
                "Read-only. Sign in at POST /api/v1/auth/login and send the bearer token. "
                "Bundle/{DIN} is the product's transaction Bundle; Patient and "
                "BiologicallyDerivedProduct are pseudonymised unless identified=true is asked "
                "for by a physician, supervisor or QA user; each identified export is "
                "recorded in the audit trail (who, which patient, when)."),
            "security": {"description": "Bearer token of the LIMS API (or its session "
                                        "cookie, for reading)."},
            "resource": [{"type": kind,
                          "interaction": [{"code": code} for code in interactions],
                          **({"searchParam": [{"name": name, "type": "token"}
                                              for name in search]} if search else {})}
                         for kind, interactions, search in RESOURCES],
        }],
    })


def operation_outcome(status: int, detail: str, code: str = "") -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": ISSUE_TYPE.get(status, "exception"),
                             "diagnostics": detail}
    if code:
        issue["details"] = {"coding": [{"system": f"{LOCAL_CODES}/error-code", "code": code}],
                            "text": detail}
    return validated({"resourceType": "OperationOutcome", "issue": [issue]})
