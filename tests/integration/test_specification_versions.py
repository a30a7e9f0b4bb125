"""Release specification versions: drafted, approved by QA's signature, effective from a time;
a product keeps the version it was made under, and an edit of approved limits is found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, Table, update
from sqlmodel import Session, select

from lims import demo_data as data
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Product, SpecificationSet, User
from lims.services.batch_record import batch_record
from lims.services.common import user_by_name, utcnow
from lims.services.harvests import schedule_harvest
from lims.services.qc import complete_qc, record_qc_result
from lims.services.release import release_product
from lims.services.specifications import (
    approve_specification,
    current_specification_set,
    new_specification_version,
    specification_of,
    withdraw_draft,
)
from lims.services.verification import verify_all
from tests.factories import PASSWORDS, acknowledge_all, make_patient, qc_sample_of, seeded
from workflows.errors import DomainError, ErrorCode
from workflows.specifications import SYSTEM_APPROVER, SpecificationStatus

PROTOCOL = "NCT00713934"
SPECS: Table = SpecificationSet.__table__  # type: ignore[attr-defined]


def draft(session: Session, author: User, **changes: object) -> SpecificationSet:
    return new_specification_version(session, actor=author, protocol_code=PROTOCOL, arm="CD133",
                                     changes=changes or {"viability_min_pct": 98.0},
                                     reason="tightened after the validation runs")


def approve(session: Session, version: int, **extra: object) -> SpecificationSet:
    qa = user_by_name(session, "qa1")
    return approve_specification(session, actor=qa, username="qa1",
                                 password=str(extra.pop("password", PASSWORDS["qa1"])),
                                 protocol_code=PROTOCOL, arm="CD133", version=version,
                                 **extra)  # type: ignore[arg-type]


def admin(session: Session) -> User:
    return user_by_name(session, "admin")


def new_product(run, session: Session) -> Product:
    patient = make_patient(run, "CD133")
    return schedule_harvest(session, actor=run.user("tech1"), subject_id=patient.subject_id)


def approval_events(session: Session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.SPECIFICATION_APPROVED, AuditEvent.user_id.is_not(None))))  # type: ignore[union-attr]


def test_version_1_from_the_protocol_is_approved_and_in_force_from_seeding(session):
    seeded(session)
    row = session.exec(select(SpecificationSet).where(SpecificationSet.arm == "CD133")).one()
    assert (row.status, row.approved_printed_name) == ("approved", SYSTEM_APPROVER)
    assert row.effective_from is not None and row.effective_from <= utcnow()
    assert row.approved_hash and row.approved_at is not None


def test_a_draft_has_no_effect_on_a_product_made_while_it_waits(session):
    # given a draft tightening the viability limit
    run = seeded(session)
    row = draft(session, admin(session))
    assert (row.version, row.status) == (2, SpecificationStatus.DRAFT)
    # when a product is made
    product = new_product(run, session)
    # then it is judged against version 1
    spec, version = specification_of(session, product)
    assert (spec.viability_min_pct, version) == (70.0, "CD133 v1")


def test_the_author_of_a_draft_may_not_approve_it(session):
    seeded(session)
    qa = user_by_name(session, "qa1")
    draft(session, qa)
    with pytest.raises(DomainError) as refused:
        approve(session, 2)
    assert refused.value.code == ErrorCode.NOT_INDEPENDENT
    session.expire_all()
    assert session.exec(select(SpecificationSet).where(
        SpecificationSet.version == 2)).one().status == "draft"


def test_an_approval_with_a_wrong_password_is_refused_and_writes_nothing(session):
    seeded(session)
    draft(session, admin(session))
    with pytest.raises(DomainError) as refused:
        approve(session, 2, password="not-the-password")
    assert refused.value.code == ErrorCode.SIGNATURE_NOT_AUTHENTICATED
    session.expire_all()
    row = session.exec(select(SpecificationSet).where(SpecificationSet.version == 2)).one()
    assert (row.status, row.approved_by_id, row.approved_hash) == ("draft", None, "")
    assert approval_events(session) == []


def test_the_administrator_drafts_but_only_qa_approves(session):
    seeded(session)
    draft(session, admin(session))
    with pytest.raises(DomainError) as refused:
        approve_specification(session, actor=admin(session), username="admin",
                              password="demo-admin-pass", protocol_code=PROTOCOL, arm="CD133",
                              version=2)
    assert refused.value.code == ErrorCode.FORBIDDEN


def test_qa_approval_records_the_signature_and_puts_the_version_in_force(session):
    run = seeded(session)
    draft(session, admin(session))
    row = approve(session, 2)
    qa = user_by_name(session, "qa1")
    assert (row.status, row.approved_by_id, row.approved_printed_name) == (
        "approved", qa.id, qa.full_name)
    assert row.approved_at is not None and row.effective_from == row.approved_at
    [event] = approval_events(session)
    assert '"meaning":"Approved"' in (event.new_value or "")
    assert event.reason == row.approved_hash
    assert specification_of(session, new_product(run, session))[1] == "CD133 v2"


def test_a_version_effective_in_the_future_is_not_used_until_then(session):
    # given v2 approved to take effect in two hours
    run = seeded(session)
    draft(session, admin(session))
    later = utcnow() + timedelta(hours=2)
    approve(session, 2, effective_from=later)
    protocol_id = session.exec(select(SpecificationSet.protocol_id)).first()
    # then a product made now is made under v1, and v2 is in force from its time
    assert specification_of(session, new_product(run, session))[1] == "CD133 v1"
    assert current_specification_set(session, protocol_id, "CD133").version == 1
    assert current_specification_set(session, protocol_id, "CD133",
                                      at=later + timedelta(minutes=1)).version == 2


def test_an_effective_time_in_the_past_is_refused(session):
    seeded(session)
    draft(session, admin(session))
    with pytest.raises(DomainError) as refused:
        approve(session, 2, effective_from=utcnow() - timedelta(days=1))
    assert refused.value.code == ErrorCode.INVALID_INPUT
    assert "in the past" in refused.value.detail


def test_only_one_draft_per_arm_is_open_and_a_withdrawn_one_is_kept(session):
    seeded(session)
    draft(session, admin(session))
    with pytest.raises(DomainError) as refused:
        draft(session, admin(session), dose_max_cells=10e6)
    assert refused.value.code == ErrorCode.CONFLICT
    assert "CD133 v2 is a draft awaiting QA approval" in refused.value.detail
    withdrawn = withdraw_draft(session, actor=admin(session), protocol_code=PROTOCOL,
                               arm="CD133", version=2, reason="wrong limit typed")
    assert withdrawn.status == SpecificationStatus.WITHDRAWN
    assert draft(session, admin(session), dose_max_cells=10e6).version == 3
    with pytest.raises(DomainError) as again:
        approve(session, 2)
    assert again.value.code == ErrorCode.CONFLICT


def test_a_draft_that_changes_nothing_or_breaks_the_specification_is_refused(session):
    seeded(session)
    for changes in ({"viability_min_pct": 70.0}, {"viability_min_pct": 170.0},
                    {"dose_max_cells": float("inf")}, {"mycoplasma_required": "maybe"}):
        with pytest.raises(DomainError) as refused:
            draft(session, admin(session), **changes)
        assert refused.value.code == ErrorCode.INVALID_INPUT, changes
    with pytest.raises(DomainError) as unreasoned:
        new_specification_version(session, actor=admin(session), protocol_code=PROTOCOL,
                                  arm="CD133", changes={"viability_min_pct": 80.0}, reason=" ")
    assert unreasoned.value.code == ErrorCode.REASON_REQUIRED


def enter_qc(run, product: Product) -> None:
    for test, value in data.qc_results(product.arm).items():
        record_qc_result(run.session, actor=run.user("tech2"), din=product.din, test=test,
                         value=value, **qc_sample_of(run.session, product.din, test))
    complete_qc(run.session, actor=run.user("tech2"), din=product.din)


def test_a_product_made_under_v1_keeps_v1_after_v2_is_in_force(session):
    # given a product formulated under v1 (viability ≥ 70 %)
    run = seeded(session)
    product = run.process(make_patient(run, "CD133"), utcnow() - timedelta(hours=7),
                          until="formulated")
    # when v2 (viability ≥ 98 %) is approved and in force
    draft(session, admin(session))
    approve(session, 2)
    # then its 97.1 % viability is judged by v1: it passes, and the record says v1
    enter_qc(run, product)
    acknowledge_all(run, product)
    released = release_product(session, actor=run.user("qa1"), din=product.din,
                               password=PASSWORDS["qa1"])
    assert released.state == "released"
    record = batch_record(session, product.din)
    assert record.specification_version == "CD133 v1"
    assert all(qc.source.startswith("specification CD133 v1") for qc in record.qc)
    viability = next(qc for qc in record.qc if qc.test == "Viability (7-AAD)")
    assert viability.passed and "70" in viability.specification
    # and a product made now is made under v2
    assert specification_of(session, new_product(run, session))[1] == "CD133 v2"


def test_verify_finds_approved_limits_changed_behind_the_systems_back(session: Session,
                                                                       engine: Engine):
    # given v2 approved and a trail that verifies
    seeded(session)
    draft(session, admin(session))
    approve(session, 2)
    session.close()
    assert verify_all(session).ok
    # when a DBA loosens the approved limits by a direct write
    row = session.exec(select(SpecificationSet).where(SpecificationSet.version == 2)).one()
    loosened = {**row.limits, "viability_min_pct": 10.0}
    session.close()
    with engine.begin() as conn:
        conn.execute(update(SPECS).where(SPECS.c.id == row.id).values(limits=loosened))
    # then verification fails, naming the version and its limits
    report = verify_all(session)
    assert not report.ok
    assert any("specification CD133 v2: limits" in line for line in report.lines), report.lines


def test_verify_finds_an_approved_version_without_approver(session: Session, engine: Engine):
    seeded(session)
    draft(session, admin(session))
    approve(session, 2)
    row_id = session.exec(select(SpecificationSet.id).where(SpecificationSet.version == 2)).one()
    session.close()
    with engine.begin() as conn:
        conn.execute(update(SPECS).where(SPECS.c.id == row_id).values(approved_by_id=None))
    report = verify_all(session)
    assert not report.ok
    assert any("specification CD133 v2: approver" in line for line in report.lines)


def test_verify_finds_a_draft_marked_approved_outside_the_system(session: Session,
                                                                  engine: Engine):
    seeded(session)
    row = draft(session, admin(session))
    session.close()
    with engine.begin() as conn:
        conn.execute(update(SPECS).where(SPECS.c.id == row.id).values(
            status="approved", effective_from=utcnow()))
    report = verify_all(session)
    assert not report.ok
    assert any("specification CD133 v2: approval" in line for line in report.lines)
