"""The physician's enrolment screen over HTTP (no browser): the form, its refusals, the list
of enrolled patients and a patient's page, and who may open them."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from lims.demo import DEMO_MARKERS
from lims.models import AuditEvent, Patient
from lims.services.common import utcnow
from tests.api.web_client import browser
from tests.factories import PASSWORDS, audit_count, make_patient, make_product
from workflows.eligibility import EXCLUSION, INCLUSION, PROTOCOL_WORDS, complete_checklist


def enrolment_form(token: str, **changes: str) -> dict[str, str]:
    """What a physician types for an eligible patient (every question answered)."""
    form = {"csrf_token": token, "subject_id": "RYN-900", "mrn": "7009900",
            "name": "Web Patient", "date_of_birth": "1970-05-17", "sex": "F",
            "weight_kg": "68.5", "consent_date": (utcnow().date() - timedelta(days=3)).isoformat(),
            "arm": "CD133", "treating_physician": "doc2", "checked_by": "doc1",
            "checked_by_password": PASSWORDS["doc1"],
            **{f"c_{key}": "yes" if met else "no" for key, met in complete_checklist().items()},
            **{f"m_{key}": result for key, result in DEMO_MARKERS.items()}}
    return {**form, **changes}


def patients(session: Session) -> list[Patient]:
    session.commit()
    found = list(session.exec(select(Patient)))
    session.commit()  # end the read: SQLite's write lock waits for it
    return found


def events(session: Session) -> int:
    session.commit()
    count = session.exec(select(func.count()).select_from(AuditEvent)).one()
    session.commit()
    return count


def text_of(page: str) -> str:
    """The page's words, without tags (what a reader sees)."""
    inline = re.sub(r"</?(strong|span|a|sup|em)\b[^>]*>", "", page)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline)))


def test_the_form_asks_every_criterion_in_the_protocols_words_with_no_answer_given(api_engine):
    client, _token = browser(api_engine, "doc1")

    page = client.get("/patients/new")

    assert page.status_code == 200
    words = text_of(page.text)
    for key in (*INCLUSION, *EXCLUSION):
        assert PROTOCOL_WORDS[key] in words
        assert f'name="c_{key}" value="yes"' in page.text
    assert words.index("inclusion criteria") < words.index("exclusion criteria")
    assert not re.search(r"<input[^>]* checked", page.text)  # no answer given beforehand
    assert " selected>" not in page.text
    assert 'id="arm_CD133" name="arm" value="CD133">' in page.text
    assert 'id="checked_by" name="checked_by" value="doc1"' in page.text
    assert "CD133 — CliniMACS CD133+ enriched autologous bone marrow cells" in words
    assert 'value="doc2">Dr. Nasrin Physician' in page.text
    for marker in ("m_HIV", "m_HBV", "m_HCV", "m_CMV", "m_screening_1271_75"):
        assert f'id="{marker}"' in page.text


def test_a_physician_enrols_an_eligible_patient_and_the_enrolment_is_audited(api_engine, lab):
    session, _run = lab
    session.commit()
    client, token = browser(api_engine, "doc1")

    answer = client.post("/patients", data=enrolment_form(token))

    assert answer.status_code == 303, text_of(answer.text)[:2000]
    assert answer.headers["location"].startswith("/patients/RYN-900?msg=")
    [patient] = patients(session)
    assert (patient.mrn, patient.arm, patient.weight_kg) == ("7009900", "CD133", 68.5)
    assert patient.eligibility == complete_checklist()
    assert patient.infectious_markers == DEMO_MARKERS
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "patient_enrolled"))
    assert (event.entity_id, event.username) == ("RYN-900", "doc1")
    session.commit()
    page = client.get(answer.headers["location"])
    words = text_of(page.text)
    assert "RYN-900 enrolled in the CD133 arm." in words
    assert "Web Patient" in words and "7009900" in words and "1970-05-17" in words
    assert "Checked by Dr. Ali Physician, confirmed with their password" in words
    assert "Dr. Nasrin Physician" in words  # the treating physician
    assert "No harvest yet." in words
    listed = text_of(client.get("/patients").text)
    assert "RYN-900 Web Patient 7009900 CD133" in listed and "Dr. Ali Physician" in listed


def test_an_ineligible_patient_is_refused_with_the_reasons_and_nothing_is_written(
        api_engine, lab):
    session, _run = lab
    session.commit()
    client, token = browser(api_engine, "doc1")
    before = events(session)

    answer = client.post("/patients", data=enrolment_form(
        token, c_sepsis="yes", c_written_consent="no", m_HCV="reactive"))

    assert answer.status_code == 422
    words = text_of(answer.text)
    assert "Not eligible: the patient was not enrolled." in words
    assert "Exclusion criterion present: Sepsis" in words
    assert "Inclusion criterion not met: Written consent" in words
    assert "HCV must be tested negative (is reactive)" in words
    # what was typed is kept, the password is not
    assert 'value="Web Patient"' in answer.text and 'value="1970-05-17"' in answer.text
    assert 'name="c_sepsis" value="yes" checked' in answer.text
    assert '<option value="reactive" selected>' in answer.text
    assert PASSWORDS["doc1"] not in answer.text
    assert patients(session) == [] and events(session) == before


def test_a_wrong_checker_password_refuses_the_enrolment(api_engine, lab):
    session, _run = lab
    session.commit()
    client, token = browser(api_engine, "super1")

    answer = client.post("/patients", data=enrolment_form(
        token, checked_by="doc2", checked_by_password="not-the-password"))

    assert answer.status_code == 403
    signature = answer.text.split('class="signature"')[1]
    assert "user name or password is incorrect" in text_of(signature)
    assert "not-the-password" not in answer.text
    assert 'value="Web Patient"' in answer.text
    assert patients(session) == []
    assert audit_count(session, "patient_enrolled") == 0


def test_a_checker_who_is_not_a_physician_refuses_the_enrolment(api_engine, lab):
    session, _run = lab
    session.commit()
    client, token = browser(api_engine, "super1")

    answer = client.post("/patients", data=enrolment_form(
        token, checked_by="super1", checked_by_password=PASSWORDS["super1"]))

    assert answer.status_code == 403
    assert "the eligibility is checked by a physician" in text_of(answer.text)
    assert patients(session) == []


def test_a_second_patient_with_the_same_mrn_is_refused(api_engine, lab):
    session, run = lab
    enrolled = make_patient(run)
    session.commit()
    client, token = browser(api_engine, "doc1")

    answer = client.post("/patients", data=enrolment_form(token, mrn=enrolled.mrn))

    assert answer.status_code == 409
    assert f"MRN {enrolled.mrn} is already enrolled" in text_of(answer.text)
    assert [p.subject_id for p in patients(session)] == [enrolled.subject_id]


@pytest.mark.parametrize(("changes", "field", "said"), [
    ({"date_of_birth": "17/05/1970"}, "date_of_birth", "is not written YYYY-MM-DD"),
    ({"date_of_birth": "1970-02-30"}, "date_of_birth", "is not a day of the calendar"),
    ({"consent_date": "1970-5-17"}, "consent_date", "is not written YYYY-MM-DD"),
    ({"weight_kg": "68,5"}, "weight_kg", "has a comma"),
    ({"weight_kg": "6.85e1"}, "weight_kg", "is not a weight in kg"),
    ({"weight_kg": "６８"}, "weight_kg", "with the digits 0–9"),
    ({"c_sepsis": ""}, "c_sepsis", "answer yes or no"),
    ({"m_HIV": "probably fine"}, "m_HIV", "choose the result as recorded"),
    ({"arm": "placebo"}, "arm", "is not one of the choices"),
    ({"mrn": "70099А0"}, "mrn", "Cyrillic"),
    ({"checked_by_password": ""}, "checked_by_password", "password"),
], ids=["day first", "no such day", "no leading zero", "decimal comma", "exponent",
        "full-width digits", "unanswered question", "unknown marker result", "unknown arm",
        "look-alike letter in the MRN", "no password"])
def test_what_cannot_be_read_is_marked_beside_its_field_and_nothing_is_written(
        api_engine, lab, changes, field, said):
    session, _run = lab
    session.commit()
    client, token = browser(api_engine, "doc1")
    before = events(session)

    answer = client.post("/patients", data=enrolment_form(token, **changes))

    assert answer.status_code == 422
    error = re.search(rf'<p class="field-error" id="e_{field}">(.*?)</p>', answer.text, re.S)
    assert error is not None and said in html.unescape(error.group(1)), text_of(answer.text)
    assert "Nothing was enrolled: 1 answer marked below needs attention." in text_of(answer.text)
    assert patients(session) == [] and events(session) == before


def test_the_services_refusals_are_shown_on_the_form(api_engine, lab):
    session, _run = lab
    session.commit()
    client, token = browser(api_engine, "doc1")

    answer = client.post("/patients", data=enrolment_form(token, date_of_birth="2015-01-01"))

    assert answer.status_code == 422
    assert "outside the trial's 18–75" in text_of(answer.text)
    assert patients(session) == []


@pytest.mark.parametrize("path", ["/patients/new", "/patients", "/patients/RYN-001"])
def test_a_technician_may_not_open_the_patient_pages(api_engine, lab, path):
    _session, run = lab
    make_patient(run)
    client, _token = browser(api_engine, "tech1")

    assert client.get(path).status_code == 403


def test_a_technician_may_not_enrol_a_patient(api_engine, lab):
    session, _run = lab
    session.commit()
    client, token = browser(api_engine, "tech1")

    answer = client.post("/patients", data=enrolment_form(token))

    assert answer.status_code == 403
    assert patients(session) == []


def test_qa_reads_the_patient_page_with_links_to_the_products_but_may_not_enrol(
        api_engine, lab):
    session, run = lab
    product, _ = make_product(run, until="collected")
    subject = session.get(Patient, product.patient_id)
    assert subject is not None
    session.commit()
    client, _token = browser(api_engine, "qa1")

    page = client.get(f"/patients/{subject.subject_id}")

    assert page.status_code == 200
    assert f'href="/products/{product.din}"' in page.text
    assert "Dr. Nasrin Physician" in text_of(page.text)  # checked the eligibility
    assert client.get("/patients/new").status_code == 403
    assert client.get("/patients/RYN-404").status_code == 404
