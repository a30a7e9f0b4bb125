"""Signed decisions: the physician's own signature at the bedside, the discard signed with its
reason, hold and resume with theirs, and the eligibility checker re-authenticated."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from lims.audit import content_hash
from lims.models import AuditEvent, Patient, Signature, StepRecord, User
from lims.services.common import user_by_name, utcnow
from lims.services.dispositions import discard_product, hold_product, resume_product
from lims.services.enrolment import enrol_patient
from lims.services.signature_check import signature_state
from lims.services.steps import step_content
from lims.services.verification import verify_all
from tests.factories import (
    PASSWORDS,
    audit_count,
    make_product,
    perform,
    scan_of,
    seeded,
    snapshot,
)
from workflows.eligibility import complete_checklist
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def signatures(session: Session, product_id: int | None, meaning: str) -> list[Signature]:
    return list(session.exec(select(Signature).where(
        Signature.product_id == product_id, Signature.meaning == meaning)))


def failed_logins(session: Session, username: str) -> int:
    session.expire_all()
    return user_by_name(session, username).failed_logins


# --- the administering physician's signature at the bedside ----------------------------------

def test_the_administration_is_signed_by_the_physician_beside_the_witness(session):
    # given an issued product at the bedside
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="issued")

    # when doc1 administers it, signing with their own password, doc2 witnessing
    result = perform(run, product, "administer", operator="doc1", physician="doc1",
                     physician_password=PASSWORDS["doc1"])

    # then the step record carries two signatures over its content: the physician's and
    # the witness's, each with its printed name and meaning
    record = session.get(StepRecord, result.record.id)
    assert record is not None
    signed = {s.meaning: s for s in session.exec(select(Signature).where(
        Signature.record_type == "step_record", Signature.record_id == str(record.id)))}
    assert set(signed) == {"Administered", "Witnessed"}
    doctor, witness = signed["Administered"], signed["Witnessed"]
    assert (doctor.user_id, doctor.printed_name) == (run.user("doc1").id,
                                                     run.user("doc1").full_name)
    assert witness.user_id == run.user("doc2").id
    assert doctor.record_hash == witness.record_hash == content_hash(step_content(record))
    assert doctor.signed_at == record.performed_at
    assert signature_state(session, doctor) == "valid"
    report = verify_all(session)
    assert report.ok, report.lines


@pytest.mark.parametrize(("physician", "password", "code"), [
    ("doc1", "not-doc1s-password", E.SIGNATURE_NOT_AUTHENTICATED),
    ("doc1", PASSWORDS["doc2"], E.SIGNATURE_NOT_AUTHENTICATED),  # someone else's password
    ("doc2", PASSWORDS["doc2"], E.SIGNATURE_INVALID),  # a physician signing for another
    ("tech1", PASSWORDS["tech1"], E.SIGNATURE_INVALID),  # not the operator, not a physician
    (None, None, E.SIGNATURE_REQUIRED),
    ("doc1", "", E.SIGNATURE_REQUIRED),
], ids=["wrong-password", "someone-elses-password", "signing-for-another", "technician",
        "no-signature", "no-password"])
def test_an_administration_without_the_physicians_own_signature_writes_nothing(
        session, physician, password, code):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="issued")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "administer", operator="doc1", physician=physician,
                physician_password=password)

    assert refused.value.code == code
    assert snapshot(session, product.din) == before


def test_a_wrong_bedside_password_is_recorded_and_counts_toward_the_lockout(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="issued")
    failed = audit_count(session, "signin_failed")

    with pytest.raises(DomainError) as refused:
        perform(run, product, "administer", operator="doc1", physician="doc1",
                physician_password="guess")

    assert refused.value.code == E.SIGNATURE_NOT_AUTHENTICATED
    assert "nothing was signed" in refused.value.detail
    assert audit_count(session, "signin_failed") == failed + 1
    assert failed_logins(session, "doc1") == 1


def test_only_a_physician_administers_even_with_their_own_signature(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="issued")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "administer", operator="super1", physician="super1",
                physician_password=PASSWORDS["super1"])

    assert refused.value.code == E.FORBIDDEN
    assert snapshot(session, product.din) == before


def test_a_replayed_administration_is_refused_and_signs_nothing_more(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="issued")
    scan = scan_of(session, product, "final_product")
    done = perform(run, product, "administer", scan=scan).product
    after = snapshot(session, product.din)

    # the same request again (same version), and again as of the product's new version
    for version, code in ((product.version, E.CONFLICT), (done.version, E.INVALID_TRANSITION)):
        product.version = version
        with pytest.raises(DomainError) as refused:
            perform(run, product, "administer", scan=scan)
        assert refused.value.code == code
    assert snapshot(session, product.din) == after
    assert len(signatures(session, product.id, "Administered")) == 1


def test_no_other_step_asks_for_the_physicians_signature(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")

    perform(run, product, "issue", physician="doc1", physician_password="ignored")

    assert signatures(session, product.id, "Administered") == []


# --- discard: a signed decision --------------------------------------------------------------

def test_a_discard_is_signed_with_its_reason_in_the_same_transaction(session):
    # given a product on hold
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    product = hold_product(session, actor=run.user("tech1"), din=product.din,
                           reason="  centrifuge alarm  ")

    # when the supervisor discards it, re-entering their password
    discarded = discard_product(session, actor=run.user("super1"), din=product.din,
                                reason="sterility breach during the wash",
                                password=PASSWORDS["super1"])

    # then it is discarded, signed "Discarded" with the reason as the justification
    assert discarded.state == "discarded"
    [signature] = signatures(session, product.id, "Discarded")
    supervisor = run.user("super1")
    assert (signature.user_id, signature.printed_name, signature.justification) == (
        supervisor.id, supervisor.full_name, "sterility breach during the wash")
    assert (signature.record_type, signature.record_id) == ("product", product.din)
    assert signature_state(session, signature) == "valid"
    # and the trail holds the hold's reason (trimmed) and the discard's, by who decided,
    # the signature written just before the state change it signs
    events = session.exec(select(AuditEvent).where(
        AuditEvent.entity_id == product.din,
        col(AuditEvent.action).in_(["state_changed", "signed"])).order_by(
        col(AuditEvent.seq))).all()
    tail = [(e.action, e.new_value, e.reason, e.username) for e in events[-3:]]
    assert tail[0] == ("state_changed", "on_hold", "centrifuge alarm", "tech1")
    assert (tail[1][0], tail[1][3]) == ("signed", "super1")
    assert tail[2] == ("state_changed", "discarded", "sterility breach during the wash",
                       "super1")
    report = verify_all(session)
    assert report.ok, report.lines


@pytest.mark.parametrize(("user", "password", "code"), [
    ("super1", "wrong-password", E.SIGNATURE_NOT_AUTHENTICATED),
    ("super1", PASSWORDS["qa1"], E.SIGNATURE_NOT_AUTHENTICATED),  # someone else's password
    ("super1", "", E.SIGNATURE_REQUIRED),
    ("tech1", PASSWORDS["tech1"], E.FORBIDDEN),  # a technician may not discard
    ("doc1", PASSWORDS["doc1"], E.FORBIDDEN),
], ids=["wrong-password", "someone-elses-password", "no-password", "technician", "physician"])
def test_a_discard_without_a_valid_signature_changes_nothing(session, user, password, code):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        discard_product(session, actor=run.user(user), din=product.din,
                        reason="bag punctured", password=password)

    assert refused.value.code == code
    assert snapshot(session, product.din) == before


def test_a_discard_without_a_reason_asks_for_no_password(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    failed = audit_count(session, "signin_failed")

    with pytest.raises(DomainError) as refused:
        discard_product(session, actor=run.user("qa1"), din=product.din, reason=" \t ",
                        password="wrong")

    assert refused.value.code == E.REASON_REQUIRED
    assert audit_count(session, "signin_failed") == failed


def test_a_refused_or_replayed_discard_leaves_no_signature(session):
    # given an administered product and a discarded one
    run = seeded(session)
    administered, _ = make_product(run, arm="BM-MNC", until="administered")
    discarded, _ = make_product(run, arm="BM-MNC", until="received")
    discard_product(session, actor=run.user("qa1"), din=discarded.din, reason="broken bag",
                    password=PASSWORDS["qa1"])

    # when each is discarded (again) with a valid signature
    for product in (administered, discarded):
        before = snapshot(session, product.din)
        with pytest.raises(DomainError) as refused:
            discard_product(session, actor=run.user("qa1"), din=product.din,
                            reason="once more", password=PASSWORDS["qa1"])

        # then the transition is refused and the staged signature rolled back with it
        assert refused.value.code == E.INVALID_TRANSITION
        assert snapshot(session, product.din) == before
    assert len(signatures(session, discarded.id, "Discarded")) == 1


def test_a_resume_keeps_its_reason_and_who_decided(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")
    hold_product(session, actor=run.user("tech1"), din=product.din, reason="label smudged")

    resume_product(session, actor=run.user("qa1"), din=product.din,
                   reason="label reprinted and scanned back")

    event = session.exec(select(AuditEvent).where(AuditEvent.action == "state_changed")
                         .order_by(col(AuditEvent.seq).desc())).first()
    assert event is not None
    assert (event.old_value, event.reason, event.user_id) == (
        "on_hold", "label reprinted and scanned back", run.user("qa1").id)


# --- the eligibility checker, re-authenticated at enrolment ---------------------------------

def enrol(session: Session, **changes: object) -> Patient:
    fields: dict[str, object] = dict(
        actor=user_by_name(session, "doc1"), protocol_code="NCT00713934",
        subject_id="RYN-950", mrn="7009500", date_of_birth=date(1960, 5, 17),
        name="Test Patient", sex="F", weight_kg=68.0,
        consent_date=utcnow().date() - timedelta(days=3), arm="CD133",
        eligibility=complete_checklist(),
        infectious_markers={"HIV": "negative", "HBV": "negative", "HCV": "negative"},
        checked_by="doc2", checked_by_password=PASSWORDS["doc2"])
    fields.update(changes)
    return enrol_patient(session, **fields)  # type: ignore[arg-type]


def patients(session: Session) -> int:
    session.commit()
    return len(session.exec(select(Patient.id)).all())


def test_the_eligibility_checker_confirms_with_their_password_and_it_is_audited(session):
    seeded(session)
    started = utcnow()

    patient = enrol(session)

    checker = user_by_name(session, "doc2")
    assert patient.eligibility_checked_by_id == checker.id
    assert patient.eligibility_checked_at is not None
    assert started <= patient.eligibility_checked_at <= utcnow()
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == "patient_enrolled", AuditEvent.entity_id == "RYN-950")).one()
    assert checker.full_name in (event.new_value or "")
    assert "eligibility_checked_at" in (event.new_value or "")


def test_the_enrolling_physician_may_be_the_checker(session):
    seeded(session)

    patient = enrol(session, checked_by="doc1", checked_by_password=PASSWORDS["doc1"])

    assert patient.eligibility_checked_by_id == user_by_name(session, "doc1").id


@pytest.mark.parametrize(("checker", "password", "code"), [
    ("doc2", "wrong-password", E.SIGNATURE_NOT_AUTHENTICATED),
    ("doc2", PASSWORDS["doc1"], E.SIGNATURE_NOT_AUTHENTICATED),  # the enroller's password
    ("nobody-here", "anything", E.SIGNATURE_NOT_AUTHENTICATED),  # no user enumeration
    ("tech1", PASSWORDS["tech1"], E.FORBIDDEN),  # not a physician
    ("doc2", "", E.SIGNATURE_REQUIRED),
], ids=["wrong-password", "someone-elses-password", "unknown-user", "technician",
        "no-password"])
def test_an_enrolment_without_the_checkers_own_password_writes_no_patient(
        session, checker, password, code):
    seeded(session)
    before = patients(session)

    with pytest.raises(DomainError) as refused:
        enrol(session, checked_by=checker, checked_by_password=password)

    assert refused.value.code == code
    assert patients(session) == before
    assert audit_count(session, "patient_enrolled") == 0


def test_a_locked_checker_cannot_confirm_an_eligibility(session):
    seeded(session)
    doc2 = session.exec(select(User).where(User.username == "doc2")).one()
    doc2.locked_at = utcnow()
    session.add(doc2)
    session.commit()

    with pytest.raises(DomainError) as refused:
        enrol(session)

    assert refused.value.code == E.SIGNATURE_NOT_AUTHENTICATED
    assert "locked" in refused.value.detail
    assert patients(session) == 0


def test_a_bedside_signature_moved_to_another_record_no_longer_verifies(session):
    # given an administration signed at the bedside after a witnessed issue
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="administered")
    [signature] = signatures(session, product.id, "Administered")
    issue = session.exec(select(StepRecord).where(StepRecord.product_id == product.id,
                                                  StepRecord.step == "issue")).one()

    # when the signature row is re-pointed at the issue record (outside the application)
    signature.record_id = str(issue.id)
    session.add(signature)
    session.commit()

    # then the content hash no longer matches and verification names the row
    assert signature_state(session, signature) == "record changed after signing"
    report = verify_all(session)
    assert not report.ok
    assert any(f"signature {signature.id}" in line for line in report.lines)
