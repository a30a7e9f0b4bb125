"""Behind the TLS proxy, sign-in throttling counts the client the proxy names, and only the
proxy may name it (docs/deploy.md §3): `lims serve` believes X-Forwarded-For from the
addresses of --forwarded-allow-ips (default 127.0.0.1 and ::1) and from no one else.

A real `lims serve` on a seeded SQLite file. The test's requests from 127.0.0.1 are the
proxy's; those it sends from 127.0.0.2 (another loopback address, not on the allow list)
are a client's reaching the server directly."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session, select

from lims.db import make_engine
from lims.demo import PASSWORDS
from lims.models import SigninThrottle
from tests.conftest import _migrate
from tests.factories import seeded
from tests.integration.deployment_support import lims_env, serving

CLIENT_A, CLIENT_B = "203.0.113.10", "198.51.100.20"  # documentation addresses


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`lims serve` with its default allow list on a seeded database: (base URL, db URL)."""
    folder = tmp_path_factory.mktemp("forwarded")
    url = f"sqlite:///{folder / 'lims.db'}"
    engine = make_engine(url)
    try:
        _migrate(engine)
        with Session(engine, expire_on_commit=False) as session:
            seeded(session)
    finally:
        engine.dispose()
    with serving([], lims_env(url), folder / "server.log") as base:
        yield base, url


def sign_in(client: httpx.Client, base: str, username: str, password: str,
            forwarded_for: str) -> int:
    answer = client.post(f"{base}/api/v1/auth/login",
                         json={"username": username, "password": password},
                         headers={"X-Forwarded-For": forwarded_for})
    return answer.status_code


def fail_until_waiting(client: httpx.Client, base: str, username: str,
                       forwarded_for: str) -> None:
    """Wrong passwords until the name waits 4 s: five (a 2 s wait), then one after it."""
    assert [sign_in(client, base, username, "wrong-password", forwarded_for)
            for _ in range(5)] == [401] * 5
    time.sleep(2.2)
    assert sign_in(client, base, username, "wrong-password", forwarded_for) == 401


def counted(url: str) -> dict[str, int]:
    """The keys the server counted failures against: key → failures."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return {row.key: row.failures for row in session.exec(select(SigninThrottle))}
    finally:
        engine.dispose()


def test_through_the_proxy_the_forwarded_client_is_throttled_and_no_other(server):
    base, url = server
    with httpx.Client(timeout=30) as proxy:  # from 127.0.0.1: the proxy's address
        # given wrong passwords for tech1 from client A, forwarded by the proxy
        fail_until_waiting(proxy, base, "tech1", CLIENT_A)

        # then tech1 from A waits, even with the right password
        assert sign_in(proxy, base, "tech1", PASSWORDS["tech1"], CLIENT_A) == 429
        # and tech1 from client B, through the same proxy, signs in
        assert sign_in(proxy, base, "tech1", PASSWORDS["tech1"], CLIENT_B) == 200

    # and the failures were counted against A's keys, never B's nor the proxy's
    keys = counted(url)
    assert keys[f"name:tech1@{CLIENT_A}"] == keys[f"address:{CLIENT_A}"] == 6
    assert not [key for key in keys if CLIENT_B in key or "127.0.0.1" in key]


def test_x_forwarded_for_from_a_peer_not_on_the_allow_list_is_ignored(server):
    base, url = server
    direct = httpx.Client(timeout=30,
                          transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with direct, httpx.Client(timeout=30) as proxy:
        # given wrong passwords for qa1 sent straight to the server from 127.0.0.2, each
        # claiming in X-Forwarded-For to come from another client
        fail_until_waiting(direct, base, "qa1", "192.0.2.30")

        # then the peer's address was counted: naming yet another client does not help
        assert sign_in(direct, base, "qa1", PASSWORDS["qa1"], "192.0.2.31") == 429
        # and the client it claimed to be signs in through the proxy, never counted
        assert sign_in(proxy, base, "qa1", PASSWORDS["qa1"], "192.0.2.30") == 200

    keys = counted(url)
    assert keys["name:qa1@127.0.0.2"] == keys["address:127.0.0.2"] == 6
    assert not [key for key in keys if "192.0.2." in key]
