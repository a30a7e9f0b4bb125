"""Every refused scan is recorded, whichever layer refuses it: a scan the request's own checks
refuse (a NUL character, 10,000 characters, a number where text belongs) leaves the same
chain-of-identity record as one the reader refuses, stored escaped and bounded, and is
not a near miss (it named nothing)."""

from __future__ import annotations

from sqlmodel import select

from lims.models import CoiEvent, Deviation, Patient
from tests.api.conftest import product_in, refusal
from tests.api.test_steps import perform
from tests.factories import PASSWORDS, audit_count, coi_events, scan_of, snapshot


def _deviations(api, product) -> list[Deviation]:
    api.session.commit()
    return list(api.session.exec(select(Deviation).where(Deviation.product_id == product.id)))


def test_a_scan_with_a_nul_character_refused_by_the_schema_is_recorded_escaped(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)
    good = scan_of(api.session, product, "marrow_bag", "in_use")

    response = perform(api, product, "receive", scan=good[:6] + "\x00" + good[6:])

    assert refusal(response, 422) == "invalid_input"  # the same answer as before
    assert snapshot(api.session, product.din) == before
    [event] = coi_events(api.session, product)
    assert (event.step, event.code) == ("receive", "coi_bad_scan")
    assert event.scanned == f"{good[:6]}\\x00{good[6:]} [{len(good) + 1} characters, escaped]"
    assert event.expected == f"marrow collection bag of DIN {product.din}"
    assert "NUL" in event.detail
    assert audit_count(api.session, "coi_mismatch") == 1
    assert _deviations(api, product) == []  # unreadable is not a near miss


def test_a_10000_character_scan_is_recorded_cut_with_its_length(api):
    product = product_in(api, "collected", "BM-MNC")

    response = perform(api, product, "receive", scan="=" + "A" * 9999)

    assert refusal(response, 422) == "invalid_input"
    [event] = coi_events(api.session, product)
    assert event.code == "coi_bad_scan" and len(event.scanned) <= 500
    assert event.scanned.startswith("=AAAA") and event.scanned.endswith("… [10000 characters]")


def test_a_499_and_a_10000_character_scan_are_both_recorded_the_same_way(api):
    product = product_in(api, "collected", "BM-MNC")

    short = perform(api, product, "receive", scan="=" + "Q" * 498)
    long = perform(api, product, "receive", scan="=" + "Q" * 9999)

    assert refusal(short, 422) == "coi_bad_scan"
    assert refusal(long, 422) == "invalid_input"
    assert [e.code for e in coi_events(api.session, product)] == ["coi_bad_scan"] * 2


def test_a_scan_that_is_not_text_is_recorded(api):
    product = product_in(api, "collected", "BM-MNC")

    response = perform(api, product, "receive", scan=["=X9999", 12])

    assert refusal(response, 422) == "invalid_input"
    [event] = coi_events(api.session, product)
    assert event.scanned == '["=X9999", 12]'


def test_a_refused_wristband_at_the_bedside_is_recorded_with_the_patient_expected(api):
    product = product_in(api, "issued", "BM-MNC")
    patient = api.session.get(Patient, product.patient_id)

    response = perform(api, product, "administer", user="doc1", wristband="&#\x00" + "1" * 600,
                       witness="doc2", witness_password=PASSWORDS["doc2"])

    assert refusal(response, 422) == "invalid_input"
    [event] = coi_events(api.session, product)
    assert (event.step, event.code) == ("administer", "coi_bad_scan")
    assert event.expected == f"wristband of subject {patient.subject_id}"
    assert event.scanned.startswith("&#\\x00111")


def test_a_refused_label_scan_back_is_recorded_at_label_verification(api):
    product = product_in(api, "collected", "BM-MNC")

    response = api.post(f"/products/{product.din}/labels/verify", user="tech1",
                        json={"scan": "=\x00" * 300})

    assert refusal(response, 422) == "invalid_input"
    [event] = coi_events(api.session, product)
    assert event.step == "label_verification" and event.code == "coi_bad_scan"


def test_a_refusal_of_other_fields_records_no_scan(api):
    product = product_in(api, "collected", "BM-MNC")
    good = scan_of(api.session, product, "marrow_bag", "in_use")

    response = perform(api, product, "receive", scan=good, witness="x" * 100)

    assert refusal(response, 422) == "invalid_input"
    assert coi_events(api.session, product) == []


def test_a_refused_scan_under_an_unreadable_din_is_recorded_without_a_product(api):
    product = product_in(api, "collected", "BM-MNC")
    api.session.commit()
    before = len(api.session.exec(select(CoiEvent)).all())
    api.session.commit()

    response = api.post(f"/products/{product.din}JUNK/steps/receive", user="tech1",
                        json={"scan": "\x00", "values": {}})

    assert refusal(response, 422) in ("invalid_input", "din_invalid")
    events = api.session.exec(select(CoiEvent)).all()
    api.session.commit()
    assert len(events) == before + 1 and events[-1].product_id is None
    assert events[-1].scanned == "\\x00 [1 characters, escaped]"
