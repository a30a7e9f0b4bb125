"""The notification outbox: a message to a person, staged with the change that calls for it
and delivered by the job runner over SMTP, with retries; never lost, never silent.

A notification is staged in the caller's transaction together with its delivery job, so it
exists exactly when the change that called for it was committed. Delivery is at least once:
a notification already sent is never sent again by a later or repeated job. One that
cannot be sent (no address, a server that refuses or is down) stays pending with back-off,
then failed after its last attempt, and is listed as undelivered until someone acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import literal_column
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import Alert, Notification, Product, User
from lims.services.common import aware, get_or_404, require_role
from lims.services.jobs import ClaimedJob, enqueue, register_job_kind
from lims.services.mail import DeliveryError, build_message, send
from lims.sql_lists import one_of
from workflows.errors import DomainError, ErrorCode
from workflows.roles import Role

DELIVER = "deliver_notification"
READERS = frozenset({Role.QA, Role.ADMIN, Role.PHYSICIAN})
RESENDERS = frozenset({Role.QA, Role.ADMIN})
GRACE = timedelta(minutes=5)  # a notification unsent for longer is overdue


class NotificationStatus(StrEnum):
    PENDING = "pending"  # not sent yet: waiting for its first or next attempt
    SENT = "sent"  # handed to the mail server
    FAILED = "failed"  # gave up after the last attempt: someone must act


def stage_notification(session: Session, *, recipient: User | None, subject: str, body: str,
                       product: Product | None = None, alert_id: int | None = None,
                       now: datetime | None = None) -> Notification:
    """Stage a notification and its delivery job in the caller's transaction (no commit)."""
    now = aware(now)
    note = Notification(product_id=product.id if product else None, alert_id=alert_id,
                        recipient_id=recipient.id if recipient else None,
                        to_address=recipient.email.strip() if recipient else "",
                        subject=subject[:300], body=body[:10000],
                        status=NotificationStatus.PENDING, next_attempt_at=now, created_at=now)
    session.add(note)
    session.flush()
    enqueue(session, kind=DELIVER, payload={"notification_id": note.id}, run_at=now,
            max_attempts=get_settings().notification_max_attempts)
    who = recipient.username if recipient else "nobody"
    _audit(session, note, AuditAction.NOTIFICATION_QUEUED,
           f"to {who} <{note.to_address}>: {subject}")
    return note


def _audit(session: Session, note: Notification, action: AuditAction, reason: str) -> None:
    append(session, [PendingEvent(action, "notification", str(note.id), "status", None,
                                  note.status, reason=reason[:1000])],
           user_id=None, username="system")


def _load(session: Session, job: ClaimedJob) -> Notification:
    note = session.get(Notification, job.payload["notification_id"], populate_existing=True)
    assert note is not None, f"notification of job {job.id} is missing"
    return note


def _deliver(session: Session, job: ClaimedJob, now: datetime) -> None:
    """The job handler: send one notification by SMTP; raise to have it retried."""
    settings = get_settings()
    note = _load(session, job)
    if note.status != NotificationStatus.PENDING:
        session.rollback()
        return  # already sent (or given up): a repeated job changes nothing
    refusal = _undeliverable(session, note)
    address = note.to_address or _current_address(session, note)
    message = build_message(settings, to=address, subject=note.subject, body=note.body,
                            reference=f"notification-{note.id}")
    session.rollback()  # end the read: no database lock is held while the mail server answers
    if refusal is not None:
        raise DeliveryError(refusal)
    send(settings, message)
    note = _load(session, job)
    note.status, note.sent_at, note.to_address = NotificationStatus.SENT, now, address
    note.attempts += 1
    session.add(note)
    _audit(session, note, AuditAction.NOTIFICATION_SENT,
           f"to <{address}> on attempt {note.attempts}")


def _current_address(session: Session, note: Notification) -> str:
    """An address added to the recipient's record after the notification was staged."""
    user = session.get(User, note.recipient_id) if note.recipient_id else None
    return user.email.strip() if user is not None else ""


def _undeliverable(session: Session, note: Notification) -> str | None:
    """Why the notification cannot be sent now, or None."""
    user = session.get(User, note.recipient_id) if note.recipient_id else None
    name = user.full_name if user is not None else "the recipient"
    if user is not None and not user.active:
        return (f"{name}'s account is deactivated: QA must tell someone else and may send "
                "this again once the right person has an account")
    if not (note.to_address or _current_address(session, note)):
        return (f"{name} has no e-mail address: an administrator must add one to the "
                "user's record")
    return None


def _delivery_failed(session: Session, job: ClaimedJob, error: str,
                     retry_at: datetime | None) -> None:
    note = _load(session, job)
    if note.status != NotificationStatus.PENDING:
        return
    note.attempts += 1
    note.last_error = error[:1000]
    if retry_at is None:
        note.status = NotificationStatus.FAILED
        reason = f"gave up after {note.attempts} attempt(s): {error}"
    else:
        note.next_attempt_at = retry_at
        reason = f"attempt {note.attempts} failed, next at {retry_at.isoformat()}: {error}"
    session.add(note)
    _audit(session, note, AuditAction.NOTIFICATION_FAILED if retry_at is None
           else AuditAction.NOTIFICATION_RETRY, reason)


register_job_kind(DELIVER, _deliver, _delivery_failed)


@dataclass(frozen=True)
class NotificationView:
    """A notification with whom it is for and which product it is about."""

    notification: Notification
    din: str | None
    recipient: str | None  # user name
    recipient_name: str | None

    @property
    def undelivered(self) -> bool:
        return self.notification.status != NotificationStatus.SENT

    def overdue(self, now: datetime) -> bool:
        """Failed, refused at least once, or still unsent after a grace period: a person
        should know (a freshly queued notification is simply on its way)."""
        note = self.notification
        return self.undelivered and (note.status == NotificationStatus.FAILED
                                     or note.last_error is not None
                                     or now - note.created_at > GRACE)


# Not delivered (yet): written as a constant, not a bound value, so that the planner (a
# prepared statement's generic plan too) can use the partial index holding only those
# rows (migration b4c6e8a0d2f3); nearly every notification of years is sent.
UNDELIVERED = col(Notification.status) != literal_column(f"'{NotificationStatus.SENT.value}'")


def list_notifications(session: Session, *, actor: User, undelivered_only: bool = False,
                       din: str | None = None, limit: int = 200) -> list[NotificationView]:
    """Notifications newest first: all, or only those not (yet) delivered."""
    require_role(actor, READERS, "read notifications")
    query = _views().order_by(col(Notification.id).desc()).limit(limit)
    if undelivered_only:
        query = query.where(UNDELIVERED)
    if din is not None:
        query = query.where(col(Product.din) == din.strip().upper())
    return [NotificationView(note, din, user, name)
            for note, din, user, name in session.exec(query)]


def undelivered(session: Session) -> list[NotificationView]:
    """Notifications not delivered (waiting, retrying or failed), oldest first."""
    query = _views().where(UNDELIVERED)
    return [NotificationView(note, din, user, name)
            for note, din, user, name in session.exec(query.order_by(col(Notification.id)))]


@dataclass(frozen=True)
class Attention:
    """What QA and the physicians must see on every page: open alerts (with the product's
    DIN) and notifications that have not reached their recipient."""

    alerts: list[tuple[Alert, str]]
    undelivered: list[NotificationView]

    def __bool__(self) -> bool:
        return bool(self.alerts or self.undelivered)


def attention(session: Session, *, now: datetime | None = None) -> Attention:
    now = aware(now)
    alerts = session.exec(select(Alert, Product.din).join(
        Product, col(Product.id) == col(Alert.product_id)).where(
        col(Alert.acknowledged_at).is_(None)).order_by(col(Alert.id)))
    return Attention([(alert, din) for alert, din in alerts],
                     [view for view in undelivered(session) if view.overdue(now)])


def delivery_record(session: Session, product: Product) -> list[tuple[bool, str]]:
    """Each notification about `product`: (delivered, what became of it), for QA review and
    the batch record."""
    return delivery_records(session, [product.id or 0]).get(product.id or 0, [])


def delivery_records(session: Session, product_ids: list[int]
                     ) -> dict[int, list[tuple[bool, str]]]:
    """`delivery_record` of many products at once: product id -> its notifications."""
    if not product_ids:
        return {}
    rows = session.exec(_views().where(one_of(col(Notification.product_id), product_ids))
                        .order_by(col(Notification.id)))
    found: dict[int, list[tuple[bool, str]]] = {}
    for note, din, user, name in rows:
        found.setdefault(note.product_id or 0, []).append(
            (note.status == NotificationStatus.SENT,
             _delivery_text(NotificationView(note, din, user, name))))
    return found


def _delivery_text(view: NotificationView) -> str:
    note = view.notification
    to = f"{view.recipient_name or 'nobody'} <{note.to_address or 'no e-mail address'}>"
    about = f" about alert {note.alert_id}" if note.alert_id else ""
    if note.status == NotificationStatus.SENT and note.sent_at is not None:
        return (f"e-mail to {to}{about} sent {note.sent_at:%Y-%m-%d %H:%M} UTC "
                f"(attempt {note.attempts})")
    if note.status == NotificationStatus.FAILED:
        return (f"e-mail to {to}{about} NOT DELIVERED: failed after {note.attempts} "
                f"attempt(s): {note.last_error}")
    error = f"; last error: {note.last_error}" if note.last_error else ""
    return (f"e-mail to {to}{about} not delivered yet: {note.attempts} attempt(s), next "
            f"{note.next_attempt_at:%Y-%m-%d %H:%M} UTC{error}")


def _views() -> Select[Notification, str, str, str]:  # product and user may be None
    return (select(Notification, Product.din, User.username, User.full_name)
            .outerjoin(Product, col(Product.id) == col(Notification.product_id))
            .outerjoin(User, col(User.id) == col(Notification.recipient_id)))


def resend_notification(session: Session, *, actor: User, notification_id: int,
                        now: datetime | None = None) -> NotificationView:
    """Queue a failed notification again (e.g. once the address or the server is fixed)."""
    require_role(actor, RESENDERS, "resend notifications")
    note = get_or_404(session, Notification, notification_id, "notification")
    if note.status != NotificationStatus.FAILED:
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"notification {notification_id} is {note.status}: only a failed "
                          "notification is sent again")
    now = aware(now)
    note.status, note.next_attempt_at = NotificationStatus.PENDING, now
    session.add(note)
    enqueue(session, kind=DELIVER, payload={"notification_id": note.id}, run_at=now,
            max_attempts=get_settings().notification_max_attempts)
    append(session, [PendingEvent(AuditAction.NOTIFICATION_RESENT, "notification", str(note.id),
                                  "status", NotificationStatus.FAILED, note.status)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return NotificationView(*session.exec(_views().where(col(Notification.id) == note.id)).one())
