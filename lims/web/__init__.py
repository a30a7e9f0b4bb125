"""Server-rendered web UI for the bench, QA and the physicians (Jinja2, no JavaScript).

`register(app)` mounts the pages at `/` and the stylesheet at `/static`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def register(app: FastAPI) -> None:
    """Add the web UI (pages, static files, security headers, session handling) to `app`."""
    from lims.api.routing import add_routes
    from lims.web import middleware
    from lims.web.pages import router

    middleware.install(app)
    add_routes(app.router, router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
