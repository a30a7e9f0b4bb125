"""Hold, resume, discard and expiry: the cross-cutting dispositions of a product."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from lims.models import AuditEvent
from lims.services.common import utcnow
from lims.services.dispositions import (
    discard_product,
    expire_due,
    expire_product,
    hold_product,
    resume_product,
)
from lims.services.release import reject_product
from lims.services.verification import verify_all
from tests.factories import (
    PASSWORDS,
    STATE_AFTER,
    advance,
    make_product,
    perform,
    process_steps,
    seeded,
    snapshot,
    step_before,
)
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def hold(run, product, reason="deviation DEV-001: awaiting supervisor decision", user="super1"):
    return hold_product(run.session, actor=run.user(user), din=product.din, reason=reason)


def resume(run, product, reason="supervisor decision: continue", user="super1"):
    return resume_product(run.session, actor=run.user(user), din=product.din, reason=reason)


def discard(run, product, reason="contaminated on the bench", user="super1", password=None):
    return discard_product(run.session, actor=run.user(user), din=product.din, reason=reason,
                           password=password or PASSWORDS[user])


def test_a_product_held_at_every_stage_resumes_to_exactly_that_stage(session):
    # given one CD133 product taken through the whole process
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="scheduled")
    states = ["scheduled", *(str(STATE_AFTER[step]) for step in process_steps("CD133")
                             if step != "administer")]
    for state in states:
        product = advance(run, product, state)
        version = product.version

        # when it is held at this stage
        held = hold(run, product)
        # then it is on hold, remembering where from, and cannot be processed meanwhile
        assert (held.state, held.held_from) == ("on_hold", state)
        assert snapshot(session, product.din).held_from == state

        # when it is resumed
        resumed = resume(run, held)
        # then it is back at exactly that stage, two versions on
        assert (resumed.state, resumed.held_from, resumed.version) == (state, None, version + 2)
        product = resumed

    # and every hold and resume is in the audit trail with its reason
    changes = session.exec(select(AuditEvent.old_value, AuditEvent.new_value).where(
        AuditEvent.action == "state_changed", AuditEvent.entity_id == product.din,
        (AuditEvent.new_value == "on_hold") | (AuditEvent.old_value == "on_hold"))
        .order_by(AuditEvent.seq)).all()
    expected = []
    for state in states:
        expected += [(state, "on_hold"), ("on_hold", state)]
    assert [tuple(c) for c in changes] == expected
    report = verify_all(session)
    assert report.ok, report.lines


def test_a_held_product_cannot_be_processed(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    product = hold(run, product)
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "sediment", scan="irrelevant")

    assert refused.value.code == E.INVALID_TRANSITION
    assert snapshot(session, product.din) == before


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_hold_resume_and_discard_need_a_reason(session, reason):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    for action in (hold, discard):
        before = snapshot(session, product.din)
        with pytest.raises(DomainError) as refused:
            action(run, product, reason=reason)
        assert refused.value.code == E.REASON_REQUIRED, action.__name__
        assert snapshot(session, product.din) == before

    product = hold(run, product)
    before = snapshot(session, product.din)
    with pytest.raises(DomainError) as refused:
        resume(run, product, reason=reason)
    assert refused.value.code == E.REASON_REQUIRED
    assert snapshot(session, product.din) == before


def test_a_technician_may_hold_but_not_resume_or_discard(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    product = hold(run, product, user="tech1")
    assert product.state == "on_hold"
    for action in (resume, discard):
        with pytest.raises(DomainError) as refused:
            action(run, product, user="tech1")
        assert refused.value.code == E.FORBIDDEN, action.__name__


def test_a_held_product_can_be_discarded(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="mnc_isolated")
    product = hold(run, product)

    discarded = discard(run, product, user="qa1")

    assert discarded.state == "discarded"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "state_changed")
                         .order_by(col(AuditEvent.seq).desc())).first()
    assert event is not None
    assert (event.old_value, event.new_value, event.reason) == (
        "on_hold", "discarded", "contaminated on the bench")
    assert verify_all(session).ok


def test_a_rejected_product_can_only_be_discarded(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="awaiting_release")
    product = reject_product(session, actor=run.user("qa1"), din=product.din,
                             password=PASSWORDS["qa1"], reason="dose below specification")

    for action in (hold, resume):
        with pytest.raises(DomainError) as refused:
            action(run, product)
        assert refused.value.code == E.INVALID_TRANSITION, action.__name__

    assert discard(run, product).state == "discarded"


# --- expiry ---------------------------------------------------------------------------------

def test_expiry_is_refused_before_the_product_expires(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        expire_product(session, actor=run.user("tech1"), din=product.din,
                       now=product.expires_at - timedelta(minutes=1))

    assert refused.value.code == E.PRODUCT_NOT_EXPIRED
    assert snapshot(session, product.din) == before


def test_a_product_without_a_harvest_never_expires(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="scheduled")
    assert product.expires_at is None

    with pytest.raises(DomainError) as refused:
        expire_product(session, actor=run.user("tech1"), din=product.din,
                       now=utcnow() + timedelta(days=30))

    assert refused.value.code == E.PRODUCT_NOT_EXPIRED


@pytest.mark.parametrize("state", ["received", "released", "on_hold"])
def test_expiry_is_accepted_once_the_product_has_expired(session, state):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC",
                              until=state if state != "on_hold" else "formulated")
    if state == "on_hold":
        product = hold(run, product)

    expired = expire_product(session, actor=run.user("tech1"), din=product.din,
                             now=product.expires_at)

    assert expired.state == "expired"
    assert verify_all(session).ok


def test_expire_due_expires_only_overdue_products_that_are_not_final(session):
    # given products harvested 13 h ago (overdue), 7 h ago (administered in date, overdue by
    # the time the scheduler runs 5.5 h from now) and 1 h ago (in date then)
    run = seeded(session)
    long_ago = utcnow() - timedelta(hours=13)
    overdue, _ = make_product(run, arm="CD133", until="received", t0=long_ago)
    overdue_on_hold, _ = make_product(run, arm="BM-MNC", until="mnc_isolated", t0=long_ago)
    overdue_on_hold = hold(run, overdue_on_hold)
    administered, _ = make_product(run, arm="BM-MNC", until="administered")
    in_date, _ = make_product(run, arm="CD133", until="received",
                              t0=utcnow() - timedelta(hours=1))
    not_harvested, _ = make_product(run, arm="CD133", until="scheduled")
    later = utcnow() + timedelta(hours=5, minutes=30)

    # when the scheduler runs
    expired = expire_due(session, actor=run.user("super1"), now=later)

    # then only the overdue products still in process are expired
    assert sorted(expired) == sorted([overdue.din, overdue_on_hold.din])
    states = {p.din: snapshot(session, p.din).state
              for p in (overdue, overdue_on_hold, administered, in_date, not_harvested)}
    assert states == {overdue.din: "expired", overdue_on_hold.din: "expired",
                      administered.din: "administered", in_date.din: "received",
                      not_harvested.din: "scheduled"}
    # and a second run finds nothing more to do
    assert expire_due(session, actor=run.user("super1"), now=later) == []
    assert verify_all(session).ok


# --- final states -----------------------------------------------------------------------------

@pytest.mark.parametrize("final", ["administered", "discarded", "expired"])
def test_a_product_in_a_final_state_accepts_no_trigger(session, final):
    # given a product in a final state
    run = seeded(session)
    if final == "administered":
        product, _ = make_product(run, arm="CD133", until="administered")
    else:
        product, _ = make_product(run, arm="CD133", until="received")
        product = (discard(run, product) if final == "discarded" else
                   expire_product(session, actor=run.user("tech1"), din=product.din,
                                  now=product.expires_at))
    assert product.state == final
    before = snapshot(session, product.din)

    # when anyone tries anything
    attempts = {
        "hold": lambda: hold(run, product),
        "resume": lambda: resume(run, product),
        "discard": lambda: discard(run, product),
        "expire": lambda: expire_product(session, actor=run.user("super1"), din=product.din,
                                         now=utcnow() + timedelta(days=2)),
    }
    for step in step_before("administered", "CD133"):
        if step not in ("complete_qc", "release"):
            attempts[step] = lambda step=step: perform(run, product, step, scan="x")

    # then each is an invalid transition and nothing changes
    for name, attempt in attempts.items():
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == E.INVALID_TRANSITION, name
    assert snapshot(session, product.din) == before
