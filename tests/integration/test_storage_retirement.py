"""Storage locations taken out of use (a freezer broken or decommissioned, a box moved away)
and put back: only when empty, with everything under them, by a keeper with a reason,
audited; nothing is stored in, nor a probe assigned to, a place out of use."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.demo import DemoRun
from lims.models import AuditEvent, CoiEvent, ContainerStorage, StorageLocation
from lims.services.common import user_by_name
from lims.services.queries import container_scan_text
from lims.services.storage import store_container
from lims.services.storage_locations import (
    boxes,
    create_location,
    deactivate_location,
    location_tree,
    reactivate_location,
)
from lims.services.temperature import register_device
from lims.services.verification import verify_all
from tests.factories import audit_count, container_of, seeded
from tests.integration.test_storage import build_tree, formulated_with_retention
from workflows.errors import DomainError, ErrorCode, IdentityMismatch

FREEZER_AND_BELOW = ["FRZ1", "RACK1", "BOX1", *[f"BOX1-{r}{c}" for r in "AB" for c in (1, 2, 3)]]


@pytest.fixture
def run(session: Session) -> DemoRun:
    run = seeded(session)
    build_tree(run)
    return run


def in_use(session: Session) -> dict[str, bool]:
    session.commit()  # what the database holds now
    return {row.code: row.active for row in session.exec(select(StorageLocation))}


def events(session: Session, action: AuditAction) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)
                             .order_by(col(AuditEvent.seq))))


def test_a_retired_freezer_takes_everything_under_it_out_of_use_and_comes_back_level_by_level(
        run: DemoRun) -> None:
    session, sup = run.session, run.user("super1")

    # when the supervisor retires the freezer
    freezer = deactivate_location(session, actor=sup, code="frz1", reason="Compressor failed")

    # then it and every place under it are out of use, each with its own event
    assert freezer.code == "FRZ1" and not freezer.active
    assert {code for code, active in in_use(session).items() if not active} == \
        set(FREEZER_AND_BELOW)
    retired = events(session, AuditAction.STORAGE_LOCATION_DEACTIVATED)
    assert [(e.entity, e.entity_id, e.field, e.old_value, e.new_value) for e in retired[:2]] == [
        ("storage_location", "FRZ1", "active", "true", "false"),
        ("storage_location", "BOX1", "active", "true", "false")]
    assert sorted(e.entity_id for e in retired) == sorted(FREEZER_AND_BELOW)
    assert retired[0].reason == "Compressor failed"
    assert {e.reason for e in retired[1:]} == {"with FRZ1: Compressor failed"}
    assert [(line.location.code, line.location.active) for line in location_tree(session)] == [
        ("SITE1", True), ("ROOM1", True), ("FRZ1", False), ("RACK1", False), ("BOX1", False)]
    assert boxes(session) == []
    with pytest.raises(DomainError, match="out of use"):
        create_location(session, actor=sup, kind="box", name="Box 2", code="BOX2",
                        parent_code="RACK1", rows=1, columns=1)
    assert verify_all(session).ok

    # and a box under the retired rack cannot come back before the rack (nothing written)
    before = audit_count(session)
    with pytest.raises(DomainError, match="inside rack Rack 1 \\(RACK1\\), which is out of use"):
        reactivate_location(session, actor=sup, code="BOX1", reason="Repaired")
    assert audit_count(session) == before

    # when the freezer comes back, then only the freezer does; the rack and box one by one
    admin = user_by_name(session, "admin")
    reactivate_location(session, actor=admin, code="FRZ1", reason="Repaired")
    assert [c for c, a in in_use(session).items() if a and c in FREEZER_AND_BELOW] == ["FRZ1"]
    reactivate_location(session, actor=sup, code="RACK1", reason="Repaired")
    reactivate_location(session, actor=sup, code="BOX1", reason="Repaired")
    assert all(in_use(session).values())  # the box with its positions
    back = events(session, AuditAction.STORAGE_LOCATION_REACTIVATED)
    assert [(e.entity_id, e.old_value, e.new_value, e.reason) for e in back[:3]] == [
        ("FRZ1", "false", "true", "Repaired"), ("RACK1", "false", "true", "Repaired"),
        ("BOX1", "false", "true", "Repaired")]
    assert len(back) == 3 + 6 and back[-1].reason == "with BOX1: Repaired"
    report = verify_all(session)
    assert report.ok, report.lines


def test_a_location_holding_a_container_is_not_retired_and_the_refusal_names_it(
        run: DemoRun) -> None:
    # given the negative fraction stored in the box
    session, sup = run.session, run.user("super1")
    product = formulated_with_retention(run)
    negative = container_of(session, product, "cd133_negative")
    store_container(session, actor=run.user("tech1"),
                    container_scan=container_scan_text(product, negative),
                    position_scan="BOX1-A2")
    before = audit_count(session)

    # when the box, or the freezer above it, is to be retired, then it is refused
    for code in ("BOX1", "FRZ1", "ROOM1"):
        with pytest.raises(DomainError) as refused:
            deactivate_location(session, actor=sup, code=code, reason="Moved to building B")
        assert refused.value.code == ErrorCode.CONFLICT
        assert f"({code}) still holds containers: CD133 negative fraction of DIN " \
               f"{product.din} in BOX1-A2" in refused.value.detail, refused.value.detail
        session.rollback()

    # and nothing was written
    assert audit_count(session) == before
    assert all(in_use(session).values())

    # the rack beside it is empty: that one goes
    create_location(session, actor=sup, kind="rack", name="Rack 2", code="RACK2",
                    parent_code="FRZ1")
    deactivate_location(session, actor=sup, code="RACK2", reason="Moved to building B")
    assert not in_use(session)["RACK2"]


def test_retiring_needs_a_keeper_a_reason_and_a_location_that_is_not_a_lone_position(
        run: DemoRun) -> None:
    session, sup = run.session, run.user("super1")
    before = audit_count(session)
    cases = [
        (run.user("tech1"), "BOX1", "Broken", ErrorCode.FORBIDDEN),
        (run.user("qa1"), "BOX1", "Broken", ErrorCode.FORBIDDEN),
        (sup, "BOX1", "   ", ErrorCode.REASON_REQUIRED),
        (sup, "BOX1", "x" * 501, ErrorCode.INVALID_INPUT),
        (sup, "BOX1", "Broken\x1b[2J", ErrorCode.INVALID_INPUT),
        (sup, "BOX1-A1", "One well cracked", ErrorCode.INVALID_INPUT),
        (sup, "NOWHERE", "Broken", ErrorCode.NOT_FOUND),
        (sup, "BOX1", "", ErrorCode.REASON_REQUIRED),
    ]
    for actor, code, reason, expected in cases:
        with pytest.raises(DomainError) as refused:
            deactivate_location(session, actor=actor, code=code, reason=reason)
        assert refused.value.code == expected, (code, reason, refused.value.detail)
        session.rollback()
    assert audit_count(session) == before
    assert all(in_use(session).values())
    with pytest.raises(DomainError) as already:
        reactivate_location(session, actor=sup, code="BOX1", reason="Back")
    assert already.value.code == ErrorCode.CONFLICT
    deactivate_location(session, actor=sup, code="BOX1", reason="Cracked lid")
    with pytest.raises(DomainError) as twice:
        deactivate_location(session, actor=sup, code="BOX1", reason="Cracked lid")
    assert twice.value.code == ErrorCode.CONFLICT
    with pytest.raises(DomainError) as by_technician:
        reactivate_location(session, actor=run.user("tech1"), code="BOX1", reason="Back")
    assert by_technician.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(DomainError) as no_reason:
        reactivate_location(session, actor=sup, code="BOX1", reason="")
    assert no_reason.value.code == ErrorCode.REASON_REQUIRED


def test_nothing_is_stored_in_a_retired_box_and_the_refused_scan_is_recorded(
        run: DemoRun) -> None:
    session = run.session
    product = formulated_with_retention(run)
    scan = container_scan_text(product, container_of(session, product, "cd133_negative"))
    deactivate_location(session, actor=run.user("super1"), code="BOX1", reason="Cracked lid")
    refused_scans = len(session.exec(select(CoiEvent)).all())

    with pytest.raises(IdentityMismatch, match="position BOX1-A1 is out of use"):
        store_container(session, actor=run.user("tech1"), container_scan=scan,
                        position_scan="BOX1-A1")

    assert len(session.exec(select(CoiEvent)).all()) == refused_scans + 1
    assert session.exec(select(ContainerStorage)).all() == []


def test_a_position_left_in_use_under_a_retired_freezer_is_still_refused(run: DemoRun) -> None:
    """The store scan looks up the tree, not only at the position (a row written outside
    the system, or before retirements took their contents with them)."""
    session = run.session
    product = formulated_with_retention(run)
    scan = container_scan_text(product, container_of(session, product, "cd133_negative"))
    session.execute(text("UPDATE storage_location SET active = :no WHERE code = 'FRZ1'"),
                    {"no": False})
    session.commit()

    with pytest.raises(IdentityMismatch, match=r"out of use \(inside Freezer -80, FRZ1\)"):
        store_container(session, actor=run.user("tech1"), container_scan=scan,
                        position_scan="BOX1-A1")
    assert session.exec(select(ContainerStorage)).all() == []


def test_a_probe_is_not_assigned_to_a_retired_location(run: DemoRun) -> None:
    session, sup = run.session, run.user("super1")
    deactivate_location(session, actor=sup, code="FRZ1", reason="Decommissioned")
    for code in ("FRZ1", "BOX1"):
        with pytest.raises(DomainError, match="out of use") as refused:
            register_device(session, actor=sup, device=f"PROBE-{code}", location_code=code)
        assert refused.value.code == ErrorCode.INVALID_INPUT
        session.rollback()
    reactivate_location(session, actor=sup, code="FRZ1", reason="Back after repair")
    assert register_device(session, actor=sup, device="PROBE-FRZ1",
                           location_code="FRZ1").location_id is not None


def test_audit_verify_finds_a_location_put_back_in_use_behind_the_systems_back(
        run: DemoRun) -> None:
    session = run.session
    deactivate_location(session, actor=run.user("super1"), code="BOX1", reason="Cracked lid")
    session.execute(text("UPDATE storage_location SET active = :yes WHERE code = 'BOX1-B3'"),
                    {"yes": True})
    session.commit()

    report = verify_all(session)

    assert not report.ok
    assert [(p.where, p.what, p.found) for p in report.problems] == [
        ("storage location BOX1-B3", "in use", "in use")]
    assert report.problems[0].expected.startswith("out of use (event ")
