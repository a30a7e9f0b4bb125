"""An API client on a fresh, migrated, seeded database per test (the integration fixtures).

Requests go in-process through the ASGI app. The test's own session ends its transaction
before each request: SQLite takes the write lock when a transaction begins, so an open
read in the test would otherwise make the app's write wait.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from lims.app import create_app
from lims.config import get_settings
from lims.db import make_engine
from lims.demo import DemoRun
from lims.models import Product
from lims.security import issue_token
from lims.services.common import user_by_name, utcnow
from tests.conftest import TEST_URL
from tests.factories import make_product, seeded

API = "/api/v1"


@dataclass
class Api:
    client: TestClient
    session: Session
    run: DemoRun

    def token(self, username: str) -> str:
        user_id = user_by_name(self.session, username).id
        self.session.commit()  # end the read before the app writes
        assert user_id is not None
        return issue_token(get_settings().secret_key, user_id, "api")

    def headers(self, username: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"} if username else {}

    def request(self, method: str, path: str, *, user: str | None, **kwargs: Any
                ) -> httpx.Response:
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        self.session.commit()
        return self.client.request(method, API + path, headers=headers, **kwargs)

    def get(self, path: str, *, user: str | None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, user=user, **kwargs)

    def post(self, path: str, *, user: str | None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, user=user, **kwargs)


@pytest.fixture(scope="session")
def seeded_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated template, seeded once (seeding hashes seven passwords with argon2)."""
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        seeded(session)
        session.commit()
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not Path(f"{path}-wal").exists()
    return path


@pytest.fixture
def api_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh seeded database of the test's own: a copy of the seeded template on SQLite,
    a new migrated schema seeded through the services on PostgreSQL (as the app role)."""
    if TEST_URL.startswith("postgresql"):
        # The API runs as the application's least-privileged role (tests/conftest.py).
        engine: Engine = request.getfixturevalue("app_engine")
        with Session(engine) as session:
            seeded(session)
        yield engine
        return
    path = tmp_path / "lims.db"
    shutil.copy(request.getfixturevalue("seeded_template"), path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def owner_engine(request: pytest.FixtureRequest, api_engine: Engine) -> Engine:
    """The same database as the owner of its tables (what tampering tests write through):
    on PostgreSQL the migrating owner, on SQLite (no roles) the API's own engine."""
    if TEST_URL.startswith("postgresql"):
        owner: Engine = request.getfixturevalue("engine")
        return owner
    return api_engine


@pytest.fixture
def api(api_engine: Engine) -> Iterator[Api]:
    with Session(api_engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        session.commit()
        with TestClient(create_app(engine=api_engine, web=False)) as client:
            yield Api(client, session, run)
        session.rollback()


def refusal(response: httpx.Response, status: int) -> str:
    """The error code of a refusal, after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"code", "detail"} and body["detail"], body
    return str(body["code"])


def product_in(api: Api, state: str, arm: str = "CD133") -> Product:
    """A product taken through the real services to `state`; its harvest ended 7 h ago, so
    every step of the factory's timeline is in the past and the product is not expired."""
    product, _ = make_product(api.run, arm=arm, until=state,
                              t0=utcnow() - timedelta(hours=7))
    api.session.commit()
    return product


def acknowledge_exceptions(api: Api, din: str, user: str = "qa1") -> int:
    """QA acknowledges, over HTTP, each exception the review lists (with a comment), as it
    must before signing a release; returns how many."""
    listed = api.get(f"/products/{din}/review/exceptions", user=user)
    assert listed.status_code == 200, listed.text
    waiting = [e for e in listed.json()["exceptions"] if e["acknowledgement"] is None]
    for exception in waiting:
        done = api.post(f"/products/{din}/review/exceptions/{exception['key']}/acknowledgement",
                        user=user, json={"comment": "Read; no impact on the release"})
        assert done.status_code == 201, done.text
    return len(waiting)


@pytest.fixture
def lab(api_engine: Engine) -> Iterator[tuple[Session, DemoRun]]:
    """A session on the API's database and a demo run to build products with."""
    with Session(api_engine, expire_on_commit=False) as session:
        yield session, DemoRun(session, say=lambda _m: None)
