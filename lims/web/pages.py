"""All pages of the web UI in one router."""

from fastapi import APIRouter

from lims.api.routing import OneThreadRoute, add_routes
from lims.web.routes import (
    admin_materials,
    admin_printers,
    admin_users,
    audit,
    auth,
    corrections,
    enrolment,
    follow_up,
    follow_up_events,
    home,
    labels,
    notifications,
    product,
    qa,
    qc,
    records,
    scheduling,
    search,
    specifications,
    steps,
    storage,
    temperature,
    trends,
)

router = APIRouter(route_class=OneThreadRoute, include_in_schema=False)
add_routes(router, *(module.router for module in (
    auth, home, product, labels, records, steps, corrections, qc, qa, trends, notifications,
    audit, admin_users, admin_materials, specifications, enrolment, admin_printers, search,
    scheduling, follow_up, follow_up_events, storage, temperature)), in_schema=False)
