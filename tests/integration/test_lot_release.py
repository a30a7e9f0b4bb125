"""Reagent lots received into quarantine and released for use (or rejected) by QA, and
equipment calibration recorded, through the services: a step takes only a released lot."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Equipment, ReagentLot, User
from lims.services.materials import (
    record_calibration,
    register_reagent_lot,
    reject_reagent_lot,
    release_reagent_lot,
    site_today,
)
from lims.services.users import change_role, user_named
from lims.services.verification import verify_all
from tests.factories import audit_count, make_product, perform, seeded
from tests.integration.test_guards import refused, with_values
from workflows.errors import DomainError, ErrorCode
from workflows.materials import LotStatus

E = ErrorCode


def received_lot(run, lot: str = "FP2611", **overrides) -> ReagentLot:
    """A density gradient medium lot a supervisor registers as it arrives."""
    fields = {"reagent": "Ficoll-Paque PREMIUM 1.077", "lot": lot,
              "material": "density_gradient_medium", "expires_on": date(2030, 6, 30),
              "manufacturer": "Cytiva"} | overrides
    return register_reagent_lot(run.session, actor=run.user("super1"), **fields)


def events(session: Session, action: AuditAction, lot: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.entity_id == lot).order_by(col(AuditEvent.seq))))


def refusal(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- registration --------------------------------------------------------------------------

def test_a_lot_a_supervisor_registers_is_received_into_quarantine_today(session):
    run = seeded(session)

    row = received_lot(run)

    assert (row.status, row.received_on) == (LotStatus.QUARANTINE, site_today())
    assert row.status_changed_by_id is None
    registered = {e.field: (e.old_value, e.new_value, e.username)
                  for e in events(session, AuditAction.REAGENT_LOT_REGISTERED, "FP2611")}
    assert registered["status"] == (None, "quarantine", "super1")
    assert registered["received_on"] == (None, site_today().isoformat(), "super1")


def test_the_seeds_reference_lots_are_registered_released(session):
    seeded(session)

    lots = session.exec(select(ReagentLot)).all()

    assert lots and {lot.status for lot in lots} == {"released"}


def test_a_lot_received_tomorrow_is_refused(session):
    run = seeded(session)

    error = refusal(received_lot, run, received_on=site_today() + timedelta(days=1))

    assert error.code == E.INVALID_INPUT and "is in the future" in error.detail
    assert session.exec(select(ReagentLot).where(ReagentLot.lot == "FP2611")).first() is None


def test_a_lot_received_after_its_expiry_is_refused(session):
    run = seeded(session)

    error = refusal(received_lot, run, expires_on=date(2025, 3, 31),
                    received_on=date(2025, 4, 2))

    assert error.code == E.INVALID_INPUT
    assert "after the expiry date 2025-03-31" in error.detail
    assert session.exec(select(ReagentLot).where(ReagentLot.lot == "FP2611")).first() is None


# --- a step takes only a released lot -------------------------------------------------------

def test_a_lot_in_quarantine_is_refused_at_a_step_and_nothing_is_written(session):
    # given a new Ficoll lot, registered but not yet released by QA
    run = seeded(session)
    received_lot(run)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")
    steps_before = audit_count(session, AuditAction.STEP_RECORDED)

    # when the technician enters it in the MNC isolation
    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", medium_lot="FP2611"))

    # then it is refused outright, in words, and nothing was recorded
    assert error.code == E.REAGENT_NOT_RELEASED
    assert ("Ficoll-Paque PREMIUM 1.077 lot FP2611 is in quarantine: QA has not released it "
            "for use") in error.detail
    assert audit_count(session, AuditAction.STEP_RECORDED) == steps_before


def test_a_lot_qa_released_is_taken_by_the_step(session):
    run = seeded(session)
    received_lot(run)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")

    released = release_reagent_lot(session, actor=run.user("qa1"), lot="FP2611")
    record = perform(run, product, "isolate_mnc",
                     values=with_values(product, "isolate_mnc", medium_lot="FP2611")).record

    assert released.status == LotStatus.RELEASED
    assert released.status_changed_by_id == run.user("qa1").id
    assert released.status_changed_at is not None
    assert record.values["medium_lot"] == "FP2611"
    assert verify_all(session).ok


def test_a_rejected_lot_is_refused_at_a_step(session):
    run = seeded(session)
    received_lot(run)
    reject_reagent_lot(session, actor=run.user("qa1"), lot="FP2611",
                       reason="seal broken on receipt")
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")

    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", medium_lot="FP2611"))

    assert error.code == E.REAGENT_NOT_RELEASED
    assert "FP2611 was rejected by QA: it may not be used" in error.detail


# --- QA's decisions --------------------------------------------------------------------------

def test_release_and_rejection_are_audited_old_to_new_with_the_reason(session):
    run = seeded(session)
    received_lot(run, "FP2611")
    received_lot(run, "FP2612")

    release_reagent_lot(session, actor=run.user("qa1"), lot="FP2611",
                        reason="certificate of analysis checked")
    rejected = reject_reagent_lot(session, actor=run.user("qa1"), lot="FP2612",
                                  reason="  wrong density on the CoA ")

    changes = [(e.entity_id, e.old_value, e.new_value, e.reason, e.username)
               for lot in ("FP2611", "FP2612")
               for e in events(session, AuditAction.REAGENT_LOT_STATUS_CHANGED, lot)]
    assert changes == [
        ("FP2611", "quarantine", "released", "certificate of analysis checked", "qa1"),
        ("FP2612", "quarantine", "rejected", "wrong density on the CoA", "qa1")]
    assert rejected.status_reason == "wrong density on the CoA"
    assert verify_all(session).ok


def test_a_rejection_needs_its_reason(session):
    run = seeded(session)
    received_lot(run)

    error = refusal(reject_reagent_lot, session, actor=run.user("qa1"), lot="FP2611",
                    reason="  ")

    assert error.code == E.REASON_REQUIRED
    assert session.exec(select(ReagentLot.status).where(ReagentLot.lot == "FP2611")).one() == (
        "quarantine")


@pytest.mark.parametrize("who", ["super1", "tech1", "doc1", "admin"])
def test_only_qa_releases_a_lot(session, who):
    run = seeded(session)
    received_lot(run)
    actor = user_named(session, who)
    assert actor is not None

    error = refusal(release_reagent_lot, session, actor=actor, lot="FP2611")

    assert error.code == E.FORBIDDEN
    assert audit_count(session, AuditAction.REAGENT_LOT_STATUS_CHANGED) == 0


@pytest.mark.parametrize("who", ["qa1", "tech1"])
def test_only_a_supervisor_or_the_administrator_registers_a_lot(session, who):
    run = seeded(session)

    error = refusal(register_reagent_lot, session, actor=run.user(who), reagent="Ficoll",
                    lot="FP2611", material="density_gradient_medium",
                    expires_on=date(2030, 6, 30))
    by_admin = register_reagent_lot(session, actor=_user(session, "admin"), reagent="Ficoll",
                                    lot="FP2612", material="density_gradient_medium",
                                    expires_on=date(2030, 6, 30))

    assert error.code == E.FORBIDDEN
    assert by_admin.status == LotStatus.QUARANTINE


def test_the_person_who_registered_a_lot_does_not_release_it(session):
    # given a supervisor registered a lot, then became QA
    run = seeded(session)
    received_lot(run)
    change_role(session, actor=_user(session, "admin"), username="super1", role="qa",
                reason="moved to quality assurance")
    session.refresh(run.user("super1"))

    # when they release the lot they registered
    error = refusal(release_reagent_lot, session, actor=run.user("super1"), lot="FP2611")

    # then four eyes: another QA person releases it
    assert error.code == E.NOT_INDEPENDENT
    assert "super1 registered lot FP2611" in error.detail
    assert release_reagent_lot(session, actor=run.user("qa1"), lot="FP2611").status == (
        "released")


@pytest.mark.parametrize(("first", "then", "words"), [
    ("release", "release", "lot FP2611 is already released for use"),
    ("reject", "release", "lot FP2611 is rejected: it cannot be released now"),
    ("reject", "reject", "lot FP2611 is already rejected"),
])
def test_a_decided_lot_is_not_decided_again(session, first, then, words):
    run = seeded(session)
    received_lot(run)
    decide = {"release": release_reagent_lot, "reject": reject_reagent_lot}
    decide[first](session, actor=run.user("qa1"), lot="FP2611", reason="inspected")

    error = refusal(decide[then], session, actor=run.user("qa1"), lot="FP2611",
                    reason="again")

    assert error.code == E.CONFLICT and error.detail == words
    assert len(events(session, AuditAction.REAGENT_LOT_STATUS_CHANGED, "FP2611")) == 1


def test_a_released_lot_is_still_rejected_on_a_recall(session):
    run = seeded(session)
    received_lot(run)
    release_reagent_lot(session, actor=run.user("qa1"), lot="FP2611")

    row = reject_reagent_lot(session, actor=run.user("qa1"), lot="FP2611",
                             reason="supplier recall R-2611")

    assert row.status == LotStatus.REJECTED
    assert [(e.old_value, e.new_value) for e in events(
        session, AuditAction.REAGENT_LOT_STATUS_CHANGED, "FP2611")] == [
        ("quarantine", "released"), ("released", "rejected")]


def test_an_expired_lot_is_not_released_and_an_unknown_lot_is_not_found(session):
    run = seeded(session)
    received_lot(run, expires_on=date(2025, 3, 31), received_on=date(2025, 1, 6))

    expired = refusal(release_reagent_lot, session, actor=run.user("qa1"), lot="FP2611")
    unknown = refusal(release_reagent_lot, session, actor=run.user("qa1"), lot="FP0000")

    assert expired.code == E.REAGENT_EXPIRED and "expired on 2025-03-31" in expired.detail
    assert unknown.code == E.NOT_FOUND


# --- equipment calibration -------------------------------------------------------------------

def test_a_calibration_is_recorded_old_to_new_and_the_instrument_is_usable_again(session):
    # given CF-02, whose calibration was due in 2025
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")
    assert refused(run, product, "isolate_mnc", values=with_values(
        product, "isolate_mnc", centrifuge_id="CF-02")).code == E.EQUIPMENT_OUT_OF_CALIBRATION
    due = site_today() + timedelta(days=365)

    # when the supervisor records its calibration
    row = record_calibration(session, actor=run.user("super1"), code="CF-02",
                             calibration_due=due, reason="calibrated, certificate CAL-114")

    # then the new due date holds, the change is audited, and a step takes the centrifuge
    assert row.calibration_due == due
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.EQUIPMENT_CALIBRATION_RECORDED)).one()
    assert (event.entity_id, event.old_value, event.new_value, event.reason, event.username) == (
        "CF-02", "2025-06-30", due.isoformat(), "calibrated, certificate CAL-114", "super1")
    record = perform(run, product, "isolate_mnc", values=with_values(
        product, "isolate_mnc", centrifuge_id="CF-02")).record
    assert record.values["centrifuge_id"] == "CF-02"
    assert verify_all(session).ok


@pytest.mark.parametrize(("who", "days", "reason", "code"), [
    ("super1", 0, "calibrated", E.INVALID_INPUT),  # due today is not later than today
    ("super1", -3, "calibrated", E.INVALID_INPUT),
    ("super1", 30, " ", E.REASON_REQUIRED),
    ("qa1", 30, "calibrated", E.FORBIDDEN),
    ("tech1", 30, "calibrated", E.FORBIDDEN),
])
def test_a_calibration_is_refused_unless_later_than_today_with_a_reason_by_a_keeper(
        session, who, days, reason, code):
    run = seeded(session)

    error = refusal(record_calibration, session, actor=run.user(who), code="CF-02",
                    calibration_due=site_today() + timedelta(days=days), reason=reason)

    assert error.code == code
    assert session.exec(select(Equipment.calibration_due).where(
        Equipment.code == "CF-02")).one() == date(2025, 6, 30)
    assert audit_count(session, AuditAction.EQUIPMENT_CALIBRATION_RECORDED) == 0


def test_the_administrator_records_a_calibration_of_a_registered_instrument_only(session):
    seeded(session)
    admin = _user(session, "admin")

    unknown = refusal(record_calibration, session, actor=admin, code="CF-99",
                      calibration_due=site_today() + timedelta(days=90), reason="calibrated")
    done = record_calibration(session, actor=admin, code="CF-01",
                              calibration_due=date(2031, 1, 31), reason="calibrated")

    assert unknown.code == E.NOT_FOUND
    assert done.calibration_due == date(2031, 1, 31)


def _user(session: Session, username: str) -> User:
    user = user_named(session, username)
    assert user is not None
    return user
