"""Signed decisions on the web pages over HTTP (no browser): the administering physician's
signature at the bedside and the discard signed with the decider's password."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from lims.demo import DemoRun
from lims.models import Patient, Product, Signature
from lims.services.common import utcnow
from lims.web.render import site_zone
from tests.api.web_client import browser
from tests.factories import (
    PASSWORDS,
    make_product,
    scan_of,
    snapshot,
    step_time,
    step_values,
    wristband_of,
)


def issued(session: Session, run: DemoRun) -> Product:
    product, _ = make_product(run, arm="BM-MNC", until="issued",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    return product


def typed(value: object) -> str:
    """A value as a person types it on the form (times in the site's zone)."""
    if value is True:
        return "yes"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment.astimezone(site_zone()).strftime("%Y-%m-%d %H:%M")
    return str(value)


def bedside_save(session: Session, product: Product, token: str, **signature: str):
    values = step_values("administer", product.arm, step_time(product, "administer"))
    form = {"csrf_token": token, "action": "save", "version": str(product.version),
            "scan": scan_of(session, product, "final_product", "in_use"),
            "wristband": wristband_of(session.get(Patient, product.patient_id)),
            "witness_username": "doc2", "witness_password": PASSWORDS["doc2"],
            **{f"v_{name}": typed(value) for name, value in values.items()}, **signature}
    session.commit()
    return form


def signatures(session: Session, product: Product, meaning: str) -> list[Signature]:
    session.commit()
    return list(session.exec(select(Signature).where(Signature.product_id == product.id,
                                                     Signature.meaning == meaning)))


def test_the_bedside_form_refuses_a_wrong_physician_password_beside_the_signature(
        api_engine, lab):
    session, run = lab
    product = issued(session, run)
    client, token = browser(api_engine, "doc1")
    before = snapshot(session, product.din)

    wrong = client.post(f"/products/{product.din}/steps/administer",
                        data=bedside_save(session, product, token, physician_username="doc1",
                                          physician_password="not-my-password"))
    other = client.post(f"/products/{product.din}/steps/administer",
                        data=bedside_save(session, product, token, physician_username="doc2",
                                          physician_password=PASSWORDS["doc2"]))

    assert wrong.status_code == 409
    assert 'class="signature"' in wrong.text and "nothing was signed" in wrong.text
    assert 'id="physician_password"' in wrong.text  # asked again, on the same screen
    assert other.status_code == 409 and "signs for themself only" in other.text
    assert snapshot(session, product.din) == before


def test_the_bedside_form_saves_the_administration_with_the_physicians_signature(
        api_engine, lab):
    session, run = lab
    product = issued(session, run)
    client, token = browser(api_engine, "doc1")

    saved = client.post(f"/products/{product.din}/steps/administer",
                        data=bedside_save(session, product, token, physician_username="doc1",
                                          physician_password=PASSWORDS["doc1"]))

    assert saved.status_code == 303, saved.text[:2000]
    assert snapshot(session, product.din).state == "administered"
    [signature] = signatures(session, product, "Administered")
    assert signature.printed_name == run.user("doc1").full_name


def test_the_discard_form_asks_for_the_password_and_signs_the_decision(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="received",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, token = browser(api_engine, "super1")
    path = f"/products/{product.din}/disposition/discard"
    before = snapshot(session, product.din)
    session.commit()  # end the read before the app writes (SQLite)

    page = client.get(f"/products/{product.din}")
    unsigned = client.post(path, data={"csrf_token": token, "reason": "bag punctured"})
    wrong = client.post(path, data={"csrf_token": token, "reason": "bag punctured",
                                     "password": "guess"})
    after = snapshot(session, product.din)
    session.commit()
    assert 'id="password-discard"' in page.text and 'id="password-hold"' not in page.text
    assert unsigned.status_code == 409 and "enter your password" in unsigned.text
    assert wrong.status_code == 409 and "nothing was signed" in wrong.text
    assert after == before

    done = client.post(path, data={"csrf_token": token, "reason": "bag punctured",
                                   "password": PASSWORDS["super1"]})
    assert done.status_code == 303
    assert snapshot(session, product.din).state == "discarded"
    [signature] = signatures(session, product, "Discarded")
    assert signature.justification == "bag punctured"
