"""QA acknowledges each exception of the review before a release is signed (issue 13)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from lims.audit import content_hash
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, ReviewAcknowledgement, Signature
from lims.services.deviations import close_deviation, raise_deviation
from lims.services.release import product_content, reject_product, release_product
from lims.services.review_acknowledgements import acknowledge_exception, unacknowledged
from lims.services.verification import verify_all
from tests.factories import PASSWORDS, acknowledge_all, audit_count, snapshot, step_time
from tests.integration.test_release import awaiting_release
from workflows.errors import DomainError, ErrorCode

E = ErrorCode
MINUTE = timedelta(minutes=1)


def release(run, product):
    return release_product(run.session, actor=run.user("qa1"), din=product.din,
                           password=PASSWORDS["qa1"], now=step_time(product, "release"))


def acknowledgements(session, product):
    session.commit()
    return session.exec(select(ReviewAcknowledgement).where(
        ReviewAcknowledgement.product_id == product.id)).all()


def with_a_deviation(run, product, classification="minor"):
    return raise_deviation(run.session, actor=run.user("tech1"), din=product.din,
                           step="formulate", classification=classification,
                           description="the syringe cap was found loose")


def the(session, product, kind):
    return next(i for i in unacknowledged(session, product) if i.kind == kind)


def test_a_release_is_refused_while_an_exception_is_unacknowledged_and_nothing_is_written(
        session):
    # given a product awaiting release whose culture is still pending (one exception)
    run, product = awaiting_release(session)
    before, events = snapshot(session, product.din), audit_count(session)

    # when QA signs the release without acknowledging it
    with pytest.raises(DomainError) as refused:
        release(run, product)

    # then the release is refused, says what remains, and nothing was written
    assert refused.value.code == E.EXCEPTIONS_NOT_ACKNOWLEDGED
    assert "1 exception remains to acknowledge" in refused.value.detail
    assert snapshot(session, product.din) == before
    assert audit_count(session) == events
    assert acknowledgements(session, product) == []


def test_once_every_exception_is_acknowledged_the_release_signature_covers_them(session):
    run, product = awaiting_release(session)
    pending = the(session, product, "pending")

    acknowledged = acknowledge_exception(session, actor=run.user("qa1"), din=product.din,
                                         key=pending.key,
                                         now=step_time(product, "complete_qc") + MINUTE)
    released = release(run, product)

    assert released.state == "released"
    row = acknowledged.acknowledgement
    assert row is not None and row.comment == "" and row.printed_name == run.user("qa1").full_name
    signature = session.exec(select(Signature).where(Signature.product_id == product.id,
                                                     Signature.meaning == "Released")).one()
    content = product_content(session, released, as_of=signature.signed_at)
    assert content["acknowledgements"] == [[
        "pending", pending.text, "", row.user_id, row.printed_name,
        row.acknowledged_at.isoformat()]]
    assert signature.record_hash == content_hash(content)
    assert verify_all(session).ok


def test_a_rejection_never_waits_for_the_acknowledgements(session):
    run, product = awaiting_release(session)

    rejected = reject_product(session, actor=run.user("qa1"), din=product.din,
                              password=PASSWORDS["qa1"], reason="cap found loose",
                              now=step_time(product, "release"))

    assert rejected.state == "rejected"


def test_a_deviation_needs_a_comment_and_a_pending_culture_does_not(session):
    run, product = awaiting_release(session)
    with_a_deviation(run, product)
    deviation = the(session, product, "deviation")
    before = audit_count(session)

    for empty in ("", "   "):
        with pytest.raises(DomainError) as refused:
            acknowledge_exception(session, actor=run.user("qa1"), din=product.din,
                                  key=deviation.key, comment=empty)
        assert refused.value.code == E.COMMENT_REQUIRED
    with pytest.raises(DomainError) as refused:
        acknowledge_exception(session, actor=run.user("qa1"), din=product.din,
                              key=deviation.key, comment="cap\x07loose")
    assert refused.value.code == E.INVALID_INPUT
    assert acknowledgements(session, product) == [] and audit_count(session) == before

    acknowledge_exception(session, actor=run.user("qa1"), din=product.din,
                          key=deviation.key, comment="  re-capped at once; sterile  ")
    acknowledge_exception(session, actor=run.user("qa1"), din=product.din,
                          key=the(session, product, "pending").key)

    rows = acknowledgements(session, product)
    assert [(r.kind, r.comment) for r in rows] == [
        ("deviation", "re-capped at once; sterile"), ("pending", "")]
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.REVIEW_EXCEPTION_ACKNOWLEDGED.value)
        .order_by(AuditEvent.seq)).first()
    assert event is not None and event.old_value is None and event.username == "qa1"
    assert json.loads(event.new_value or "{}") == {
        "kind": "deviation", "text": deviation.text, "comment": "re-capped at once; sterile"}
    assert release(run, product).state == "released"


def test_a_changed_exception_needs_a_new_acknowledgement(session):
    # given a major deviation QA acknowledged while it was open
    run, product = awaiting_release(session)
    opened = with_a_deviation(run, product, classification="major")
    acknowledge_all(run, product)
    old_key = next(r.exception_key for r in acknowledgements(session, product)
                   if r.kind == "deviation")

    # when QA closes it: the exception now reads "closed: ..."
    close_deviation(session, actor=run.user("qa1"), deviation_id=opened.id,
                    disposition="cap replaced, sterility unaffected", password=PASSWORDS["qa1"])

    # then it is a new exception, the old acknowledgement does not cover it
    waiting = unacknowledged(session, product)
    assert [i.kind for i in waiting] == ["deviation"] and "closed" in waiting[0].text
    with pytest.raises(DomainError) as refused:
        release(run, product)
    assert refused.value.code == E.EXCEPTIONS_NOT_ACKNOWLEDGED
    with pytest.raises(DomainError) as stale:
        acknowledge_exception(session, actor=run.user("qa1"), din=product.din, key=old_key,
                              comment="seen")
    assert stale.value.code == E.EXCEPTION_NOT_CURRENT
    acknowledge_exception(session, actor=run.user("qa1"), din=product.din,
                          key=waiting[0].key, comment="closed with a disposition")
    assert release(run, product).state == "released"


def test_an_exception_is_acknowledged_once_by_qa_only_while_a_decision_is_pending(session):
    run, product = awaiting_release(session)
    key = the(session, product, "pending").key

    for who in ("super1", "tech1", "doc1"):
        with pytest.raises(DomainError) as refused:
            acknowledge_exception(session, actor=run.user(who), din=product.din, key=key)
        assert refused.value.code == E.FORBIDDEN
    assert acknowledgements(session, product) == []

    acknowledge_exception(session, actor=run.user("qa1"), din=product.din, key=key)
    with pytest.raises(DomainError) as again:
        acknowledge_exception(session, actor=run.user("qa1"), din=product.din, key=key)
    assert again.value.code == E.ALREADY_EXISTS
    release(run, product)
    with pytest.raises(DomainError) as late:
        acknowledge_exception(session, actor=run.user("qa1"), din=product.din, key=key)
    assert late.value.code == E.CONFLICT


def test_verify_catches_an_acknowledgement_edited_in_the_database_after_release(session):
    # given a product released once its deviation was acknowledged with a comment
    run, product = awaiting_release(session)
    with_a_deviation(run, product)
    acknowledge_all(run, product, at=step_time(product, "complete_qc"))
    release(run, product)
    assert verify_all(session).ok

    # when someone edits the comment directly in the database
    session.execute(text("UPDATE review_acknowledgement SET comment = 'no impact at all' "
                         "WHERE kind = 'deviation'"))
    session.commit()

    # then verification reports the release signature no longer matching the records
    report = verify_all(session)
    assert not report.ok
    assert any("no longer match what was signed" in line for line in report.lines), report.lines


def test_verify_catches_an_acknowledgement_edited_or_deleted_before_any_release(session):
    # given a product awaiting release whose two exceptions QA acknowledged
    run, product = awaiting_release(session)
    with_a_deviation(run, product)
    acknowledge_all(run, product)
    assert verify_all(session).ok

    # when one comment is edited and the other acknowledgement deleted in the database
    session.execute(text("UPDATE review_acknowledgement SET comment = 'fine' "
                         "WHERE kind = 'deviation'"))
    session.execute(text("DELETE FROM review_acknowledgement WHERE kind = 'pending'"))
    session.commit()

    # then verification names both
    report = verify_all(session)
    assert not report.ok
    found = [(p.where, p.what) for p in report.problems]
    assert any(w.startswith("QA review acknowledgement") and what == "comment"
               for w, what in found), found
    assert any(w.startswith("QA review acknowledgement") for w, what in found
               if what != "comment"), found
