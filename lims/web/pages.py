"""All pages of the web UI in one router."""

from fastapi import APIRouter

from lims.web.routes import (
    admin_materials,
    admin_printers,
    admin_users,
    audit,
    auth,
    corrections,
    enrolment,
    home,
    labels,
    notifications,
    product,
    qa,
    qc,
    records,
    search,
    specifications,
    steps,
    trends,
)

router = APIRouter(include_in_schema=False)
for _module in (auth, home, product, labels, records, steps, corrections, qc, qa, trends,
                notifications, audit, admin_users, admin_materials, specifications, enrolment,
                admin_printers, search):
    router.include_router(_module.router)
