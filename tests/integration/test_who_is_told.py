"""Who is told of a failure after release: the patient's treating physician (named at
enrolment) and QA, at the e-mail addresses kept on their user records."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from lims.models import AuditEvent, Notification, Patient, User
from lims.services.common import user_by_name, utcnow
from lims.services.enrolment import enrol_patient
from lims.services.qc import record_qc_result
from lims.services.users import create_user, update_user
from tests.factories import PASSWORDS, make_product, qc_sample_of, seeded
from workflows.eligibility import complete_checklist
from workflows.errors import DomainError, ErrorCode, Forbidden, InvalidInput


def enrol(session: Session, subject_id: str = "RYN-900", **changes: object) -> Patient:
    fields: dict[str, object] = dict(
        actor=user_by_name(session, "doc1"), protocol_code="NCT00713934",
        subject_id=subject_id, mrn=f"9{subject_id[-3:]}000", date_of_birth=date(1960, 5, 17),
        name="Test Patient", sex="F", weight_kg=68.0,
        consent_date=utcnow().date() - timedelta(days=3), arm="CD133",
        eligibility=complete_checklist(),
        infectious_markers={"HIV": "negative", "HBV": "negative", "HCV": "negative"},
        checked_by="doc2", checked_by_password=PASSWORDS["doc2"])
    fields.update(changes)
    return enrol_patient(session, **fields)  # type: ignore[arg-type]


def addresses_told(session: Session, din: str) -> list[str]:
    session.commit()
    return list(session.exec(select(Notification.to_address).join(User, col(
        User.id) == col(Notification.recipient_id)).where(col(Notification.subject).contains(din))
        .order_by(col(Notification.id))))


def test_the_treating_physician_named_at_enrolment_is_told_not_the_one_who_injected(session):
    # given a patient treated by doc2; doc1 administers the product
    run = seeded(session)
    patient = enrol(session, treating_physician="doc2")
    product, _ = make_product(run, until="administered", patient=patient,
                              t0=utcnow() - timedelta(hours=7))
    # when the culture grows after administration
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="sterility",
                     value="growth", reason="culture read on day 3",
                     **qc_sample_of(session, product.din, "sterility"))
    # then doc2 and QA are told
    assert sorted(addresses_told(session, product.din)) == ["doc2@lab.invalid",
                                                            "qa1@lab.invalid"]


def test_without_a_treating_physician_the_administering_physician_is_told(session):
    run = seeded(session)
    patient = enrol(session)
    product, _ = make_product(run, until="administered", patient=patient,
                              t0=utcnow() - timedelta(hours=7))

    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="sterility",
                     value="growth", reason="culture read on day 3",
                     **qc_sample_of(session, product.din, "sterility"))

    assert "doc1@lab.invalid" in addresses_told(session, product.din)


def test_every_active_qa_user_with_an_address_is_told(session):
    run = seeded(session)
    admin = user_by_name(session, "admin")
    create_user(session, actor=admin, username="qa2", full_name="Second QA", role="qa",
                password="qa2-password-long", email="qa2@lab.invalid")
    create_user(session, actor=admin, username="qa3", full_name="Third QA", role="qa",
                password="qa3-password-long")  # no address
    product, _ = make_product(run, until="released", t0=utcnow() - timedelta(hours=7))

    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="gram_stain",
                     value="organisms seen", reason="slide re-read",
                     **qc_sample_of(session, product.din, "gram_stain"))

    assert sorted(addresses_told(session, product.din)) == [
        "doc1@lab.invalid", "qa1@lab.invalid", "qa2@lab.invalid"]


@pytest.mark.parametrize(("who", "said"), [("tech1", "is a technician"),
                                           ("nobody", "is no user")])
def test_the_treating_physician_must_be_an_active_physician(session, who: str, said: str):
    seeded(session)

    with pytest.raises(DomainError) as refused:
        enrol(session, treating_physician=who)

    assert refused.value.code == ErrorCode.TREATING_PHYSICIAN_INVALID
    assert said in refused.value.detail
    session.rollback()
    assert session.exec(select(Patient)).first() is None


def test_the_treating_physician_is_kept_on_the_patient_and_in_the_audit_trail(session):
    seeded(session)

    patient = enrol(session, treating_physician="doc2")

    assert patient.treating_physician_id == user_by_name(session, "doc2").id
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == "patient_enrolled")).one()
    assert '"treating_physician":"doc2"' in (event.new_value or "")


def test_a_user_is_created_with_an_e_mail_address_and_it_can_be_changed(session):
    seeded(session)
    admin = user_by_name(session, "admin")

    created = create_user(session, actor=admin, username="doc3", full_name="Dr. Third",
                          role="physician", password="doc3-password-long",
                          email=" doc3@clinic.invalid ")
    changed = update_user(session, actor=admin, username="doc3", email="third@clinic.invalid")

    assert created.email == changed.email == "third@clinic.invalid"
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == "user_updated", AuditEvent.entity_id == "doc3",
        AuditEvent.old_value == "doc3@clinic.invalid")).one()
    assert (event.field, event.new_value, event.username) == (
        "email", "third@clinic.invalid", "admin")


@pytest.mark.parametrize("address", ["no-at-sign", "two@@signs.invalid", "a b@lab.invalid",
                                     "nodot@localhost"])
def test_an_address_that_is_not_an_e_mail_address_is_refused(session, address: str):
    seeded(session)

    with pytest.raises(InvalidInput, match="is not an e-mail address"):
        update_user(session, actor=user_by_name(session, "admin"), username="qa1",
                    email=address)

    session.rollback()
    assert user_by_name(session, "qa1").email == "qa1@lab.invalid"


def test_only_an_administrator_changes_users(session):
    seeded(session)

    with pytest.raises(Forbidden):
        update_user(session, actor=user_by_name(session, "qa1"), username="qa1", email="")


def test_the_demo_users_and_patients_have_addresses_and_physicians(session):
    run = seeded(session)

    patient = run.enrol("BM-MNC", 70.0)

    assert {u.username: u.email for u in session.exec(select(User))}["doc1"] == \
        "doc1@lab.invalid"
    assert all(u.email for u in session.exec(select(User)))
    assert patient.treating_physician_id == run.user("doc1").id
