"""Two `lims serve` processes on one PostgreSQL database, as two hosts behind one proxy
(docs/deploy.md "Several workers and hosts"): nothing a person relies on lives in one
process's memory. A session or token issued by one works on the other, signing out on one
ends it on both, failed sign-ins counted on one make the other refuse, a draft kept by one
comes back on the other, and the periodic jobs both of them schedule at the same moment
exist once and each run of them is done once."""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from lims.audit_checkpoints import read_lines
from lims.config import get_settings
from lims.db import make_engine
from lims.models import Job
from lims.security import issue_token
from lims.services.common import user_by_name, utcnow
from lims.services.expiry import schedule_expiry
from tests.api.web_client import csrf_token
from tests.conftest import TEST_URL, _migrate
from tests.factories import PASSWORDS, make_product, seeded
from tests.integration.deployment_support import LIMS, ROOT, free_port, fresh_database, lims_env

pytestmark = pytest.mark.skipif(not TEST_URL.startswith("postgresql"),
                                reason="several servers on one database need PostgreSQL")

PERIODIC = ("audit_checkpoint", "expire_due", "forget_signin_failures")
RESTORED = "Restored what you typed before your session ended"


@contextmanager
def two_servers(env: dict[str, str], folder: Path) -> Iterator[tuple[str, str]]:
    """Two `lims serve` processes started at the same moment (each schedules the periodic
    jobs as it starts, and runs the job runner): their base URLs once both answer."""
    command = [str(LIMS)] if LIMS.exists() else [
        sys.executable, "-c", "from lims.cli import app; app()"]
    with ExitStack() as stack:
        bases = []
        for name in ("a", "b"):
            port = free_port()
            log = folder / f"server-{name}.log"
            with log.open("wb") as out:
                server = subprocess.Popen(
                    [*command, "serve", "--port", str(port), "--workers", "1"], cwd=ROOT,
                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            stack.callback(_stop, server)
            bases.append((f"http://127.0.0.1:{port}", server, log))
        for base, server, log in bases:
            _wait_for(base, server, log)
        yield bases[0][0], bases[1][0]


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


def _wait_for(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"lims serve stopped:\n{log.read_text()}")
        try:
            httpx.get(f"{base}/api/v1/openapi.json", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"lims serve did not answer in 90 s:\n{log.read_text()}")


@dataclass(frozen=True)
class Lab:
    a: str  # server A's base URL
    b: str  # server B's
    url: str  # the database both serve
    din: str  # a product waiting at `receive`
    checkpoints: Path  # the one checkpoint file both servers write (shared storage)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A seeded database with a product waiting at `receive`, served by two processes
    running their job runners often."""
    folder = tmp_path_factory.mktemp("two-servers")
    with fresh_database("two_servers") as url:
        engine = make_engine(url)
        try:
            _migrate(engine)
            with Session(engine, expire_on_commit=False) as session:
                run = seeded(session)
                product, _ = make_product(run, arm="BM-MNC", until="collected",
                                          t0=utcnow() - timedelta(hours=7))
                session.commit()
        finally:
            engine.dispose()
        env = lims_env(url, LIMS_JOBS_ENABLED="true", LIMS_JOBS_INTERVAL_SECONDS="0.2",
                       LIMS_AUDIT_CHECKPOINT_PATH=str(folder / "checkpoints.jsonl"))
        with two_servers(env, folder) as (a, b):
            yield Lab(a, b, url, product.din, folder / "checkpoints.jsonl")


def api_login(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/auth/login",
                      json={"username": username, "password": password}, timeout=30)


def web_sign_in(client: httpx.Client, base: str, username: str) -> None:
    page = client.get(f"{base}/login")
    signed = client.post(f"{base}/login", data={"csrf_token": csrf_token(page.text),
                                                "username": username,
                                                "password": PASSWORDS[username]})
    assert signed.status_code == 303, signed.text[:300]


def test_an_api_token_from_one_server_works_on_the_other_until_signed_out_on_either(lab):
    a, b = lab.a, lab.b
    # given a token issued by server A
    login = api_login(a, "qa1", PASSWORDS["qa1"])
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}

    # then server B accepts it
    me = httpx.get(f"{b}/api/v1/auth/me", headers=bearer)
    assert me.status_code == 200 and me.json()["username"] == "qa1"

    # when the user signs out on B
    assert httpx.post(f"{b}/api/v1/auth/logout", headers=bearer).status_code == 204

    # then A no longer accepts the token either
    assert httpx.get(f"{a}/api/v1/auth/me", headers=bearer).status_code == 401


def test_a_web_session_from_one_server_works_on_the_other_until_signed_out(lab):
    a, b = lab.a, lab.b
    # given a browser signed in on A (one browser, one site: the proxy in front of both)
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        web_sign_in(browser, a, "tech1")

        # then its session opens the worklist on B
        page = browser.get(f"{b}/")
        assert page.status_code == 200 and 'action="/logout"' in page.text

        had = dict(browser.cookies)  # what a copy of the cookie, kept elsewhere, would send

        # when it signs out on A (with the CSRF token B's page carries)
        out = browser.post(f"{a}/logout", data={"csrf_token": csrf_token(page.text)})
        assert out.status_code == 303

    # then the session cookie it had is no longer accepted by B (sent to the sign-in page)
    with httpx.Client(follow_redirects=False, timeout=30, cookies=had) as ended:
        again = ended.get(f"{b}/")
        assert again.status_code == 303 and "/login" in again.headers["location"]


def test_failed_sign_ins_counted_on_one_server_make_the_other_refuse(lab):
    a, b = lab.a, lab.b
    # given wrong passwords for tech2, some sent to A and some to B
    assert [api_login(server, "tech2", "wrong-password").status_code
            for server in (a, b, a, b, a)] == [401] * 5
    time.sleep(2.2)  # the 2 s wait after five failures has passed
    assert api_login(b, "tech2", "wrong-password").status_code == 401  # now a 4 s wait

    # then tech2 waits on either server, even with the right password
    assert api_login(a, "tech2", PASSWORDS["tech2"]).status_code == 429
    assert api_login(b, "tech2", PASSWORDS["tech2"]).status_code == 429


def test_a_draft_kept_by_one_server_is_restored_by_the_other(lab):
    a, b = lab.a, lab.b
    page = f"/products/{lab.din}/steps/receive"
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        # given a technician's form on A, typed while the session ran out
        web_sign_in(browser, a, "tech1")
        token = csrf_token(browser.get(f"{a}{page}").text)
        engine = make_engine(lab.url)
        try:
            with Session(engine) as session:
                user = user_by_name(session, "tech1")
                assert user.id is not None
                settings = get_settings()
                stale = issue_token(settings.secret_key, user.id, "session",
                                    now=time.time() - settings.session_minutes * 60 - 5,
                                    version=user.token_version)
        finally:
            engine.dispose()
        browser.cookies.delete("lims_session")
        browser.cookies.set("lims_session", stale)
        typed = {"v_temperature_c": "19.5", "v_gross_weight_g": "262.4", "v_tare_g": "45.1"}

        # when Save reaches A after the session ended
        sent = browser.post(f"{a}{page}", data={"csrf_token": token, "action": "save",
                                               "scan": "", "version": "1", **typed})
        assert sent.status_code == 303 and "expired=1" in sent.headers["location"]

        # and the technician signs in again on B and opens the form there
        browser.cookies.delete("lims_session")
        web_sign_in(browser, b, "tech1")
        form = browser.get(f"{b}{page}")

    # then B shows what was typed on A
    assert form.status_code == 200
    shown = html.unescape(form.text)
    assert RESTORED in shown
    assert 'value="262.4"' in shown and 'value="45.1"' in shown


def test_periodic_jobs_scheduled_by_both_starts_exist_once_and_each_run_is_done_once(lab):
    # given both servers scheduled the periodic jobs as they started, at the same moment,
    # and both job runners poll every 0.2 s
    runs = _wait_for_periodic_runs(lab.url)

    # then each kind ran once, in one attempt, and its next run is queued once
    for kind in PERIODIC:
        assert runs[kind] == [("done", 1), ("queued", 0)], (kind, runs[kind])
    # and the scheduled checkpoint was written once to the one checkpoint file
    lines = [json.loads(line) for line in read_lines(lab.checkpoints)]
    assert [line["reason"] for line in lines].count("scheduled") == 1


def _wait_for_periodic_runs(url: str) -> dict[str, list[tuple[str, int]]]:
    """Each periodic kind's jobs (status, attempts) in order, once each has run, and after
    the runners have had time to take a job again if they could."""
    engine = make_engine(url)
    query = text("SELECT kind, status, attempts FROM job WHERE kind = ANY(:kinds) ORDER BY id")

    def read() -> dict[str, list[tuple[str, int]]]:
        with engine.connect() as conn:
            found: dict[str, list[tuple[str, int]]] = {kind: [] for kind in PERIODIC}
            for kind, status, attempts in conn.execute(query, {"kinds": list(PERIODIC)}):
                found[kind].append((status, attempts))
            return found

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(any(status == "done" for status, _ in runs) for runs in read().values()):
                break
            time.sleep(0.2)
        time.sleep(1.5)  # several more polls of each runner
        return read()
    finally:
        engine.dispose()


def test_schedules_queued_by_many_starts_at_the_same_instant_exist_once():
    with fresh_database("schedules") as url:
        engine = make_engine(url)
        try:
            _migrate(engine)
            # given five processes' starts, each queueing the expiry check at the same instant
            # (fewer than the connections a pool allows: each holds one at the barrier)
            start = threading.Barrier(5, timeout=60)

            def schedule() -> None:
                with Session(engine) as session:
                    session.exec(select(Job.id)).all()  # the transaction is open
                    start.wait()
                    schedule_expiry(session)

            threads = [threading.Thread(target=schedule) for _ in range(5)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            # then one expiry check is queued
            with Session(engine) as session:
                assert len(session.exec(select(Job.id).where(Job.kind == "expire_due")).all()) == 1
        finally:
            engine.dispose()
