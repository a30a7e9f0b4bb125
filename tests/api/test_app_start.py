"""A worker prepares its routes when it starts, not on whoever asks first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lims.app import create_app
from lims.config import get_settings


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every route dependency graph FastAPI builds from now on (it builds one per route
    the first time the route, or an address no route has, is matched)."""
    built: list[str] = []
    real: Callable[..., Any] = fastapi.routing.get_dependant

    def get_dependant(*args: Any, **kwargs: Any) -> Any:
        built.append(str(kwargs.get("path", args[0] if args else "?")))
        return real(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "get_dependant", get_dependant)
    return built


@pytest.mark.parametrize("setting", ["true", "false"])
def test_first_requests_find_every_route_prepared(api_engine: Engine, setting: str,
                                                  monkeypatch: pytest.MonkeyPatch):
    """LIMS_PREPARE_ROUTES_AT_START (on unless the tests turn it off, as they do for speed)."""
    monkeypatch.setenv("LIMS_PREPARE_ROUTES_AT_START", setting)
    get_settings.cache_clear()
    built = counting(monkeypatch)
    try:
        with TestClient(create_app(api_engine, jobs=False)) as client:
            prepared = len(built)
            built.clear()
            answers = [client.get(path).status_code for path in (
                "/login", "/api/v1/auth/me", "/api/v1/products/X", "/fhir/metadata",
                "/no-such-page")]
    finally:
        get_settings.cache_clear()
    if setting == "false":
        assert len(built) > 50  # what each worker's first requests would build
        return

    assert prepared > 100  # every route of the API, the pages and FHIR, at start-up
    assert answers[0] == 200 and answers[-1] == 404
    assert built == []  # nothing left to build on a request



@pytest.mark.parametrize(("setting", "expected"), [(None, 8), ("2", 2)])
def test_a_worker_runs_requests_on_its_configured_threads(api_engine: Engine,
                                                         setting: str | None, expected: int,
                                                         monkeypatch: pytest.MonkeyPatch):
    """LIMS_THREADS_PER_WORKER sets the request threads of the worker's event loop (anyio's
    default limiter, 8 unless set), from the lifespan."""
    if setting is None:
        monkeypatch.delenv("LIMS_THREADS_PER_WORKER", raising=False)
    else:
        monkeypatch.setenv("LIMS_THREADS_PER_WORKER", setting)
    get_settings.cache_clear()
    try:
        with TestClient(create_app(api_engine, jobs=False)) as client:
            assert client.portal is not None
            tokens = client.portal.call(
                lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
            assert client.get("/api/v1/auth/me").status_code == 401  # and it serves
    finally:
        get_settings.cache_clear()
    assert tokens == expected
