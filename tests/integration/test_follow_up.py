"""Clinical follow-up after administration (issue 15): the schedule each administration
starts, laboratory values and findings, computed scores, adverse and clinical events."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from lims.models import (
    AdverseEvent,
    AuditEvent,
    FollowUpVisit,
    LabValue,
    Notification,
    Patient,
    Product,
    User,
)
from lims.services.adverse_events import (
    correct_clinical_event,
    record_clinical_event,
    report_adverse_event,
    update_adverse_event,
)
from lims.services.common import user_by_name, utcnow
from lims.services.follow_up import follow_up_timeline, overdue_visits, record_visit
from lims.services.follow_up_entries import Grades, record_follow_up
from lims.services.follow_up_records import (
    LabEntry,
    correct_lab_value,
    record_clinical_finding,
    record_lab_values,
)
from lims.services.follow_up_scores import scores_at, visit_scores
from tests.factories import audit_count, make_product, seeded
from workflows.errors import DomainError, ErrorCode, Forbidden, InvalidInput
from workflows.follow_up import VisitStatus


@pytest.fixture
def administered(session: Session) -> tuple[Product, Patient]:
    run = seeded(session)
    return make_product(run, arm="CD133", until="administered")


def doc(session: Session) -> User:
    return user_by_name(session, "doc1")


def visits(session: Session, patient: Patient) -> list[FollowUpVisit]:
    return list(session.exec(select(FollowUpVisit).where(FollowUpVisit.patient_id == patient.id)
                             .order_by(col(FollowUpVisit.due_on))))


def test_administration_schedules_the_protocol_visits_in_its_transaction(session, administered):
    product, patient = administered
    found = visits(session, patient)
    assert [v.code for v in found] == ["W1", "W2", "W3", "W4", "W8", "W12", "W16", "W20", "W24"]
    assert {v.product_id for v in found} == {product.id}
    first_day = found[0].due_on - timedelta(days=7)
    assert found[-1].due_on == first_day + timedelta(days=168)
    assert audit_count(session, "follow_up_scheduled") == 1


def test_a_second_administration_joins_the_first_on_one_timeline(session):
    # SCTM 2016 gave a second product at month 3; the expiry rule keeps a test from
    # processing a product three months ago, so both are given today here: each still
    # starts its own schedule, and the timeline keeps which administration each visit follows.
    run = seeded(session)
    first, patient = make_product(run, arm="CD133", until="administered")
    second, _ = make_product(run, arm="CD133", until="administered", patient=patient)
    timeline = follow_up_timeline(session, actor=doc(session), subject_id=patient.subject_id)
    assert len(timeline.visits) == 18
    assert [din for din, _day in timeline.administrations] == [first.din, second.din]
    order = [(row.din, row.visit.code) for row in timeline.visits]
    assert order[:4] == [(first.din, "W1"), (second.din, "W1"), (first.din, "W2"),
                         (second.din, "W2")]
    dues = [row.visit.due_on for row in timeline.visits]
    assert dues == sorted(dues)
    assert {row.status for row in timeline.visits} == {VisitStatus.UPCOMING}
    later = timeline.visits[0].visit.due_on + timedelta(days=3)
    assert [(o.din, o.code) for o in overdue_visits(session, actor=doc(session),
                                                     today=later)] == [
        (first.din, "W1"), (second.din, "W1")]


def test_lab_values_are_converted_and_scores_computed_per_visit(session, administered):
    _product, patient = administered
    visit = visits(session, patient)[0]
    at = utcnow() - timedelta(minutes=5)
    rows = record_lab_values(session, actor=doc(session), subject_id=patient.subject_id,
                             sampled_at=at, visit_id=visit.id, entries=[
                                 LabEntry("bilirubin", "32.49", "µmol/L"),  # 1.9 mg/dL
                                 LabEntry("inr", 1.2, ""),
                                 LabEntry("creatinine", 114.92, "umol/L"),  # 1.3 mg/dL
                                 LabEntry("albumin", 30, "g/L"),
                                 LabEntry("sodium", 130, "mmol/L")])
    bili = next(r for r in rows if r.analyte == "bilirubin")
    assert (bili.value_entered, bili.unit_entered, bili.unit) == (32.49, "µmol/L", "mg/dL")
    assert bili.value == pytest.approx(1.9)
    record_clinical_finding(session, actor=doc(session), subject_id=patient.subject_id,
                            ascites="mild", encephalopathy="none", observed_at=at,
                            visit_id=visit.id)
    scores = visit_scores(session, visit)
    assert scores.meld is not None and scores.meld.score == 13  # calculatorlib example
    assert scores.meld_na is not None and scores.meld_na.score == 13 + round(
        1.32 * 7 - 0.033 * 13 * 7)
    assert scores.child_pugh is not None
    assert (scores.child_pugh.points, scores.child_pugh.child_class) == (7, "B")
    assert scores.missing == ()
    assert scores_at(session, patient, utcnow()).meld == scores.meld
    assert audit_count(session, "lab_value_recorded") == 5


def test_a_corrected_value_corrects_the_score_and_keeps_the_old_one(session, administered):
    _product, patient = administered
    at = utcnow() - timedelta(minutes=5)
    rows = record_lab_values(session, actor=doc(session), subject_id=patient.subject_id,
                             sampled_at=at, entries=[LabEntry("bilirubin", 1.9, "mg/dL"),
                                                     LabEntry("inr", 1.2, "ratio"),
                                                     LabEntry("creatinine", 13, "mg/dL")])
    assert scores_at(session, patient, utcnow()).meld.score > 13  # type: ignore[union-attr]
    creat = next(r for r in rows if r.analyte == "creatinine")
    new = correct_lab_value(session, actor=doc(session), lab_value_id=creat.id, value="1.3",
                            unit="mg/dL", reason="decimal point missed")
    assert new.corrects_id == creat.id
    session.refresh(creat)
    assert creat.superseded
    assert scores_at(session, patient, utcnow()).meld.score == 13  # type: ignore[union-attr]
    with pytest.raises(DomainError) as refused:
        correct_lab_value(session, actor=doc(session), lab_value_id=new.id, value="1.4",
                          unit="mg/dL", reason="  ")
    assert refused.value.code == ErrorCode.REASON_REQUIRED


@pytest.mark.parametrize(("entry", "message"), [
    (LabEntry("creatinine", "1,3", "mg/dL"), "without commas"),
    (LabEntry("creatinine", True, "mg/dL"), "yes/no"),
    (LabEntry("creatinine", 1.3, "g/L"), "not 'g/L'"),
    (LabEntry("bilirubin", 900, "mg/dL"), "at most 80"),
    (LabEntry("glucose", 5, "mmol/L"), "not a laboratory value"),
])
def test_implausible_or_malformed_values_are_refused_whole(session, administered, entry,
                                                           message):
    _product, patient = administered
    refusals = audit_count(session, "follow_up_refused")
    with pytest.raises(InvalidInput, match=message):
        record_lab_values(session, actor=doc(session), subject_id=patient.subject_id,
                          sampled_at=utcnow(), entries=[LabEntry("inr", 1.1, ""), entry])
    assert session.exec(select(LabValue)).all() == []
    assert audit_count(session, "follow_up_refused") == refusals + 1


def test_technicians_do_not_record_and_a_future_time_is_refused(session, administered):
    _product, patient = administered
    tech = user_by_name(session, "tech1")
    with pytest.raises(Forbidden):
        record_lab_values(session, actor=tech, subject_id=patient.subject_id,
                          sampled_at=utcnow(), entries=[LabEntry("inr", 1.1, "")])
    with pytest.raises(Forbidden):
        follow_up_timeline(session, actor=tech, subject_id=patient.subject_id)
    with pytest.raises(DomainError) as future:
        record_lab_values(session, actor=doc(session), subject_id=patient.subject_id,
                          sampled_at=utcnow() + timedelta(hours=2),
                          entries=[LabEntry("inr", 1.1, "")])
    assert future.value.code == ErrorCode.TIME_IN_FUTURE
    assert session.exec(select(LabValue)).all() == []
    assert audit_count(session, "follow_up_refused") == 2  # the writes; a read is not audited
    qa = user_by_name(session, "qa1")
    assert follow_up_timeline(session, actor=qa, subject_id=patient.subject_id).visits


def test_a_serious_adverse_event_notifies_the_physician_and_qa(session, administered):
    product, patient = administered
    before = session.exec(select(Notification)).all()
    ae = report_adverse_event(session, actor=doc(session), subject_id=patient.subject_id,
                              description="Portal vein thrombosis", onset_on=date.today(),
                              grade=3, serious=True, relatedness="possible",
                              outcome="not_recovered", din=product.din)
    notes = [n for n in session.exec(select(Notification)).all() if n not in before]
    assert sorted(n.to_address for n in notes) == ["doc1@lab.invalid", "qa1@lab.invalid"]
    assert all("SERIOUS adverse event" in n.subject and patient.subject_id in n.subject
               for n in notes)
    assert all("Portal vein thrombosis" in n.body for n in notes)
    assert ae.product_id == product.id
    # an update that changes the outcome is audited old → new and tells nobody again
    update_adverse_event(session, actor=doc(session), adverse_event_id=ae.id,
                         changes={"outcome": "recovered", "resolved_on": date.today()},
                         reason="thrombus resolved on anticoagulation", expected_version=1)
    assert len(session.exec(select(Notification)).all()) == len(before) + 2
    changed = session.exec(select(AuditEvent).where(
        AuditEvent.action == "adverse_event_updated")).all()
    assert {(e.field, e.old_value, e.new_value) for e in changed} >= {
        ("outcome", "not_recovered", "recovered")}
    with pytest.raises(DomainError) as stale:
        update_adverse_event(session, actor=doc(session), adverse_event_id=ae.id,
                             changes={"grade": 2}, reason="re-graded", expected_version=1)
    assert stale.value.code == ErrorCode.CONFLICT


def test_a_non_serious_event_notifies_nobody_until_it_becomes_serious(session, administered):
    _product, patient = administered
    count = len(session.exec(select(Notification)).all())
    ae = report_adverse_event(session, actor=doc(session), subject_id=patient.subject_id,
                              description="Mild fever", onset_on=date.today(), grade=1,
                              serious=False, relatedness="unlikely", outcome="recovering")
    assert len(session.exec(select(Notification)).all()) == count
    update_adverse_event(session, actor=doc(session), adverse_event_id=ae.id,
                         changes={"serious": True, "grade": 3},
                         reason="admitted to hospital")
    assert len(session.exec(select(Notification)).all()) == count + 2
    with pytest.raises(InvalidInput):
        report_adverse_event(session, actor=doc(session), subject_id=patient.subject_id,
                             description="x", onset_on=date.today(), grade=6, serious=False,
                             relatedness="possible", outcome="recovering")
    assert len(session.exec(select(AdverseEvent)).all()) == 1


def test_overdue_visits_and_death_ending_follow_up(session, administered):
    _product, patient = administered
    first = visits(session, patient)[0]
    later = first.due_on + timedelta(days=40)
    overdue = overdue_visits(session, actor=doc(session), today=later)
    assert [o.code for o in overdue] == ["W1", "W2", "W3", "W4"]  # most overdue first
    assert overdue[0].subject_id == patient.subject_id
    assert overdue[0].days_overdue == 40 - 2
    record_visit(session, actor=doc(session), visit_id=first.id,
                 done_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(DomainError):
        record_visit(session, actor=doc(session), visit_id=first.id, done_at=utcnow())
    assert [o.code for o in overdue_visits(session, actor=doc(session), today=later)] == [
        "W2", "W3", "W4"]
    record_clinical_event(session, actor=doc(session), subject_id=patient.subject_id,
                          kind="death", occurred_on=date.today())
    assert overdue_visits(session, actor=doc(session), today=later) == []
    timeline = follow_up_timeline(session, actor=doc(session), subject_id=patient.subject_id,
                                  today=later)
    assert timeline.ended_on == date.today()
    assert {row.status for row in timeline.visits} == {VisitStatus.DONE,
                                                       VisitStatus.NOT_EXPECTED}


def test_hcc_flags_later_visits_but_keeps_them_due(session, administered):
    _product, patient = administered
    record_clinical_event(session, actor=doc(session), subject_id=patient.subject_id,
                          kind="hcc", occurred_on=date.today())
    timeline = follow_up_timeline(session, actor=doc(session), subject_id=patient.subject_id)
    assert timeline.ended_on is None and timeline.hcc_on == date.today()
    assert all(row.hcc_flag for row in timeline.visits)
    assert VisitStatus.NOT_EXPECTED not in {row.status for row in timeline.visits}


def test_a_death_recorded_in_error_is_withdrawn_and_follow_up_resumes(session, administered):
    _product, patient = administered
    later = visits(session, patient)[0].due_on + timedelta(days=5)
    death = record_clinical_event(session, actor=doc(session), subject_id=patient.subject_id,
                                  kind="death", occurred_on=date.today() - timedelta(days=1))
    with pytest.raises(InvalidInput, match="after the death"):
        record_lab_values(session, actor=doc(session), subject_id=patient.subject_id,
                          sampled_at=utcnow(), entries=[LabEntry("inr", 1.1, "")])
    assert overdue_visits(session, actor=doc(session), today=later) == []
    with pytest.raises(DomainError) as no_reason:
        correct_clinical_event(session, actor=doc(session), clinical_event_id=death.id,
                               reason="")
    assert no_reason.value.code == ErrorCode.REASON_REQUIRED
    assert correct_clinical_event(session, actor=doc(session), clinical_event_id=death.id,
                                  reason="recorded for the wrong patient") is None
    assert [o.code for o in overdue_visits(session, actor=doc(session), today=later)] == [
        "W1"]
    assert audit_count(session, "clinical_event_corrected") == 1


def test_a_fatal_adverse_event_is_grade_5_and_serious(session, administered):
    _product, patient = administered
    fields = dict(actor=doc(session), subject_id=patient.subject_id, description="Death",
                  onset_on=date.today(), relatedness="possible")
    with pytest.raises(InvalidInput, match="serious"):
        report_adverse_event(session, grade=5, serious=False, outcome="fatal", **fields)
    with pytest.raises(InvalidInput, match="fatal"):
        report_adverse_event(session, grade=5, serious=True, outcome="not_recovered", **fields)
    with pytest.raises(InvalidInput, match="fatal"):
        report_adverse_event(session, grade=3, serious=True, outcome="fatal", **fields)
    with pytest.raises(Forbidden):
        report_adverse_event(session, grade=1, serious=False, outcome="recovered",
                             **{**fields, "actor": user_by_name(session, "tech1")})
    assert session.exec(select(AdverseEvent)).all() == []


def test_the_demo_follows_both_administered_patients(session):
    from lims.demo import run_demo
    from lims.services.seed import load_seed, seed

    seed(session, load_seed(demo=True), progress=lambda _m: None)
    said: list[str] = []
    products = run_demo(session, say=said.append)
    given = [p for p in products if p.state == "administered"]
    assert len(given) == 2
    for product in given:
        patient = session.get(Patient, product.patient_id)
        scores = scores_at(session, patient, utcnow())
        assert scores.meld is not None and scores.child_pugh is not None, scores.missing
    # the second patient's values were entered in SI units and converted
    second = session.get(Patient, given[1].patient_id)
    bili = session.exec(select(LabValue).where(LabValue.patient_id == second.id,
                                               LabValue.analyte == "bilirubin")).all()
    assert {b.unit_entered for b in bili} == {"µmol/L"}
    assert {round(b.value, 1) for b in bili} == {3.0, 2.8}
    assert len(session.exec(select(AdverseEvent)).all()) == 1
    assert any(line.startswith("follow-up of") and "MELD" in line for line in said)


def test_a_lab_value_changed_behind_the_system_shows_as_not_intact(session, administered):
    from sqlalchemy import text

    from lims.services.follow_up_records import lab_value_intact

    _product, patient = administered
    (row,) = record_lab_values(session, actor=doc(session), subject_id=patient.subject_id,
                               sampled_at=utcnow(), entries=[LabEntry("inr", 1.1, "")])
    assert lab_value_intact(row)
    session.execute(text("UPDATE lab_value SET value = 1.9 WHERE id = :id"), {"id": row.id})
    session.commit()
    session.refresh(row)
    assert not lab_value_intact(row)


def test_one_form_is_one_transaction_a_refused_value_leaves_the_visit_not_done(
        session, administered):
    _product, patient = administered
    first = visits(session, patient)[0]
    refusals = audit_count(session, "follow_up_refused")
    with pytest.raises(InvalidInput, match="at most 80"):
        record_follow_up(session, actor=doc(session), subject_id=patient.subject_id,
                         at=utcnow() - timedelta(minutes=1), visit_id=first.id,
                         labs=[LabEntry("inr", 1.1, ""), LabEntry("bilirubin", 900, "mg/dL")],
                         grades=Grades("none", "none"))
    session.expire_all()
    assert session.get(FollowUpVisit, first.id).done_at is None
    assert session.exec(select(LabValue)).all() == []
    assert audit_count(session, "follow_up_visit_recorded") == 0
    assert audit_count(session, "follow_up_refused") == refusals + 1  # once, not per part
    # and the same form with a plausible value records all three parts together
    done = record_follow_up(session, actor=doc(session), subject_id=patient.subject_id,
                            at=utcnow() - timedelta(minutes=1), visit_id=first.id,
                            labs=[LabEntry("inr", 1.1, ""), LabEntry("bilirubin", 2, "mg/dL")],
                            grades=Grades("none", "none"))
    assert done == ["visit W1", "2 laboratory values", "the grades"]
    session.expire_all()
    assert session.get(FollowUpVisit, first.id).done_at is not None
    assert len(session.exec(select(LabValue)).all()) == 2
