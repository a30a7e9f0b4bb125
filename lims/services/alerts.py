"""Post-release alerts: a culture that turns positive after release must reach the physician."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Alert, Patient, Product, StepRecord, User
from lims.services.alert_text import AlertFacts, alert_body, alert_subject
from lims.services.common import aware, get_or_404, require_role
from lims.services.notifications import stage_notification
from lims.services.signatures import add_signature, authenticate_signer
from workflows.errors import DomainError, ErrorCode
from workflows.roles import Role
from workflows.words import state_words

ACK_ROLES = frozenset({Role.QA, Role.PHYSICIAN})


def physician_to_notify(session: Session, product: Product) -> int | None:
    """The patient's treating physician; else the physician who administered the product,
    else whoever enrolled the patient."""
    patient = session.get(Patient, product.patient_id)
    if patient is not None and patient.treating_physician_id is not None:
        return patient.treating_physician_id
    administered_by = session.exec(select(StepRecord.operator_id).where(
        StepRecord.product_id == product.id, StepRecord.step == "administer",
        col(StepRecord.superseded).is_(False))).first()
    if administered_by is not None:
        return administered_by
    return patient.enrolled_by_id if patient else None


def raise_post_release_alert(session: Session, *, product: Product, test: str,
                             value: str, severity: str = "release") -> Alert:
    """Stage an alert in the caller's transaction (the QC service commits).

    severity "release": QA must decide on a released or issued product; "clinical": the
    product was already given, the treating physician must act for the patient.
    """
    assert product.id is not None
    physician_id = physician_to_notify(session, product)
    physician = session.get(User, physician_id) if physician_id else None
    who = physician.full_name if physician else "the treating physician"
    what = AlertFacts(test, str(value)).test_label  # the test as the lab names it
    alert = Alert(product_id=product.id, kind=f"{test}_positive",
                  message=f"{what} result '{value}' after release of "
                          f"{product.din} ({state_words(product.state)}): notify {who}",
                  notify_physician_id=physician_id, severity=severity)
    session.add(alert)
    session.flush()
    append(session, [PendingEvent(AuditAction.ALERT_RAISED, "alert", str(alert.id), "kind", None,
                                  alert.kind, reason=alert.message)],
           user_id=None, username="system")
    _notify(session, alert, product, physician, AlertFacts(test, value))
    return alert


def _notify(session: Session, alert: Alert, product: Product, physician: User | None,
            facts: AlertFacts) -> None:
    """Queue the alert's e-mails: the treating physician and every active QA user with an
    address; a clinical alert goes to the physician first, a release alert to QA first."""
    qa_users = list(session.exec(select(User).where(
        User.role == Role.QA.value, col(User.active).is_(True), User.email != "")
        .order_by(col(User.id))))
    doctor = [(physician, Role.PHYSICIAN)] if physician is not None else []
    qa = [(user, Role.QA) for user in qa_users if user.id != alert.notify_physician_id]
    people = doctor + qa if alert.severity == "clinical" else qa + doctor
    patient = session.get(Patient, product.patient_id)
    subject_id = patient.subject_id if patient else "?"
    for user, role in people:
        stage_notification(session, recipient=user, product=product, alert_id=alert.id,
                           subject=alert_subject(alert, product, facts),
                           body=alert_body(alert, product, facts, subject_id, role),
                           now=alert.raised_at)


def open_alerts(session: Session, product_id: int | None = None) -> list[Alert]:
    """Every open alert, oldest first; of one product only when `product_id` is given."""
    query = select(Alert).where(col(Alert.acknowledged_at).is_(None))
    if product_id is not None:
        query = query.where(Alert.product_id == product_id)
    return list(session.exec(query.order_by(col(Alert.id))))


def acknowledge_alert(session: Session, *, actor: User, alert_id: int, password: str,
                      note: str = "", now: datetime | None = None) -> Alert:
    """Acknowledge by electronic signature (meaning "Acknowledged")."""
    require_role(actor, ACK_ROLES, "acknowledge alerts")
    alert = get_or_404(session, Alert, alert_id, "alert")
    if alert.acknowledged_at is not None:
        raise DomainError(ErrorCode.ALERT_ACKNOWLEDGED, f"alert {alert_id} is already acknowledged")
    signer = authenticate_signer(session, actor=actor, username=actor.username, password=password)
    now = aware(now)
    alert.acknowledged_by_id, alert.acknowledged_at = signer.id, now
    session.add(alert)
    add_signature(session, signer=signer, meaning="Acknowledged", product_id=alert.product_id,
                  record_type="alert", record_id=str(alert.id),
                  content={"alert": alert.id, "message": alert.message}, justification=note,
                  at=now)
    session.commit()
    return alert
