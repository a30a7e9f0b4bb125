"""The physician's follow-up screens over HTTP (no browser): the timeline of a patient
with the scores computed per visit, the forms that record a visit, its laboratory values
and grades (read whole before anything is recorded), adverse and clinical events, the
overdue visits on the physician's worklist, the chart from baseline, and the per-arm table
with the protocol's blinding respected."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from lims.models import (
    AdverseEvent,
    AuditEvent,
    ClinicalFinding,
    FollowUpVisit,
    LabValue,
    Notification,
    Patient,
)
from lims.services.common import utcnow
from tests.api.web_client import browser
from tests.factories import make_product, set_protocol_parameter
from workflows.blinding import HIDDEN_ARM

DAYS_AGO = 60  # the administration: weeks 1-4 are past their windows, week 8 is due


def text_of(page: str) -> str:
    """The page's words, without tags (what a reader sees)."""
    inline = re.sub(r"</?(strong|span|a|sup|em)\b[^>]*>", "", page)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline)))


@dataclass(frozen=True)
class Subject:
    """Who the test follows, read once: a Patient row would reload itself (and hold
    SQLite's write lock) after the demo run's next rollback expires it."""

    id: int
    subject_id: str


def visits(session: Session, patient: Subject) -> list[FollowUpVisit]:
    session.commit()
    found = list(session.exec(select(FollowUpVisit).where(
        FollowUpVisit.patient_id == patient.id).order_by(col(FollowUpVisit.due_on))))
    session.commit()  # end the read: SQLite's write lock waits for it
    return found


def count(session: Session, model: type, *where: object) -> int:
    session.commit()
    found = session.exec(select(func.count()).select_from(model).where(*where)).one()
    session.commit()
    return int(found)


def actions(session: Session) -> list[str]:
    session.commit()
    found = list(session.exec(select(AuditEvent.action).order_by(col(AuditEvent.seq))))
    session.commit()
    return found


def administered(lab, arm: str = "CD133", days_ago: int = DAYS_AGO) -> Subject:
    """A patient given a product through the real services (today: a product expires 12 h
    after harvest), whose visit schedule is then moved `days_ago` back, as if the
    administration had been that long ago (the server's clock cannot be moved)."""
    session, run = lab
    _product, patient = make_product(run, arm=arm, until="administered")
    assert patient.id is not None
    subject = Subject(patient.id, patient.subject_id)
    for visit in visits(session, subject):
        visit.due_on -= timedelta(days=days_ago)
        session.add(visit)
    session.commit()
    return subject


def page_of(client: TestClient, patient: Subject) -> str:
    answer = client.get(f"/patients/{patient.subject_id}/follow-up")
    assert answer.status_code == 200, answer.text[-2000:]
    return answer.text


def visit_form(token: str, day: str, **changes: str) -> dict[str, str]:
    """A week-1 visit as the physician types it: values in the units the lab reported."""
    form = {"csrf_token": token, "at": f"{day} 10:00", "v_bilirubin": "2.5",
            "u_bilirubin": "mg/dL", "v_inr": "1.6", "u_inr": "ratio", "v_creatinine": "106.08",
            "u_creatinine": "µmol/L", "v_albumin": "30", "u_albumin": "g/L", "v_sodium": "131",
            "u_sodium": "mmol/L", "ascites": "mild", "encephalopathy": "none",
            "dialysis": "no"}
    return {**form, **changes}


def record(client: TestClient, patient: Subject, visit: FollowUpVisit, data: dict[str, str]):
    return client.post(f"/patients/{patient.subject_id}/follow-up/visits/{visit.id}",
                       data=data)


def test_a_physician_records_a_visit_and_sees_the_scores_computed_and_charted(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    week1 = visits(session, patient)[0]
    client, token = browser(api_engine, "doc1")
    form = client.get(f"/patients/{patient.subject_id}/follow-up/visits/{week1.id}")
    assert form.status_code == 200
    assert 'name="u_creatinine"' in form.text and '<option value="µmol/L"' in form.text
    before = len(actions(session))

    saved = record(client, patient, week1, visit_form(token, week1.due_on.isoformat()))

    assert saved.status_code == 303, text_of(saved.text)[-1500:]
    assert saved.headers["location"].startswith(f"/patients/{patient.subject_id}/follow-up?")
    words = text_of(page_of(client, patient))
    # MELD: bilirubin 2.5, INR 1.6, creatinine 106.08 µmol/L = 1.2 mg/dL -> 16.9 -> 17;
    # MELD-Na 17 + 1.32 × 6 − 0.033 × 17 × 6 = 21.6 -> 22; Child-Pugh 2+2+1+2+1 = 8 (B).
    assert re.search(r"Week 1 visit .* done .*Creatinine 106.1 µmol/L.* 17 22 8 \(class B\)",
                     words), words
    assert "Albumin 30 g/L" in words and "Ascites mild, encephalopathy none" in words
    page = page_of(client, patient)
    chart = re.search(r'<svg[^>]*aria-labelledby="t-meld-of[^"]*"[^>]*>.*?</svg>', page, re.S)
    assert chart is not None
    assert "Week 1 visit · taken" in chart.group(0) and ": 17 points" in chart.group(0)
    assert actions(session)[before:] == ["follow_up_visit_recorded", *["lab_value_recorded"] * 5,
                                         "clinical_finding_recorded"]
    lab_rows = count(session, LabValue, LabValue.visit_id == week1.id)
    assert lab_rows == 5


def test_a_form_that_cannot_be_read_whole_records_nothing_and_says_why(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    week1 = visits(session, patient)[0]
    client, token = browser(api_engine, "doc1")
    before = len(actions(session))

    answer = record(client, patient, week1, visit_form(
        token, week1.due_on.isoformat(), v_bilirubin="2,5", v_creatinine="1.2",
        u_creatinine="g/L", v_inr="45", encephalopathy=""))

    assert answer.status_code == 422
    words = text_of(answer.text)
    assert "Nothing was recorded: 4 fields marked below need attention." in words
    assert "Creatinine is recorded in mg/dL, µmol/L, not 'g/L'" in words
    assert "choose the encephalopathy grade too" in words
    assert re.search(r'id="e_v_bilirubin">[^<]*Total bilirubin', answer.text)
    assert re.search(r'id="e_v_inr">[^<]*INR', answer.text)
    assert 'value="2,5"' in answer.text  # what was typed comes back
    assert visits(session, patient)[0].done_at is None
    assert count(session, LabValue, LabValue.patient_id == patient.id) == 0
    assert len(actions(session)) == before


def test_a_visit_recorded_twice_or_in_the_future_is_refused_in_words(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    week1, week2 = visits(session, patient)[:2]
    client, token = browser(api_engine, "doc1")
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()

    future = record(client, patient, week2, visit_form(token, tomorrow))

    assert future.status_code == 422
    assert "is in the future" in text_of(future.text)
    assert count(session, LabValue, LabValue.patient_id == patient.id) == 0
    assert record(client, patient, week1, visit_form(token, week1.due_on.isoformat())
                  ).status_code == 303
    again = record(client, patient, week1, visit_form(token, week1.due_on.isoformat()))
    assert again.status_code == 409
    assert (f"Nothing was recorded: visit {week1.code} was already recorded on"
            in text_of(again.text))
    assert "follow_up_refused" in actions(session)


def test_overdue_visits_are_on_the_physicians_worklist_until_recorded(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    week1 = visits(session, patient)[0]
    client, token = browser(api_engine, "doc1")

    home = text_of(client.get("/").text)

    assert "Follow-up visits overdue 4" in home
    assert re.search(rf"{patient.subject_id} .*Week 1 visit .*days past its window", home)
    assert f'href="/patients/{patient.subject_id}/follow-up/visits/{week1.id}"' in \
        client.get("/").text
    technician, _ = browser(api_engine, "tech1")
    assert "Follow-up visits overdue" not in technician.get("/").text
    record(client, patient, week1, visit_form(token, week1.due_on.isoformat()))
    assert "Follow-up visits overdue 3" in text_of(client.get("/").text)


def test_the_lab_does_not_read_the_follow_up_and_qa_reads_but_does_not_record(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    week1 = visits(session, patient)[0]
    for username in ("tech1", "super1"):
        client, _ = browser(api_engine, username)
        assert client.get(f"/patients/{patient.subject_id}/follow-up").status_code == 403
        assert client.get("/outcomes").status_code == 403
    qa, token = browser(api_engine, "qa1")
    page = page_of(qa, patient)
    assert "Record visit" not in page and "Report an adverse event" not in page
    refused = record(qa, patient, week1, visit_form(token, week1.due_on.isoformat()))
    assert refused.status_code == 403
    assert visits(session, patient)[0].done_at is None


def test_baseline_and_visits_make_the_per_arm_table(api_engine, lab):
    session = lab[0]
    first, second = administered(lab, "CD133"), administered(lab, "BM-MNC")
    client, token = browser(api_engine, "doc1")
    values_day = (utcnow() - timedelta(days=DAYS_AGO + 3)).date().isoformat()
    for patient, bilirubin in ((first, "3.0"), (second, "1.5")):
        baseline = client.post(f"/patients/{patient.subject_id}/follow-up/values",
                               data=visit_form(token, values_day, v_bilirubin=bilirubin))
        assert baseline.status_code == 303, text_of(baseline.text)[-1500:]
        week1 = visits(session, patient)[0]
        assert record(client, patient, week1, visit_form(token, week1.due_on.isoformat())
                      ).status_code == 303

    table = text_of(client.get("/outcomes?score=meld").text)

    # baseline MELD: bilirubin 3.0 -> 18 (CD133), 1.5 -> 15 (BM-MNC); week 1 both 17
    assert "BM-MNC (n = 1)" in table and "CD133 (n = 1)" in table
    assert re.search(r"Baseline \(before the first administration\) 1 15\.0 15\.0 baseline "
                     r"1 18\.0 18\.0 baseline", table), table
    assert re.search(r"Week 1 visit 1 17\.0 17\.0 \+2\.0 \(n = 1\) 1 17\.0 17\.0 -1\.0 "
                     r"\(n = 1\)", table), table
    child = text_of(client.get("/outcomes?score=child_pugh").text)
    assert "Child-Pugh by arm" in child


def test_a_blinded_role_sees_neither_the_arm_nor_a_comparison_by_arm(api_engine, lab):
    session = lab[0]
    first, second = administered(lab, "CD133"), administered(lab, "BM-MNC")
    doctor, token = browser(api_engine, "doc1")
    for patient in (first, second):
        week1 = visits(session, patient)[0]
        record(doctor, patient, week1, visit_form(token, week1.due_on.isoformat()))
    set_protocol_parameter(session, "arm_blinded_roles", "qa")
    qa, _ = browser(api_engine, "qa1")

    page = text_of(page_of(qa, first))
    table = qa.get("/outcomes")

    assert f"Arm {HIDDEN_ARM}" in page
    assert "CD133" not in page and "BM-MNC" not in page
    words = text_of(table.text)
    assert table.status_code == 200
    assert "both arms pooled (n = 2)" in words and "arm is hidden (blinded)" in words
    assert "CD133" not in words and "BM-MNC" not in words
    assert re.search(r"Week 1 visit 2 17\.0 17\.0", words)
    # the physician, not blinded, still compares the arms
    assert "CD133 (n = 1)" in text_of(doctor.get("/outcomes").text)
    assert "Arm CD133" in text_of(page_of(doctor, first))


def test_a_serious_adverse_event_is_flagged_and_notified(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    client, token = browser(api_engine, "doc1")
    url = f"/patients/{patient.subject_id}/follow-up/adverse-events"
    today = utcnow().date().isoformat()
    form = {"csrf_token": token, "description": "Portal vein thrombosis", "onset_on": today,
            "grade": "3", "relatedness": "possible", "outcome": "recovering"}
    notified = count(session, Notification)

    unanswered = client.post(url, data=form)

    assert unanswered.status_code == 422
    assert "answer yes or no: is it serious (SAE)?" in text_of(unanswered.text)
    assert count(session, AdverseEvent, AdverseEvent.patient_id == patient.id) == 0
    saved = client.post(url, data={**form, "serious": "yes"})
    assert saved.status_code == 303
    assert "SERIOUS adverse event reported" in text_of(client.get(saved.headers["location"]).text)
    words = text_of(page_of(client, patient))
    assert re.search(r"Portal vein thrombosis 3 SAE: serious possible recovering", words)
    assert count(session, Notification) > notified


def test_a_death_ends_follow_up_and_its_overdue_visits(api_engine, lab):
    patient = administered(lab)
    client, token = browser(api_engine, "doc1")
    url = f"/patients/{patient.subject_id}/follow-up/events"
    day = (utcnow() - timedelta(days=DAYS_AGO - 10)).date().isoformat()

    unknown = client.post(url, data={"csrf_token": token, "kind": "coma", "occurred_on": day})
    saved = client.post(url, data={"csrf_token": token, "kind": "death", "occurred_on": day,
                                   "note": "Variceal bleeding"})

    assert unknown.status_code == 422
    assert "“coma” is not one of the choices" in text_of(unknown.text)
    assert saved.status_code == 303
    words = text_of(page_of(client, patient))
    assert f"Follow-up ended {day}" in words and "death: Variceal bleeding" in words
    assert "not expected" in words
    # week 1 (its window opened 55 days ago) stays overdue; week 2's opened after the death
    assert "Follow-up visits overdue 1" in text_of(client.get("/").text)


def test_values_outside_a_visit_need_something_to_record(api_engine, lab):
    patient = administered(lab)
    client, token = browser(api_engine, "doc1")

    empty = client.post(f"/patients/{patient.subject_id}/follow-up/values",
                        data={"csrf_token": token, "at": "now"})

    assert empty.status_code == 422
    assert "type at least one laboratory value or choose the grades" in text_of(empty.text)
    assert count(lab[0], ClinicalFinding, ClinicalFinding.patient_id == patient.id) == 0


def test_the_outcomes_api_pools_the_arms_for_a_blinded_role(api):
    lab = (api.session, api.run)
    for arm in ("CD133", "BM-MNC"):
        patient = administered(lab, arm)
        week1 = visits(api.session, patient)[0]
        done = api.post(f"/follow-up/visits/{week1.id}", user="doc1",
                        json={"done_at": f"{week1.due_on.isoformat()}T10:00:00+03:30"})
        assert done.status_code == 200, done.text
        values = api.post(f"/patients/{patient.subject_id}/lab-values", user="doc1", json={
            "sampled_at": f"{week1.due_on.isoformat()}T10:00:00+03:30", "visit_id": week1.id,
            "values": [{"analyte": "bilirubin", "value": 2.5, "unit": "mg/dL"},
                       {"analyte": "inr", "value": 1.6, "unit": "ratio"},
                       {"analyte": "creatinine", "value": 1.2, "unit": "mg/dL"}]})
        assert values.status_code == 201, values.text
    set_protocol_parameter(api.session, "arm_blinded_roles", "qa")

    blinded = api.get("/outcomes", user="qa1")
    open_ = api.get("/outcomes?score=meld", user="doc1")

    assert blinded.status_code == 200, blinded.text
    body = blinded.json()
    assert body["pooled"] is True and body["patients"] == {"both arms pooled": 2}
    assert "CD133" not in blinded.text and "BM-MNC" not in blinded.text
    week1_row = next(row for row in body["visits"] if row["visit"] == "W1")
    assert week1_row["figures"] == [{"group": "both arms pooled", "n": 2, "median": 17.0,
                                     "mean": 17.0, "change_n": 0, "change_mean": None}]
    assert open_.json()["pooled"] is False
    assert open_.json()["patients"] == {"BM-MNC": 1, "CD133": 1}
    assert api.get("/outcomes", user="tech1").status_code == 403
    assert api.get("/outcomes?score=bilirubin", user="doc1").status_code == 422


def test_a_second_administration_joins_the_timeline_and_the_table_after_the_first(
        api_engine, lab):
    session, run = lab
    patient = administered(lab)
    session.commit()
    found = session.get(Patient, patient.id)
    assert found is not None
    make_product(run, arm="CD133", until="administered", patient=found)
    session.commit()
    client, _token = browser(api_engine, "doc1")

    words = text_of(page_of(client, patient))
    table = text_of(client.get("/outcomes").text)

    assert words.count("Week 1 visit") == 2
    assert "Week 1 visit after administration 2" in words
    assert table.index("Week 24 laboratory visit 0") < table.index(
        "Week 1 visit after administration 2")


# --- corrections of laboratory values and updates of adverse events -----------------------

def recorded_week1(lab, api_engine) -> tuple[TestClient, str, Subject, FollowUpVisit]:
    """A patient whose week-1 visit is recorded through the page (MELD 17, Child-Pugh 8),
    and the physician's client that recorded it."""
    patient = administered(lab)
    week1 = visits(lab[0], patient)[0]
    client, token = browser(api_engine, "doc1")
    saved = record(client, patient, week1, visit_form(token, week1.due_on.isoformat()))
    assert saved.status_code == 303, text_of(saved.text)[-1500:]
    return client, token, patient, week1


def lab_value(session: Session, visit: FollowUpVisit, analyte: str,
              superseded: bool = False) -> LabValue:
    session.commit()
    found = session.exec(select(LabValue).where(
        LabValue.visit_id == visit.id, LabValue.analyte == analyte,
        col(LabValue.superseded).is_(superseded))).one()
    session.expunge(found)
    session.commit()
    return found


def correct(client: TestClient, patient: Subject, value_id: int | None, **data: str):
    return client.post(f"/patients/{patient.subject_id}/follow-up/values/{value_id}/correct",
                       data=data)


def test_a_physician_corrects_a_value_on_the_page_and_the_scores_follow(api_engine, lab):
    from lims.services.follow_up_scores import visit_scores

    session = lab[0]
    client, token, patient, week1 = recorded_week1(lab, api_engine)
    old = lab_value(session, week1, "bilirubin")
    page = page_of(client, patient)
    assert f'action="/patients/{patient.subject_id}/follow-up/values/{old.id}/correct"' in page
    assert re.search(rf'id="c{old.id}_unit" name="unit"[^>]*>.*?<option value="µmol/L"',
                     page, re.S)

    saved = correct(client, patient, old.id, csrf_token=token, value="3.5", unit="mg/dL",
                    reason="Typo: the report says 3.5")

    assert saved.status_code == 303, text_of(saved.text)[-1500:]
    shown = text_of(client.get(saved.headers["location"]).text)
    assert "Total bilirubin 2.5 mg/dL → 3.5 mg/dL" in shown
    new = lab_value(session, week1, "bilirubin")
    assert lab_value(session, week1, "bilirubin", superseded=True).id == old.id
    assert new.corrects_id == old.id and new.reason == "Typo: the report says 3.5"
    session.commit()
    scores = visit_scores(session, week1)
    session.commit()
    # bilirubin 3.5 mg/dL: MELD 17 -> 18; Child-Pugh bilirubin 2 -> 3 points, 8 -> 9 (B)
    assert scores.meld is not None and scores.meld.score == 18
    assert scores.child_pugh is not None and scores.child_pugh.points == 9
    assert scores.meld_na is not None
    assert re.search(rf"Week 1 visit .* done .*Total bilirubin 3.50 mg/dL.* 18 "
                     rf"{scores.meld_na.score} 9 \(class B\)", shown), shown
    assert re.search(r"Total bilirubin 2.50 mg/dL superseded \(corrected\)", shown)
    assert (f"Total bilirubin 3.50 mg/dL in force; corrects value {old.id}: Typo: the report "
            "says 3.5") in shown
    assert actions(session)[-1] == "lab_value_corrected"


def test_a_refused_correction_writes_nothing_and_keeps_what_was_typed(api_engine, lab):
    session = lab[0]
    client, token, patient, week1 = recorded_week1(lab, api_engine)
    old = lab_value(session, week1, "creatinine")
    values = count(session, LabValue, LabValue.patient_id == patient.id)

    no_reason = correct(client, patient, old.id, csrf_token=token, value="1.3",
                        unit="mg/dL", reason="  ")
    too_high = correct(client, patient, old.id, csrf_token=token, value="130",
                       unit="mg/dL", reason="Report re-read")
    bad_unit = correct(client, patient, old.id, csrf_token=token, value="1.3",
                       unit="g/L", reason="Report re-read")

    assert no_reason.status_code == 422
    assert "Nothing was corrected: a correction needs its reason." in text_of(no_reason.text)
    assert too_high.status_code == 422
    assert "Nothing was corrected: Creatinine:" in text_of(too_high.text)
    assert re.search(rf'id="c{old.id}_value" name="value" value="130"', too_high.text)
    assert re.search(rf'id="c{old.id}_reason" name="reason" value="Report re-read"',
                     too_high.text)
    assert bad_unit.status_code == 422
    assert "Creatinine is recorded in mg/dL, µmol/L, not 'g/L'" in text_of(bad_unit.text)
    assert count(session, LabValue, LabValue.patient_id == patient.id) == values
    assert lab_value(session, week1, "creatinine").id == old.id
    assert "lab_value_corrected" not in actions(session)


def test_a_superseded_value_or_a_non_physician_cannot_correct(api_engine, lab):
    session = lab[0]
    client, token, patient, week1 = recorded_week1(lab, api_engine)
    old = lab_value(session, week1, "albumin")
    assert correct(client, patient, old.id, csrf_token=token, value="32", unit="g/L",
                   reason="Report re-read").status_code == 303
    values = count(session, LabValue, LabValue.patient_id == patient.id)

    again = correct(client, patient, old.id, csrf_token=token, value="33", unit="g/L",
                    reason="Once more")
    refused = {}
    for username in ("tech1", "qa1"):
        other, other_token = browser(api_engine, username)
        refused[username] = correct(other, patient, lab_value(session, week1, "albumin").id,
                                    csrf_token=other_token, value="34", unit="g/L",
                                    reason="Not mine to correct")
    forged = correct(client, patient, old.id, value="33", unit="g/L", reason="No token")

    assert again.status_code == 409
    assert (f"Nothing was corrected: laboratory value {old.id} was corrected already"
            in text_of(again.text))
    assert refused["tech1"].status_code == 403 and refused["qa1"].status_code == 403
    assert forged.status_code == 403
    assert count(session, LabValue, LabValue.patient_id == patient.id) == values
    assert actions(session).count("lab_value_corrected") == 1


def reported_ae(client: TestClient, token: str, patient: Subject) -> None:
    url = f"/patients/{patient.subject_id}/follow-up/adverse-events"
    saved = client.post(url, data={
        "csrf_token": token, "description": "Fever 38.6 °C", "serious": "no",
        "onset_on": (utcnow() - timedelta(days=3)).date().isoformat(), "grade": "1",
        "relatedness": "possible", "outcome": "not_recovered"})
    assert saved.status_code == 303, text_of(saved.text)[-1500:]


def the_ae(session: Session, patient: Subject) -> AdverseEvent:
    session.commit()
    found = session.exec(select(AdverseEvent).where(
        AdverseEvent.patient_id == patient.id)).one()
    session.expunge(found)
    session.commit()
    return found


def update_form(page: str) -> dict[str, str]:
    """The update form as the page fills it: what is recorded and the version."""
    form = re.search(r'<form method="post" action="[^"]*/adverse-events/\d+".*?</form>',
                     page, re.S)
    assert form is not None
    fields = {name: html.unescape(value) for name, value in re.findall(
        r'<input[^>]*name="([^"]+)" value="([^"]*)"', form.group(0))}
    fields.update(re.findall(r'<select id="[^"]+" name="([^"]+)".*?<option value="([^"]*)" '
                             r'selected', form.group(0), re.S))
    return fields


def test_an_adverse_event_is_updated_on_the_page_with_its_reason(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    client, token = browser(api_engine, "doc1")
    reported_ae(client, token, patient)
    ae = the_ae(session, patient)
    url = f"/patients/{patient.subject_id}/follow-up/adverse-events/{ae.id}"
    assert f'href="{url}"' in page_of(client, patient)
    filled = update_form(client.get(url).text)
    assert filled["version"] == "1" and filled["grade"] == "1"
    assert filled["outcome"] == "not_recovered" and filled["serious"] == "no"
    today = utcnow().date().isoformat()

    no_reason = client.post(url, data={**filled, "outcome": "recovered",
                                       "resolved_on": today})
    saved = client.post(url, data={**filled, "outcome": "recovered", "resolved_on": today,
                                   "grade": "2", "reason": "Resolved after paracetamol"})

    assert no_reason.status_code == 422
    assert "say why it is updated" in text_of(no_reason.text)
    assert saved.status_code == 303, text_of(saved.text)[-1500:]
    assert "Adverse event" in text_of(client.get(saved.headers["location"]).text)
    now = the_ae(session, patient)
    assert (now.version, now.grade, now.outcome) == (2, 2, "recovered")
    session.commit()
    events = list(session.exec(select(AuditEvent).where(
        AuditEvent.action == "adverse_event_updated", AuditEvent.entity_id == str(ae.id))
        .order_by(col(AuditEvent.seq))))
    session.commit()
    assert {(e.field, e.old_value, e.new_value, e.reason) for e in events} == {
        ("grade", "1", "2", "Resolved after paracetamol"),
        ("outcome", "not_recovered", "recovered", "Resolved after paracetamol"),
        ("resolved_on", None, today, "Resolved after paracetamol")}
    assert re.search(r"Fever 38.6 °C 2 no possible recovered", text_of(page_of(client, patient)))


def test_a_stale_update_form_is_refused_and_overwrites_nothing(api_engine, lab):
    session = lab[0]
    patient = administered(lab)
    client, token = browser(api_engine, "doc1")
    reported_ae(client, token, patient)
    ae = the_ae(session, patient)
    url = f"/patients/{patient.subject_id}/follow-up/adverse-events/{ae.id}"
    mine = update_form(client.get(url).text)
    theirs = update_form(client.get(url).text)
    assert client.post(url, data={**theirs, "grade": "2", "reason": "Worse today"}
                       ).status_code == 303

    stale = client.post(url, data={**mine, "outcome": "recovering",
                                   "reason": "Better today"})
    technician, tech_token = browser(api_engine, "tech1")
    forbidden = technician.post(url, data={**mine, "csrf_token": tech_token, "version": "2",
                                           "outcome": "recovering", "reason": "Not mine"})

    assert stale.status_code == 409
    assert (f"Not updated: adverse event {ae.id} was updated by someone else (now version 2); "
            "reload it." in text_of(stale.text))
    assert 'value="recovering" selected' in stale.text  # what was typed comes back
    assert forbidden.status_code == 403
    now = the_ae(session, patient)
    assert (now.version, now.grade, now.outcome) == (2, 2, "not_recovered")
