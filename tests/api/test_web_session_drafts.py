"""A session that ends never loses what was typed (over HTTP, no browser).

A step's Check or Save, or the QC entry, sent after the session ended keeps the typed
values as a draft of that person (never a password, the witness's name or a CSRF token),
the sign-in page says the session ended and that the values come back; after signing in
the form shows them again, and saving it (or discarding them) forgets the draft. Another
user never sees it, and a forged or tampered cookie never makes one.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from lims.config import get_settings
from lims.demo import DemoRun
from lims.models import FormDraft, Product
from lims.security import issue_token
from lims.services.common import user_by_name, utcnow
from lims.services.drafts import draft_of, forget_old_drafts, keep_draft
from lims.web.drafts import KEPT_NOTICE
from tests.api.web_client import browser, csrf_token
from tests.factories import PASSWORDS, make_product, qc_sample_of, scan_of, step_time, step_values

RESTORED = "Restored what you typed before your session ended"


def form_of(values: dict[str, object]) -> dict[str, str]:
    return {f"v_{k}": str(v) for k, v in values.items()}


def end_session(session: Session, client: TestClient, username: str, *,
                idle_minutes: float | None = None) -> None:
    """The client's session has ended: its cookie is this server's, issued long enough ago."""
    settings = get_settings()
    user = user_by_name(session, username)
    session.commit()
    assert user.id is not None
    idle = (idle_minutes if idle_minutes is not None else settings.session_minutes) * 60 + 5
    stale = issue_token(settings.secret_key, user.id, "session", now=time.time() - idle,
                        version=user.token_version)
    set_session(client, stale)


def set_session(client: TestClient, token: str) -> None:
    """The browser's session cookie, where the server's own would be."""
    client.cookies.delete("lims_session")
    client.cookies.set("lims_session", token, domain="testserver.local", path="/")


def sign_in_again(client: TestClient, username: str, next_url: str) -> str:
    """Sign in on the sign-in page the client was sent to; the page it lands on."""
    page = client.get(f"/login?next={next_url}")
    signed = client.post("/login", data={"csrf_token": csrf_token(page.text),
                                         "username": username, "password": PASSWORDS[username],
                                         "next": next_url})
    assert signed.status_code == 303, signed.text[:300]
    assert signed.headers["location"] == next_url
    return client.get(next_url).text


@dataclass(frozen=True)
class Draft:
    user_id: int
    key: str
    values: dict[str, str]


def drafts(session: Session) -> list[Draft]:
    """The drafts kept (not the held checks sharing the table), read afresh; no lock is held
    afterwards while the app writes."""
    session.rollback()
    rows = [Draft(row.user_id, row.key, dict(row.values))
            for row in session.exec(select(FormDraft).where(
                col(FormDraft.key).startswith("/")))]
    session.rollback()
    return rows


def released(run: DemoRun) -> Product:
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=7))
    run.session.commit()
    return product


def issue_form(session: Session, product: Product) -> dict[str, str]:
    values = step_values("issue", "BM-MNC", step_time(product, "issue"))
    return form_of({"time_issued": "now", "temperature_c": values["temperature_c"],
                    "transport_conditions": values["transport_conditions"]})


def test_a_save_sent_after_the_session_ended_keeps_the_values_but_no_credential(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product = released(run)
    page = f"/products/{product.din}/steps/issue"
    client, token = browser(api_engine, "tech1")
    scan = scan_of(session, product, "final_product", "in_use")
    typed = issue_form(session, product)
    end_session(session, client, "tech1")

    # the witness signs in and presses Enter on Save, after the technician's session ended
    response = client.post(page, data={
        "csrf_token": token, "action": "save", "scan": scan, "version": "1", **typed,
        "witness_username": "tech2", "witness_password": PASSWORDS["tech2"]})

    # then the sign-in page says the session ended and that the values come back
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    query = parse_qs(target.query)
    assert target.path == "/login" and query["next"] == [page] and query["expired"] == ["1"]
    login = client.get(response.headers["location"])
    assert KEPT_NOTICE in html.unescape(login.text)
    # and the draft holds the step's own fields only: no password, witness, scan or token
    [draft] = drafts(session)
    assert draft.user_id == run.user("tech1").id and draft.key == page
    assert set(draft.values) == {"time_issued", "temperature_c", "transport_conditions"}
    assert draft.values["time_issued"] != "now"  # the moment it meant, not "now" later
    stored = repr(draft.values)
    for secret in (PASSWORDS["tech2"], PASSWORDS["tech1"], "tech2", token, scan):
        assert secret not in stored
    assert state_of(session, product) == "released"  # nothing saved without a session


def test_after_signing_in_the_form_shows_the_values_and_saving_forgets_the_draft(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product = released(run)
    page = f"/products/{product.din}/steps/issue"
    client, token = browser(api_engine, "tech1")
    scan = scan_of(session, product, "final_product", "in_use")
    typed = issue_form(session, product)
    end_session(session, client, "tech1")
    client.post(page, data={"csrf_token": token, "action": "check", "scan": scan, **typed})

    # when tech1 signs in again
    shown = html.unescape(sign_in_again(client, "tech1", page))

    # then the step form holds what was typed, and says where it came from
    assert RESTORED in shown
    [draft] = drafts(session)
    for name, value in draft.values.items():
        assert f'name="v_{name}" value="{value}"' in shown
    assert 'id="scan" name="scan"' in shown  # the container is scanned again
    # when the step is saved with the restored values (the witness signs again)
    fresh = csrf_token(shown)
    saved = client.post(page, data={
        "csrf_token": fresh, "action": "save", "scan": scan,
        **{f"v_{k}": v for k, v in draft.values.items()},
        "witness_username": "tech2", "witness_password": PASSWORDS["tech2"]})
    # then it is saved and the draft is gone
    assert saved.status_code == 303, saved.text[:2000]
    assert saved.headers["location"].startswith(f"/products/{product.din}")
    assert state_of(session, product) == "issued"
    assert drafts(session) == []


def test_another_user_never_sees_the_draft_and_it_can_be_discarded(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product = released(run)
    page = f"/products/{product.din}/steps/issue"
    client, token = browser(api_engine, "tech1")
    typed = issue_form(session, product)
    end_session(session, client, "tech1")
    client.post(page, data={"csrf_token": token, "action": "check", **typed})
    assert len(drafts(session)) == 1

    # tech2 opens the same step: nothing of tech1's comes back
    other, _ = browser(api_engine, "tech2")
    shown = html.unescape(other.get(page).text)
    assert RESTORED not in shown
    assert "validated shipper" not in shown
    # nor can tech2 discard it
    other.post(page, data={"csrf_token": csrf_token(shown), "action": "discard"})
    assert len(drafts(session)) == 1

    # tech1 discards what came back: the form is empty again
    shown = sign_in_again(client, "tech1", page)
    discarded = client.post(page, data={"csrf_token": csrf_token(shown), "action": "discard"})
    assert discarded.status_code == 303
    assert drafts(session) == []
    again = html.unescape(client.get(discarded.headers["location"]).text)
    assert "was discarded" in again and RESTORED not in again
    assert "validated shipper" not in again


def test_a_forged_tampered_or_signed_out_cookie_never_creates_a_draft(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product = released(run)
    page = f"/products/{product.din}/steps/issue"
    client, token = browser(api_engine, "tech1")
    typed = issue_form(session, product)
    settings = get_settings()
    tech1 = run.user("tech1")
    session.commit()
    assert tech1.id is not None
    stale = issue_token(settings.secret_key, tech1.id, "session",
                        now=time.time() - settings.session_minutes * 60 - 5,
                        version=tech1.token_version)
    _, rest = stale.split(".", 1)
    admin_id = user_by_name(session, "admin").id
    session.commit()
    cookies = {
        "forged": issue_token("not-this-servers-key", tech1.id, "session",
                              now=time.time() - 3600, version=tech1.token_version),
        "tampered": f"{admin_id}.{rest}",  # another user's id under tech1's signature
        "garbage": "not-a-token",
        "api token": issue_token(settings.secret_key, tech1.id, "api", now=time.time() - 3600),
        "signed out since": issue_token(settings.secret_key, tech1.id, "session",
                                        now=time.time() - 3600,
                                        version=tech1.token_version - 1),
    }
    for name, cookie in cookies.items():
        set_session(client, cookie)
        response = client.post(page, data={"csrf_token": token, "action": "check", **typed})
        assert response.status_code == 303, name
        assert response.headers["location"].startswith("/login"), name
        assert "msg=" not in response.headers["location"], name
        assert drafts(session) == [], name
    # a genuine ended session, but the form is not from this site (no matching CSRF token)
    set_session(client, stale)
    response = client.post(page, data={"csrf_token": "0" * 64, "action": "check", **typed})
    assert response.status_code == 303 and "msg=" not in response.headers["location"]
    assert "expired=1" in response.headers["location"]  # the session did end: it says so
    assert drafts(session) == []


def test_the_qc_entry_is_kept_restored_and_forgotten_once_saved(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="formulated",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    page = f"/products/{product.din}/qc"
    sample = qc_sample_of(session, product.din, "viability")
    session.commit()
    typed = {"qc_viability": "95.5", "method_viability": sample["method"],
             "instrument_viability": sample["instrument"], "volume_viability": "0.1",
             "sample_drawn_at": sample["sample_drawn_at"].isoformat(), "reason": ""}
    client, token = browser(api_engine, "tech2")
    # the results are checked; the session ends while the check page is open
    check = client.post(page, data={"csrf_token": token, **typed})
    assert check.status_code == 303, check.text[:2000]
    confirmation = hidden_fields(client.get(check.headers["location"]).text)
    end_session(session, client, "tech2")

    # when Confirm and save is pressed
    response = client.post(f"{page}/confirm", data=confirmation)

    # then the values are kept for the QC form, and signing in again leads back to it
    assert parse_qs(urlsplit(response.headers["location"]).query)["next"] == [page]
    [draft] = drafts(session)
    assert draft.key == page
    assert draft.values["viability"] == "95.5"
    assert draft.values["instrument_viability"] == sample["instrument"]
    assert not {"submission", "seal", "csrf_token"} & set(draft.values)
    shown = html.unescape(sign_in_again(client, "tech2", page))
    assert RESTORED in shown
    assert 'value="95.5"' in shown
    # when they are checked and confirmed again, they are saved and the draft is gone
    check = client.post(page, data={"csrf_token": csrf_token(shown), **typed})
    confirmation = hidden_fields(client.get(check.headers["location"]).text)
    saved = client.post(f"{page}/confirm", data=confirmation)
    assert saved.status_code == 303, saved.text[:2000]
    assert "1 QC result(s) saved" in html.unescape(client.get(saved.headers["location"]).text)
    assert drafts(session) == []


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden fields of a confirmation page's form (what its button sends)."""
    return {name: html.unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)}


def test_the_sign_in_page_tells_an_ended_session_from_signing_out(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, _ = lab
    session.commit()  # no read open while the app writes
    client, token = browser(api_engine, "tech1")
    minutes, hours = get_settings().session_minutes, get_settings().session_hours
    end_session(session, client, "tech1")

    idle = client.get("/")
    assert idle.status_code == 303 and "expired=1" in idle.headers["location"]
    page = html.unescape(client.get(idle.headers["location"]).text)
    assert f"Your session ended after {minutes} minutes without activity" in page
    # a session past its absolute lifetime, however active
    user = user_by_name(session, "tech1")
    session.commit()
    assert user.id is not None
    settings = get_settings()
    set_session(client, issue_token(
        settings.secret_key, user.id, "session", version=user.token_version,
        started=int(time.time()) - hours * 3600 - 60))
    limit = client.get("/")
    assert "expired=limit" in limit.headers["location"]
    page = html.unescape(client.get(limit.headers["location"]).text)
    assert f"it reached its {hours}-hour limit" in page
    # signing out says so, and never that the session ended
    client, token = browser(api_engine, "tech1")
    out = client.post("/logout", data={"csrf_token": token})
    page = html.unescape(client.get(out.headers["location"]).text)
    assert "Signed out." in page and "session ended" not in page


def test_stay_signed_in_renews_the_session_and_asking_how_long_is_left_does_not(
        api_engine: Engine) -> None:
    client, token = browser(api_engine, "tech1")
    page = client.get("/").text
    assert 'data-session-seconds="' in page and 'src="/static/session.js"' in page
    assert 'id="session-warning"' in page and "Stay signed in" in page

    status = client.get("/session/status")
    assert status.json()["seconds"] > 0
    assert "lims_session=" not in status.headers.get("set-cookie", "")
    renewed = client.post("/session/renew", data={"csrf_token": token},
                          headers={"Accept": "application/json"})
    assert renewed.status_code == 200
    assert renewed.json()["seconds"] == get_settings().session_minutes * 60
    assert "lims_session=" in renewed.headers["set-cookie"]
    # without the script: back to the page, with when the session now ends
    plain = client.post("/session/renew", data={"csrf_token": token, "next": "/qc"})
    assert plain.status_code == 303 and plain.headers["location"].startswith("/qc?msg=")
    # no session: nothing left, and the sign-in page has no warning
    client.cookies.clear()
    assert client.get("/session/status").json()["seconds"] == 0
    assert 'id="session-warning"' not in client.get("/login").text


def test_drafts_older_than_a_day_are_forgotten_and_only_for_an_unchanged_account(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    tech1 = run.user("tech1")
    session.commit()
    assert tech1.id is not None
    long_ago = utcnow() - timedelta(days=1, minutes=1)
    assert keep_draft(session, user_id=tech1.id, version=tech1.token_version, key="/a",
                      values={"x": "1"}, now=long_ago)
    assert draft_of(session, user_id=tech1.id, key="/a") is None  # too old: forgotten
    assert drafts(session) == []
    assert keep_draft(session, user_id=tech1.id, version=tech1.token_version, key="/b",
                      values={"x": "2"}, now=long_ago)
    assert forget_old_drafts(session) == 1
    # an account signed out since (its token version moved on) keeps nothing
    assert not keep_draft(session, user_id=tech1.id, version=tech1.token_version + 1,
                          key="/c", values={"x": "3"})
    assert drafts(session) == []


def state_of(session: Session, product: Product) -> str:
    session.rollback()
    state = session.exec(select(Product.state).where(Product.id == product.id)).one()
    session.rollback()
    return state

