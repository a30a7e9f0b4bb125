"""The web application: the REST API under /api/v1 and, when present, the web UI."""

from __future__ import annotations

import importlib

from fastapi import FastAPI
from sqlalchemy import Engine

from lims.api import PREFIX, api_router
from lims.api import errors as api_errors
from lims.api.headers import SecurityHeaders
from lims.config import get_settings
from lims.db import get_engine

DOCS_PATH = f"{PREFIX}/docs"
DESCRIPTION = """\
LIMS for autologous bone-marrow cell-therapy products (BM-MNC and CliniMACS CD133+) in
trial NCT00713934: enrolment, harvests, every processing step with chain-of-identity
scans and witnesses, QC, QA review and release by electronic signature, issue and
bedside-verified administration, labels, batch records and the hash-chained audit trail.

Sign in with `POST /api/v1/auth/login`, then send `Authorization: Bearer <token>`.
Every refusal is `{code, detail}` with a stable code; see each route's responses.
"""


def create_app(engine: Engine | None = None, *, web: bool = True) -> FastAPI:
    """The application on `engine` (default: the configured database); `web=False` serves
    the API alone."""
    settings = get_settings()
    settings.check_production_ready()
    app = FastAPI(title="Cell-processing LIMS", version="0.1.0", description=DESCRIPTION,
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=DOCS_PATH, redoc_url=None)
    app.state.engine = engine if engine is not None else get_engine()
    app.add_middleware(SecurityHeaders, api_prefix=PREFIX, docs_path=DOCS_PATH)
    api_errors.install(app)
    app.include_router(api_router)
    if web:
        include_web(app)
    return app


def include_web(app: FastAPI) -> None:
    """Mount the server-rendered UI (`lims.web.register(app)`) when it exists."""
    try:
        web = importlib.import_module("lims.web")
    except ModuleNotFoundError as missing:
        if missing.name != "lims.web":
            raise
        return
    register = getattr(web, "register", None)
    if register is not None:
        register(app)
