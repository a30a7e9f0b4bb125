"""Notifications leave the database: a failure after release is e-mailed to the treating
physician and QA through the outbox, delivered by the job runner to a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from lims.config import get_settings
from lims.models import Alert, AuditEvent, Job, Notification, Product
from lims.services.alerts import raise_post_release_alert
from lims.services.common import user_by_name, utcnow
from lims.services.jobs import run_due
from lims.services.notifications import list_notifications, resend_notification, undelivered
from lims.services.qc import record_qc_result
from lims.services.review import review_summary
from lims.services.users import update_user
from tests.factories import make_product, qc_sample_of, seeded
from tests.mail_server import Inbox
from workflows.errors import Forbidden


def released_product_with_a_growing_culture(session: Session) -> Product:
    """A released CD133 product whose sterility culture turns positive after release."""
    run = seeded(session)
    product, _ = make_product(run, until="released", t0=utcnow() - timedelta(hours=7))
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="sterility",
                     value="growth", reason="culture read on day 3",
                     **qc_sample_of(session, product.din, "sterility"))
    return product


def notifications_of(session: Session, product: Product) -> list[Notification]:
    session.commit()
    return list(session.exec(select(Notification).where(Notification.product_id == product.id)
                             .order_by(col(Notification.id))
                             .execution_options(populate_existing=True)))


def test_a_failure_after_release_queues_mail_to_the_treating_physician_and_qa(session):
    # when a culture grows after release
    product = released_product_with_a_growing_culture(session)

    # then one notification per person waits in the outbox, each with its delivery job
    notes = notifications_of(session, product)
    assert sorted(n.to_address for n in notes) == ["doc1@lab.invalid", "qa1@lab.invalid"]
    assert {n.status for n in notes} == {"pending"} and {n.attempts for n in notes} == {0}
    alert = session.exec(select(Alert)).one()
    assert {n.alert_id for n in notes} == {alert.id}
    jobs = session.exec(select(Job)).all()
    assert sorted(j.payload["notification_id"] for j in jobs) == sorted(n.id for n in notes)
    assert {j.status for j in jobs} == {"queued"}
    # a release alert goes to QA first
    assert notes[0].to_address == "qa1@lab.invalid"


def test_run_once_delivers_the_mail_naming_the_din_and_the_test(session, mail_server: Inbox):
    product = released_product_with_a_growing_culture(session)

    summary = run_due(session, now=utcnow())

    assert summary.done == 2
    physician_mail = mail_server.to("doc1@lab.invalid")
    assert len(physician_mail) == 1 and len(mail_server.to("qa1@lab.invalid")) == 1
    message = physician_mail[0]
    text = message.get_payload()
    assert product.din in message["Subject"] and "Sterility culture" in message["Subject"]
    assert product.din in text and "'growth'" in text
    assert message["From"] == "lims@lab.invalid"
    notes = notifications_of(session, product)
    assert {n.status for n in notes} == {"sent"} and {n.attempts for n in notes} == {1}
    assert all(n.sent_at is not None for n in notes)
    assert {j.status for j in session.exec(select(Job))} == {"done"}
    # the mail names the product and the trial subject, never the patient's name or MRN
    patient_name = "Demo Patient"
    assert patient_name not in text
    # QA review and the batch record show who was told and that it arrived
    told = [e.text for e in review_summary(session, product.din).exceptions
            if e.kind == "notification"]
    assert len(told) == 2 and all(" sent " in text for text in told)
    # and a second run sends nothing more
    assert run_due(session, now=utcnow() + timedelta(hours=1)).ran == 0
    assert len(mail_server.messages) == 2


def test_a_clinical_alert_goes_to_the_treating_physician_first(session):
    run = seeded(session)
    product, _ = make_product(run, until="released", t0=utcnow() - timedelta(hours=7))

    raise_post_release_alert(session, product=product, test="endotoxin", value="500",
                             severity="clinical")
    session.commit()

    notes = notifications_of(session, product)
    assert [n.to_address for n in notes] == ["doc1@lab.invalid", "qa1@lab.invalid"]
    assert notes[0].subject.startswith("URGENT")
    assert "assess the patient" in notes[0].body


def test_a_refusing_server_leaves_them_pending_with_back_off_then_failed(
        session, refusing_mail_server: Inbox, monkeypatch):
    monkeypatch.setenv("LIMS_NOTIFICATION_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    product = released_product_with_a_growing_culture(session)
    t0 = utcnow()

    # first attempt: refused, retried after the base delay (60 s)
    assert run_due(session, now=t0).retrying == 2
    notes = notifications_of(session, product)
    assert {n.status for n in notes} == {"pending"} and {n.attempts for n in notes} == {1}
    assert all("554" in (n.last_error or "") for n in notes)
    assert {n.next_attempt_at for n in notes} == {t0 + timedelta(seconds=60)}
    # not due yet: nothing is tried
    assert run_due(session, now=t0 + timedelta(seconds=59)).ran == 0
    # second attempt, then twice the delay
    assert run_due(session, now=t0 + timedelta(seconds=60)).retrying == 2
    notes = notifications_of(session, product)
    assert {n.next_attempt_at for n in notes} == {t0 + timedelta(seconds=180)}
    # third and last attempt: failed for good, the last error kept
    assert run_due(session, now=t0 + timedelta(seconds=180)).failed == 2
    notes = notifications_of(session, product)
    assert {n.status for n in notes} == {"failed"} and {n.attempts for n in notes} == {3}
    jobs = session.exec(select(Job)).all()
    assert {j.status for j in jobs} == {"failed"} and all("554" in j.last_error for j in jobs)
    assert refusing_mail_server.messages == []
    # visible as undelivered, and in the audit trail
    assert {v.notification.id for v in undelivered(session)} == {n.id for n in notes}
    failed = session.exec(select(AuditEvent).where(
        AuditEvent.action == "notification_failed")).all()
    assert len(failed) == 2
    assert run_due(session, now=t0 + timedelta(days=1)).ran == 0
    # and QA review lists them as exceptions, with the reason
    exceptions = [e for e in review_summary(session, product.din).exceptions
                  if e.kind == "notification_undelivered"]
    assert len(exceptions) == 2
    assert all("NOT DELIVERED: failed after 3 attempt(s)" in e.text for e in exceptions)


def test_a_mail_server_that_is_down_leaves_them_undelivered_and_says_so(
        session, no_mail_server: int):
    product = released_product_with_a_growing_culture(session)

    run_due(session, now=utcnow())

    notes = notifications_of(session, product)
    assert {n.status for n in notes} == {"pending"}
    assert all("could not be reached" in (n.last_error or "") for n in notes)
    assert all(f":{no_mail_server}" in (n.last_error or "") for n in notes)


def test_a_failed_notification_is_delivered_once_resent(session, mail_server: Inbox,
                                                         monkeypatch):
    # given a notification that failed because the mail server refused it
    monkeypatch.setenv("LIMS_NOTIFICATION_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    mail_server.refuse = True
    product = released_product_with_a_growing_culture(session)
    run_due(session, now=utcnow())
    failed = notifications_of(session, product)[0]
    assert failed.status == "failed"
    # when the server accepts mail again and QA resends it
    mail_server.refuse = False
    run = seeded(session)
    resend_notification(session, actor=run.user("qa1"), notification_id=failed.id)
    run_due(session, now=utcnow())
    # then it is delivered
    assert failed.id in {n.id for n in notifications_of(session, product)
                         if n.status == "sent"}
    assert len(mail_server.messages) == 1


def test_a_physician_without_an_address_stays_undelivered_until_one_is_added(
        session, mail_server: Inbox):
    # given a treating physician with no e-mail address
    run = seeded(session)
    update_user(session, actor=user_by_name(session, "admin"), username="doc1", email="")
    product = released_product_with_a_growing_culture(session)
    # when the runner tries to deliver
    run_due(session, now=utcnow())
    # then QA's mail went, the physician's waits with the reason
    notes = {n.recipient_id: n for n in notifications_of(session, product)}
    doc1 = run.user("doc1")
    assert notes[doc1.id].status == "pending"
    assert "has no e-mail address" in (notes[doc1.id].last_error or "")
    assert len(mail_server.to("qa1@lab.invalid")) == 1
    # when an administrator adds the address, the next attempt reaches it
    update_user(session, actor=user_by_name(session, "admin"), username="doc1",
                email="ali@clinic.invalid")
    run_due(session, now=utcnow() + timedelta(minutes=2))
    assert len(mail_server.to("ali@clinic.invalid")) == 1
    assert {n.status for n in notifications_of(session, product)} == {"sent"}


def test_qa_users_without_an_address_are_not_written_to(session):
    seeded(session)
    update_user(session, actor=user_by_name(session, "admin"), username="qa1", email="")
    product = released_product_with_a_growing_culture(session)

    notes = notifications_of(session, product)

    assert [n.to_address for n in notes] == ["doc1@lab.invalid"]


def test_notifications_are_listed_for_qa_and_refused_to_a_technician(session):
    run = seeded(session)
    product = released_product_with_a_growing_culture(session)

    views = list_notifications(session, actor=run.user("qa1"), din=product.din)

    assert {v.recipient for v in views} == {"doc1", "qa1"}
    assert all(v.undelivered and v.din == product.din for v in views)
    with pytest.raises(Forbidden, match="may not read notifications"):
        list_notifications(session, actor=run.user("tech1"))
