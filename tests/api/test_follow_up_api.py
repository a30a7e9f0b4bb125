"""The clinical follow-up over HTTP (issue 15): the physician records, QA reads, the
technician does neither; scores come back computed in the answer."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from lims.models import LabValue, Notification, Patient
from lims.services.common import utcnow
from tests.api.conftest import Api, product_in, refusal


def administered_patient(api: Api) -> tuple[str, str]:
    product = product_in(api, "administered")
    patient = api.session.get(Patient, product.patient_id)
    assert patient is not None
    api.session.commit()
    return patient.subject_id, product.din


def test_the_timeline_lists_the_schedule_and_qa_reads_it(api: Api):
    subject, din = administered_patient(api)

    answer = api.get(f"/patients/{subject}/follow-up", user="qa1")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [v["code"] for v in body["visits"]] == ["W1", "W2", "W3", "W4", "W8", "W12",
                                                   "W16", "W20", "W24"]
    assert {v["din"] for v in body["visits"]} == {din}
    assert body["visits"][0]["scores"]["meld"] is None
    assert "MELD: bilirubin, inr, creatinine" in body["visits"][0]["scores"]["missing"]
    assert refusal(api.get(f"/patients/{subject}/follow-up", user="tech1"), 403) == "forbidden"


def test_the_physician_records_a_visit_with_values_and_gets_the_scores(api: Api):
    subject, _din = administered_patient(api)
    visit = api.get(f"/patients/{subject}/follow-up", user="doc1").json()["visits"][0]
    at = (utcnow() - timedelta(minutes=10)).isoformat()

    values = api.post(f"/patients/{subject}/lab-values", user="doc1", json={
        "sampled_at": at, "visit_id": visit["id"], "values": [
            {"analyte": "bilirubin", "value": 32.49, "unit": "µmol/L"},
            {"analyte": "inr", "value": 1.2},
            {"analyte": "creatinine", "value": 1.3, "unit": "mg/dL"},
            {"analyte": "albumin", "value": 3.0, "unit": "g/dL"},
            {"analyte": "sodium", "value": 137, "unit": "mmol/L"}]})
    assert values.status_code == 201, values.text
    finding = api.post(f"/patients/{subject}/clinical-findings", user="doc1", json={
        "ascites": "none", "encephalopathy": "none", "observed_at": at,
        "visit_id": visit["id"]})
    assert finding.status_code == 201, finding.text
    done = api.post(f"/follow-up/visits/{visit['id']}", user="doc1",
                    json={"done_at": at, "note": "well"})

    assert done.status_code == 200, done.text
    scores = done.json()["scores"]
    assert done.json()["status"] == "done"
    assert scores["meld"]["score"] == 13
    assert scores["meld_na"]["score"] == 13
    # bilirubin 1.9 (1) + albumin 3.0 (2) + INR 1.2 (1) + no ascites (1) + none (1)
    assert (scores["child_pugh"]["points"], scores["child_pugh"]["class"]) == (6, "A")
    at_now = api.get(f"/patients/{subject}/follow-up/scores", user="qa1")
    assert at_now.json()["meld"]["score"] == 13


def test_a_technician_cannot_record_and_bad_values_leave_nothing(api: Api):
    subject, _din = administered_patient(api)
    body = {"sampled_at": utcnow().isoformat(),
            "values": [{"analyte": "creatinine", "value": 1.3, "unit": "mg/dL"}]}
    assert refusal(api.post(f"/patients/{subject}/lab-values", user="tech1", json=body),
                   403) == "forbidden"
    body["values"] = [{"analyte": "creatinine", "value": "1.3", "unit": "mg/dL"}]
    assert refusal(api.post(f"/patients/{subject}/lab-values", user="doc1", json=body),
                   422) == "invalid_input"
    body["values"] = [{"analyte": "creatinine", "value": 1.3, "unit": "g/L"}]
    assert refusal(api.post(f"/patients/{subject}/lab-values", user="doc1", json=body),
                   422) == "invalid_input"
    body["sampled_at"] = "2026-01-01T10:00:00"  # no zone
    body["values"] = [{"analyte": "creatinine", "value": 1.3, "unit": "mg/dL"}]
    assert refusal(api.post(f"/patients/{subject}/lab-values", user="doc1", json=body),
                   422) == "invalid_input"
    api.session.commit()
    assert api.session.exec(select(LabValue)).all() == []


def test_a_serious_adverse_event_over_http_notifies_and_an_event_ends_follow_up(api: Api):
    subject, din = administered_patient(api)
    before = len(api.session.exec(select(Notification)).all())

    reported = api.post(f"/patients/{subject}/adverse-events", user="doc1", json={
        "description": "Bleeding at the puncture site", "onset_on": date.today().isoformat(),
        "grade": 3, "serious": True, "relatedness": "probable", "outcome": "recovering",
        "din": din})

    assert reported.status_code == 201, reported.text
    api.session.commit()
    assert len(api.session.exec(select(Notification)).all()) == before + 2
    update = api.post(f"/adverse-events/{reported.json()['id']}/update", user="doc1", json={
        "reason": "resolved", "outcome": "recovered",
        "resolved_on": date.today().isoformat(), "expected_version": 1})
    assert update.status_code == 200, update.text
    assert update.json()["version"] == 2
    assert refusal(api.post(f"/adverse-events/{reported.json()['id']}/update", user="doc1",
                            json={"reason": "again", "grade": 2, "expected_version": 1}),
                   409) == "conflict"
    event = api.post(f"/patients/{subject}/clinical-events", user="doc1", json={
        "kind": "transplant", "occurred_on": date.today().isoformat()})
    assert event.status_code == 201, event.text
    timeline = api.get(f"/patients/{subject}/follow-up", user="doc1").json()
    assert timeline["ended_on"] == date.today().isoformat()
    assert {v["status"] for v in timeline["visits"]} == {"not_expected"}
    assert api.get("/follow-up/overdue", user="doc1").json() == []


def test_a_transplant_recorded_in_error_is_withdrawn_over_http(api: Api):
    subject, _din = administered_patient(api)
    event = api.post(f"/patients/{subject}/clinical-events", user="doc1", json={
        "kind": "transplant", "occurred_on": date.today().isoformat()}).json()
    assert refusal(api.post(f"/clinical-events/{event['id']}/correct", user="qa1",
                            json={"reason": "wrong patient"}), 403) == "forbidden"

    withdrawn = api.post(f"/clinical-events/{event['id']}/correct", user="doc1",
                         json={"reason": "recorded for the wrong patient"})

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json() is None
    timeline = api.get(f"/patients/{subject}/follow-up", user="qa1").json()
    assert timeline["ended_on"] is None and timeline["clinical_events"] == []
    assert {v["status"] for v in timeline["visits"]} == {"upcoming"}
