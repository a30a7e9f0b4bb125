"""All pages of the web UI in one router."""

from fastapi import APIRouter

from lims.web.routes import (
    audit,
    auth,
    corrections,
    home,
    labels,
    notifications,
    product,
    qa,
    qc,
    records,
    steps,
    trends,
)

router = APIRouter(include_in_schema=False)
for _module in (auth, home, product, labels, records, steps, corrections, qc, qa, trends,
                notifications, audit):
    router.include_router(_module.router)
