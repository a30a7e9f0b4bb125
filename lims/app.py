"""The web application: the REST API under /api/v1 and, when present, the web UI."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import Engine

from lims.api import PREFIX, api_router, routes_fhir
from lims.api import errors as api_errors
from lims.api.headers import SecurityHeaders
from lims.api.limits import BodyLimit
from lims.api.routing import add_routes
from lims.api.step_fast_path import StepFastPath
from lims.config import get_settings, startup_settings
from lims.db import get_engine
from lims.jobs import BackgroundJobs

DOCS_PATH = f"{PREFIX}/docs"
DESCRIPTION = """\
LIMS for autologous bone-marrow cell-therapy products (BM-MNC and CliniMACS CD133+) in
trial NCT00713934: enrolment, harvests, every processing step with chain-of-identity
scans and witnesses, QC, QA review and release by electronic signature, issue and
bedside-verified administration, labels, batch records and the hash-chained audit trail.

Sign in with `POST /api/v1/auth/login`, then send `Authorization: Bearer <token>`.
Every refusal is `{code, detail}` with a stable code; see each route's responses. A request
body over the configured size (LIMS_MAX_REQUEST_BYTES, 1 MiB by default) is refused with 413
`request_too_large` before it is read.
"""


def create_app(engine: Engine | None = None, *, web: bool = True,
               jobs: bool | None = None) -> FastAPI:
    """The application on `engine` (default: the configured database); `web=False` serves
    the API alone; `jobs` runs the background jobs while it serves (default: the setting
    LIMS_JOBS_ENABLED)."""
    settings = startup_settings()  # a weak production configuration never starts
    app = FastAPI(title="Cell-processing LIMS", version="0.1.0", description=DESCRIPTION,
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=DOCS_PATH, redoc_url=None,
                  lifespan=lifespan)
    app.state.engine = engine if engine is not None else get_engine()
    app.state.run_jobs = settings.jobs_enabled if jobs is None else jobs
    app.state.job_runner = None
    # Innermost, so that the body limit and the security headers apply to its answers too.
    app.add_middleware(StepFastPath, prefix=PREFIX)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders, api_prefix=PREFIX, docs_path=DOCS_PATH)
    api_errors.install(app)
    add_routes(app.router, api_router)
    if web:
        include_web(app)
    routes_fhir.install(app)  # after the pages: /fhir refusals are OperationOutcomes
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the background jobs with the application and stop them with it."""
    # This process's request threads (anyio's limiter of this event loop; lims/config.py).
    anyio.to_thread.current_default_thread_limiter().total_tokens = (
        get_settings().threads_per_worker)
    if get_settings().gc_freeze_at_start:
        gc.collect()
        gc.freeze()
    runner = None
    if app.state.run_jobs:
        runner = BackgroundJobs(app.state.engine, get_settings().jobs_interval_seconds).start()
    app.state.job_runner = runner
    try:
        yield
    finally:
        if runner is not None:
            await asyncio.to_thread(runner.stop)  # it may be waiting on a mail server
        app.state.job_runner = None


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
