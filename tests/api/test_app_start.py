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
    """Every route dependency graph FastAPI builds from now on."""
    built: list[str] = []
    real: Callable[..., Any] = fastapi.routing.get_dependant

    def get_dependant(*args: Any, **kwargs: Any) -> Any:
        built.append(str(kwargs.get("path", args[0] if args else "?")))
        return real(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "get_dependant", get_dependant)
    return built


def test_first_requests_build_no_route(api_engine: Engine, monkeypatch: pytest.MonkeyPatch):
    """Every route is made, dependencies and all, with the application (lims.api.routing's
    add_routes): none is built on whoever asks first. An included router would be (FastAPI
    0.137 and later build its routes' contexts on the first match), on each worker."""
    built = counting(monkeypatch)
    with TestClient(create_app(api_engine, jobs=False)) as client:
        built.clear()
        answers = [client.get(path).status_code for path in (
            "/login", "/api/v1/auth/me", "/api/v1/products/X", "/fhir/metadata",
            "/no-such-page")]
    assert answers[0] == 200 and answers[-1] == 404
    assert built == []
    assert not [route for route in create_app(api_engine).router.routes
                if hasattr(route, "original_router")]  # no included router to walk


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
