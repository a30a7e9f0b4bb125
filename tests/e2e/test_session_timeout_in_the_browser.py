"""A session that ends never loses the bench's work, in the browser.

The lab's server runs with a one-minute idle session (LIMS_SESSION_MINUTES=1). Half a
minute before the end a warning says so, without taking the cursor; "Stay signed in" keeps
the session going. When the session does end with an issue checked and the witness signing,
the witness's Enter lands on the sign-in page, which says the session ended and that what
was typed is kept; signing in again brings the values back into the step form (never the
witness's credentials), and the step is saved. axe-core finds no violation on the step page
with the warning shown nor on the sign-in page.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session, col, select

from lims.db import make_engine
from lims.models import FormDraft
from tests.e2e.bench import PASSWORDS_ALL, Bench
from tests.e2e.conftest import ROOT, Lab, _free_port, _wait_for
from tests.e2e.setup_lab import product_made, state_of

KEPT = "Your session ended; what you typed is kept and comes back after you sign in."
RESTORED = "Restored what you typed before your session ended"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The browser tests' lab (tests/e2e/conftest.py), served with a one-minute session."""
    from lims.config import get_settings
    from tests.e2e.setup_lab import prepare

    folder = tmp_path_factory.mktemp("short-session-lab")
    database_url = f"sqlite:///{folder / 'lims.db'}"
    files = {"LIMS_AUDIT_CHECKPOINT_PATH": str(folder / "audit-checkpoints.jsonl"),
             "LIMS_AUDIT_SIGNING_KEY_FILE": str(folder / "audit-signing-key.pem")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in files.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        cast = prepare(database_url)
    get_settings.cache_clear()
    port = _free_port()
    env = {**os.environ, **files, "LIMS_DATABASE_URL": database_url,
           "LIMS_ENVIRONMENT": "development", "LIMS_PRINTER_HOST": "",
           "LIMS_SESSION_MINUTES": "1"}
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "lims.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log)
        yield Lab(url=url, database_url=database_url, subject_id=cast.subject_id,
                  mrn=cast.mrn, other_subject_id=cast.other_subject_id)
    finally:
        process.terminate()
        process.wait(timeout=10)


def no_violations(page: object) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def kept_drafts(database_url: str) -> list[dict[str, object]]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = [dict(row.values) for row in session.exec(
            select(FormDraft).where(col(FormDraft.key).startswith("/")))]
    engine.dispose()
    return rows


def test_the_warning_keeps_the_session_and_an_ended_one_keeps_the_typed_step(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    made = product_made(lab.database_url, "released")
    technician = open_bench()
    page = technician.page
    technician.sign_in("tech1")
    technician.scan_anywhere(made.label)
    assert page.locator("h1").inner_text() == "Issue to the procedure room"
    focused = page.evaluate("document.activeElement.id")

    # half a minute before the one-minute session ends, the warning appears
    warning = page.locator("#session-warning")
    warning.wait_for(state="visible", timeout=45_000)
    assert "Your session ends at" in warning.inner_text()
    assert page.evaluate("document.activeElement.id") == focused  # the cursor stayed
    no_violations(page)
    # "Stay signed in" keeps it: well past the first end, the Check still works
    page.get_by_role("button", name="Stay signed in").click()
    warning.wait_for(state="hidden", timeout=10_000)
    page.wait_for_timeout(40_000)
    technician.enter({"time_issued": "now", "temperature_c": "6.5",
                      "transport_conditions": "validated shipper, 2–8 °C"})
    technician.check()
    assert page.locator("#witness_username").count() == 1, page.url
    shown = {name: page.locator(f"input[name=v_{name}]").get_attribute("value")
             for name in ("time_issued", "temperature_c", "transport_conditions")}

    # the session ends while the confirmation waits for the witness
    page.get_by_text("Your session ended at").wait_for(timeout=80_000)
    technician.witness_and_save("tech2")

    # the witness's Enter lands on the sign-in page, which says what happened
    assert "/login" in page.url
    assert KEPT in page.locator("main").inner_text()
    no_violations(page)
    [draft] = kept_drafts(lab.database_url)
    assert draft == shown  # the step's values only: no witness, no password
    assert state_of(lab.database_url, made.din) == "released"

    # signing in again brings the values back into the step form
    page.fill("#username", "tech1")
    page.fill("#password", PASSWORDS_ALL["tech1"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/products/{made.din}/steps/issue"), page.url
    assert RESTORED in page.locator("main").inner_text()
    for name, value in shown.items():
        assert page.locator(f"#v_{name}").input_value() == value
    technician.wait_for_focus("scan")  # the container is scanned again
    technician.scan("#scan", made.label)
    assert page.locator("#witness_username").input_value() == ""  # the witness signs again
    technician.witness_and_save("tech2")
    assert "Issue to the procedure room saved by" in technician.flash(), technician.flash()
    assert state_of(lab.database_url, made.din) == "issued"
    assert kept_drafts(lab.database_url) == []
