"""The REST API under /api/v1: thin routes over the same services as the UI and the CLI."""

from __future__ import annotations

import inspect

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from lims.api import (
    routes_alerts,
    routes_audit,
    routes_auth,
    routes_certificate,
    routes_deviations,
    routes_dispositions,
    routes_follow_up,
    routes_labels,
    routes_materials,
    routes_notifications,
    routes_outcomes,
    routes_patients,
    routes_printers,
    routes_products,
    routes_qa,
    routes_qc,
    routes_records,
    routes_review,
    routes_scheduling,
    routes_specifications,
    routes_steps,
    routes_storage,
    routes_temperature,
)
from lims.api.deps import RoleRule
from lims.api.routing import PREFIX, add_routes

__all__ = ["PREFIX", "ROUTERS", "api_router"]



def _roles(dependant: Dependant) -> frozenset[str]:
    found: frozenset[str] = frozenset()
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoleRule):
            found |= sub.call.roles
        found |= _roles(sub)
    return found


def _document(router: APIRouter) -> None:
    """Each route's one-line docstring becomes its summary; its roles, the description."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        doc = inspect.cleandoc(route.endpoint.__doc__ or "")
        given = route.description if route.description != doc else ""  # not the docstring
        if route.summary is None and doc:
            route.summary = doc.splitlines()[0]
        roles = _roles(route.dependant)
        if roles:  # else (sign in and out) the whole docstring stays the description
            route.description = f"Roles: {', '.join(sorted(roles))}. {given}".strip()


# The steps first: a request is matched against the routes in this order, and performing a
# step is the lab's most frequent call (bench/http.py); no other route shares its paths.
ROUTERS = tuple(module.router for module in (
    routes_steps, routes_auth, routes_patients, routes_products, routes_dispositions, routes_qc,
    routes_review, routes_qa, routes_deviations, routes_alerts, routes_notifications, routes_labels,
    routes_records, routes_audit, routes_materials, routes_specifications, routes_printers,
    routes_certificate, routes_storage, routes_scheduling, routes_temperature, routes_follow_up,
    routes_outcomes))
api_router = APIRouter()  # every route of the API, each under PREFIX (its router's)
for router in ROUTERS:
    _document(router)
add_routes(api_router, *ROUTERS)
