"""Safe entry and movement on the bench pages over HTTP (no browser): QC results are checked
on a page of their own before the confirmation saves exactly what was checked; every bench
POST that succeeds answers 303 (post/redirect/get); a second identical Save says it was
already saved and writes nothing; a wristband in the top scan box opens the bedside."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from lims.demo import DemoRun
from lims.models import Patient, Product, QcResult, StepRecord
from lims.services.common import utcnow
from lims.services.labels import print_label
from lims.services.qc import record_qc_result
from lims.services.review import review_summary
from tests.api.web_client import browser, hidden_fields, save_qc
from tests.factories import (
    container_of,
    make_product,
    qc_sample_of,
    scan_of,
    step_time,
    step_values,
    wristband_of,
)


def qc_rows(session: Session, product: Product) -> list[tuple[str, str, bool]]:
    session.rollback()  # a fresh read, and no lock held while the app writes
    rows = [(r.test, r.value, r.superseded) for r in session.exec(
        select(QcResult).where(QcResult.product_id == product.id).order_by(col(QcResult.id)))]
    session.rollback()
    return rows


def formulated(session: Session, run: DemoRun) -> tuple[Product, dict[str, str]]:
    """A formulated product and a first viability result as the page takes it."""
    product, _ = make_product(run, arm="BM-MNC", until="formulated",
                              t0=utcnow() - timedelta(hours=7))
    sample = qc_sample_of(session, product.din, "viability")
    session.commit()
    return product, {"qc_viability": "9.71", "method_viability": sample["method"],
                     "instrument_viability": sample["instrument"], "volume_viability": "0.1",
                     "sample_drawn_at": "now"}


def page_text(client: TestClient, url: str) -> str:
    return html.unescape(client.get(url).text)


def test_a_qc_typo_is_shown_out_of_specification_on_the_check_page_and_nothing_is_saved(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, typed = formulated(session, run)
    client, token = browser(api_engine, "tech2")

    # when the technician types 9.71 % viability (meant: 97.1) and presses Enter
    checked = client.post(f"/products/{product.din}/qc", data={"csrf_token": token, **typed})

    # then a check page follows (post/redirect/get), nothing is saved, and the value is
    # OUT OF SPECIFICATION in words, with its limit
    assert checked.status_code == 303
    assert checked.headers["location"].startswith(f"/products/{product.din}/qc/check?c=")
    page = client.get(checked.headers["location"])
    assert page.status_code == 200
    shown = html.unescape(page.text)
    assert "OUT OF SPECIFICATION (limit ≥ 70 %)" in shown
    assert "9.71 %" in shown and "Confirm and save" in shown and "Change values" in shown
    assert qc_rows(session, product) == []

    # when they choose Change values: the form comes back with what they typed
    change = re.search(r'href="([^"]+\?change=[^"]+)"', page.text)
    assert change is not None
    form = page_text(client, html.unescape(change.group(1)))
    assert 'value="9.71"' in form and "Check results" in form
    assert qc_rows(session, product) == []

    # and correct the value: only the confirmation saves it, passing
    saved = save_qc(client, product.din, {"csrf_token": token, **typed,
                                          "qc_viability": "97.1"})
    assert saved.status_code == 303
    assert "1 QC result(s) saved: Viability (7-AAD) 97.1 %" in page_text(client,
                                                                  saved.headers["location"])
    assert qc_rows(session, product) == [("viability", "97.1", False)]


def test_a_confirmation_with_changed_hidden_values_is_refused_and_saves_nothing(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, typed = formulated(session, run)
    client, token = browser(api_engine, "tech2")
    checked = client.post(f"/products/{product.din}/qc", data={"csrf_token": token, **typed})
    confirm = hidden_fields(client.get(checked.headers["location"]).text)
    assert confirm["qc_viability"] == "9.71" and confirm["seal"]

    # when the hidden value is changed between the check and the confirmation
    tampered = client.post(f"/products/{product.din}/qc/confirm",
                           data={**confirm, "qc_viability": "97.1"})
    # or the seal is not the check's
    forged = client.post(f"/products/{product.din}/qc/confirm",
                         data={**confirm, "seal": "0" * 64})

    # then both are refused and nothing is saved
    for refused in (tampered, forged):
        assert refused.status_code == 409
        assert "nothing was saved" in html.unescape(refused.text)
    assert qc_rows(session, product) == []

    # the untouched confirmation saves what was checked, once; a second press says so
    first = client.post(f"/products/{product.din}/qc/confirm", data=confirm)
    second = client.post(f"/products/{product.din}/qc/confirm", data=confirm)
    assert first.status_code == second.status_code == 303
    assert "already saved at" in page_text(client, second.headers["location"])
    assert qc_rows(session, product) == [("viability", "9.71", False)]
    # Back to the check page after the save: it says so, and saves nothing
    back = client.get(checked.headers["location"])
    assert back.status_code == 303 and "already" in page_text(client, back.headers["location"])


def test_a_qc_correction_shows_old_and_new_with_its_reason(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, _ = formulated(session, run)
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="viability",
                     value="9.71", **qc_sample_of(session, product.din, "viability"))
    session.commit()
    client, token = browser(api_engine, "tech2")

    checked = client.post(f"/products/{product.din}/qc", data={
        "csrf_token": token, "qc_viability": "97.1", "reason": "typo: decimal point"})
    shown = page_text(client, checked.headers["location"])
    assert "corrected: 9.71 % → <strong>97.1 %</strong>" in shown and "typo: decimal point" in shown
    confirmed = client.post(f"/products/{product.din}/qc/confirm",
                            data=hidden_fields(client.get(checked.headers["location"]).text))
    assert confirmed.status_code == 303

    product_page = page_text(client, f"/products/{product.din}")
    # (the product page shows results in the registry's one format: 9.71 % as 9.7 %)
    assert "corrected: 9.7 % → 97.1 %; reason: typo: decimal point" in product_page
    session.rollback()
    texts = [e.text for e in review_summary(session, product.din).exceptions
             if e.kind == "correction"]
    session.rollback()
    assert any("9.7 % → 97.1 %" in t and "typo: decimal point" in t for t in texts), texts


def receive_form(session: Session, product: Product, token: str) -> dict[str, str]:
    values = step_values("receive", product.arm, step_time(product, "receive"))
    from lims.web.render import site_zone

    def typed(value: object) -> str:
        if hasattr(value, "astimezone"):
            return value.astimezone(site_zone()).strftime("%Y-%m-%d %H:%M")  # type: ignore[union-attr]
        return "yes" if value is True else "no" if value is False else str(value)

    form = {"csrf_token": token, "action": "check",
            "scan": scan_of(session, product, "marrow_bag", "in_use"),
            **{f"v_{name}": typed(value) for name, value in values.items()}}
    session.commit()
    return form


def test_check_and_save_of_a_step_are_get_pages_and_a_second_save_is_already_saved(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="collected",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, token = browser(api_engine, "tech1")
    page = f"/products/{product.din}/steps/receive"

    # when the technician presses Enter (the check) on a clean entry
    checked = client.post(page, data=receive_form(session, product, token))

    # then the confirmation is a page of its own (Back never posts again)
    assert checked.status_code == 303, checked.text[:1500]
    location = checked.headers["location"]
    assert urlsplit(location).path == page and "check" in parse_qs(urlsplit(location).query)
    confirm = client.get(location)
    assert confirm.status_code == 200 and 'value="save"' in confirm.text
    form = {**hidden_fields(confirm.text), "action": "save"}
    assert form["submission"]

    # when Save is pressed twice (a double Enter)
    first = client.post(page, data=form)
    second = client.post(page, data=form)

    # then one record is written; the second press answers with what happened
    assert first.status_code == second.status_code == 303
    assert "saved by" in page_text(client, first.headers["location"])
    again = page_text(client, second.headers["location"])
    assert "already saved at" in again and "not possible now" not in again
    session.rollback()
    records = session.exec(select(StepRecord).where(StepRecord.product_id == product.id,
                                                    StepRecord.step == "receive")).all()
    session.rollback()
    assert len(records) == 1
    # and Back to the confirmation page says it was saved (no form to send again)
    back = client.get(location)
    assert back.status_code == 303 and "already saved at" in page_text(
        client, back.headers["location"])


def test_every_successful_bench_post_answers_303(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, typed = formulated(session, run)
    collected, _ = make_product(run, arm="BM-MNC", until="collected",
                                t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, token = browser(api_engine, "tech2")
    # the QC check and its confirmation
    assert save_qc(client, product.din, {"csrf_token": token, **typed}).status_code == 303
    # a step's check and save
    page = f"/products/{collected.din}/steps/receive"
    checked = client.post(page, data=receive_form(session, collected, token))
    assert checked.status_code == 303
    form = {**hidden_fields(client.get(checked.headers["location"]).text), "action": "save"}
    assert client.post(page, data=form).status_code == 303
    # a label reprinted and scanned back
    session.rollback()
    bag = container_of(session, collected, "marrow_bag", "in_use")
    print_label(session, actor=run.user("tech2"), din=collected.din, container_id=bag.id,
                reason="label smudged")
    session.expire_all()  # the container now wears the new print's serial
    code = scan_of(session, collected, "marrow_bag", "in_use")
    session.commit()
    scanned = client.post(f"/products/{collected.din}/labels/verify",
                          data={"csrf_token": token, "scan": code})
    assert scanned.status_code == 303
    # a step correction
    form_page = client.get(f"{page}/correct").text
    values = dict(re.findall(r'<input id="(v_\w+)" name="v_\w+" value="([^"]*)"', form_page))
    for name, block in re.findall(r'<select id="(v_\w+)".*?>(.*?)</select>', form_page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', block)
        values[name] = chosen.group(1) if chosen else ""
    values = {name: html.unescape(value) for name, value in values.items()}
    corrected = client.post(f"{page}/correct", data={
        **values, "v_temperature_c": "19.0", "csrf_token": token,
        "reason": "re-read the sheet"})
    assert corrected.status_code == 303, corrected.text[:1500]


def issued(session: Session, run: DemoRun) -> tuple[Product, Patient]:
    product, patient = make_product(run, arm="BM-MNC", until="issued",
                                    t0=utcnow() - timedelta(hours=7))
    session.commit()
    return product, patient


def test_a_wristband_in_the_top_scan_box_opens_the_bedside_check(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, patient = issued(session, run)
    wristband = wristband_of(patient)
    session.commit()
    doctor, token = browser(api_engine, "doc1")

    opened = doctor.post("/scan", data={"csrf_token": token, "code": wristband})

    assert opened.status_code == 303
    assert urlsplit(opened.headers["location"]).path == \
        f"/products/{product.din}/steps/administer"
    bedside = page_text(doctor, opened.headers["location"])
    assert "Portal-vein administration" in bedside
    assert "wristband of this patient confirmed" in bedside
    assert re.search(r'id="scan"[^>]*autofocus', bedside)  # next: the product's label

    # a technician cannot perform the bedside check: the product page, saying why
    technician, tech_token = browser(api_engine, "tech1")
    moved = technician.post("/scan", data={"csrf_token": tech_token, "code": wristband})
    assert moved.status_code == 303
    assert urlsplit(moved.headers["location"]).path == f"/products/{product.din}"
    assert "administering physician" in page_text(technician, moved.headers["location"])


def test_a_wristband_of_a_patient_whose_product_is_not_issued_opens_its_product_page(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, patient = make_product(run, arm="BM-MNC", until="collected",
                                    t0=utcnow() - timedelta(hours=7))
    wristband = wristband_of(patient)
    session.commit()
    doctor, token = browser(api_engine, "doc1")
    opened = doctor.post("/scan", data={"csrf_token": token, "code": wristband})
    assert opened.status_code == 303
    assert urlsplit(opened.headers["location"]).path == f"/products/{product.din}"
    assert "no product of this patient is issued" in page_text(doctor,
                                                               opened.headers["location"])


def test_a_wrong_wristband_at_the_bedside_resets_the_product_confirmation(
        api_engine: Engine, lab: tuple[Session, DemoRun]) -> None:
    session, run = lab
    product, _ = issued(session, run)
    other = make_product(run, arm="BM-MNC", until="collected",
                         t0=utcnow() - timedelta(hours=7))[1]
    scan = scan_of(session, product, "final_product", "in_use")
    wrong = wristband_of(other)
    session.commit()
    doctor, token = browser(api_engine, "doc1")

    refused = doctor.post(f"/products/{product.din}/steps/administer", data={
        "csrf_token": token, "action": "check", "scan": scan, "wristband": wrong})

    assert refused.status_code == 409
    shown = html.unescape(refused.text)
    assert "WRONG PATIENT" in shown
    assert "of this product confirmed" not in shown  # no stale confirmation
    assert "Not scanned yet: scan the label" in shown
    assert re.search(r'id="scan"[^>]*value=""[^>]*autofocus', refused.text)
