"""Storage (issue 16): locations, retention samples drawn at formulation, containers scanned
into a position and out again with a reason, the history, and what an excursion touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.demo import DemoRun
from lims.models import AuditEvent, CoiEvent, Container, ContainerStorage, Product, StorageLocation
from lims.services.common import utcnow
from lims.services.queries import container_scan_text
from lims.services.storage import (
    remove_container,
    storage_history,
    store_container,
    stored_during,
)
from lims.services.storage_locations import box_map, create_location, location_tree, range_of
from lims.services.verification import verify_all
from tests.factories import audit_count, container_of, make_product, seeded, step_time
from tests.factories import step_values as factory_values
from workflows.errors import DomainError, ErrorCode, IdentityMismatch

RETENTION = {"retention_samples": 2, "retention_sample_volume_ml": 0.5}


def build_tree(run: DemoRun) -> None:
    sup = run.user("super1")
    create_location(run.session, actor=sup, kind="site", name="Hospital", code="SITE1")
    create_location(run.session, actor=sup, kind="room", name="Cell lab", code="ROOM1",
                    parent_code="SITE1", temperature_min_c=15, temperature_max_c=25)
    create_location(run.session, actor=sup, kind="freezer", name="Freezer -80", code="FRZ1",
                    parent_code="ROOM1", temperature_min_c=-90, temperature_max_c=-60)
    create_location(run.session, actor=sup, kind="rack", name="Rack 1", code="RACK1",
                    parent_code="FRZ1")
    create_location(run.session, actor=sup, kind="box", name="Box 1", code="BOX1",
                    parent_code="RACK1", rows=2, columns=3)


def formulated_with_retention(run: DemoRun) -> Product:
    """A CD133 product formulated with two retention samples drawn."""
    product, _ = make_product(run, until="enriched")
    from tests.factories import perform

    at = step_time(product, "formulate")
    values = {**factory_values("formulate", "CD133", at), **RETENTION,
              "retention_drawn_at": (at - timedelta(minutes=3)).isoformat()}
    return perform(run, product, "formulate", at=at, values=values).product


@pytest.fixture
def run(session: Session) -> DemoRun:
    run = seeded(session)
    build_tree(run)
    return run


def test_the_tree_holds_ranges_and_a_box_its_positions(run: DemoRun) -> None:
    session = run.session
    box = session.exec(select(StorageLocation).where(StorageLocation.code == "BOX1")).one()
    positions = session.exec(select(StorageLocation).where(
        StorageLocation.parent_id == box.id)).all()
    assert sorted(p.code for p in positions) == [f"BOX1-{r}{c}" for r in "AB" for c in (1, 2, 3)]
    # The box sets no range: it must hold its freezer's.
    assert (range_of(session, box).low_c, range_of(session, box).high_c) == (-90, -60)
    assert [line.location.code for line in location_tree(session)] == [
        "SITE1", "ROOM1", "FRZ1", "RACK1", "BOX1"]
    assert audit_count(session, AuditAction.STORAGE_LOCATION_CREATED) == 5


def test_location_rules_and_roles(run: DemoRun) -> None:
    session = run.session
    with pytest.raises(DomainError, match="a box cannot be inside a room"):
        create_location(session, actor=run.user("super1"), kind="box", name="B", code="BX",
                        parent_code="ROOM1", rows=2, columns=2)
    with pytest.raises(DomainError) as refused:
        create_location(session, actor=run.user("tech1"), kind="room", name="R", code="R2",
                        parent_code="SITE1")
    assert refused.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(DomainError) as taken:
        create_location(session, actor=run.user("super1"), kind="rack", name="R", code="rack1",
                        parent_code="FRZ1")
    assert taken.value.code == ErrorCode.ALREADY_EXISTS
    with pytest.raises(DomainError, match="above the highest"):
        create_location(session, actor=run.user("super1"), kind="fridge", name="F", code="FR2",
                        parent_code="ROOM1", temperature_min_c=8, temperature_max_c=2)
    assert session.exec(select(StorageLocation)).all().__len__() == 5 + 6


def test_retention_samples_are_drawn_at_formulation_and_labelled(run: DemoRun) -> None:
    product = formulated_with_retention(run)
    session = run.session
    samples = session.exec(select(Container).where(
        Container.product_id == product.id, Container.kind == "retention_sample")).all()
    assert [(s.flags, s.volume_ml) for s in samples] == [("21", 0.5), ("22", 0.5)]
    final = container_of(session, product, "final_product")
    assert {s.parent_id for s in samples} == {final.id}
    # Labelled and scanned back like every other container (print-then-scan).
    assert all(s.label_verified_at is not None for s in samples)


def test_store_the_negative_fraction_and_a_retention_sample(run: DemoRun) -> None:
    session = run.session
    product = formulated_with_retention(run)
    negative = container_of(session, product, "cd133_negative")
    sample = container_of(session, product, "retention_sample")
    before = audit_count(session)
    store_container(session, actor=run.user("tech1"),
                    container_scan=container_scan_text(product, negative),
                    position_scan="box1-a1")
    store_container(session, actor=run.user("tech2"),
                    container_scan=container_scan_text(product, sample), position_scan="BOX1-B3")
    assert audit_count(session) == before + 4  # stored + disposition, twice
    session.refresh(negative)
    assert negative.status == "stored"
    grid = box_map(session, "BOX1")
    assert grid.occupied == 2
    assert grid.grid[0][0].din == product.din and grid.grid[1][2].container.id == sample.id
    history = storage_history(session, product)
    assert [h.where.endswith(w) for h, w in zip(history, ("A1", "B3"), strict=True)] == [True] * 2
    assert "Freezer -80" in history[0].where and history[0].removed_at is None
    report = verify_all(session)  # the chain, and every row reconciled with the trail
    assert report.ok, report.lines


def test_refusals_are_recorded_and_store_nothing(run: DemoRun) -> None:
    session = run.session
    product = formulated_with_retention(run)
    negative = container_of(session, product, "cd133_negative")
    final = container_of(session, product, "final_product")
    scan = container_scan_text(product, negative)
    store_container(session, actor=run.user("tech1"), container_scan=scan,
                    position_scan="BOX1-A1")
    sample = container_of(session, product, "retention_sample")
    cases = [
        (container_scan_text(product, sample), "BOX1-A1", "already holds"),  # occupied
        (container_scan_text(product, sample), "BOX1", "not a position"),  # a box
        (container_scan_text(product, sample), "NOWHERE", "not a storage location"),
        (scan, "BOX1-A2", "already stored"),  # the negative fraction again
        (container_scan_text(product, final), "BOX1-A2", "not kept in storage"),
        ("garbage", "BOX1-A2", "unreadable"),
    ]
    for container_scan, position_scan, words in cases:
        events = len(session.exec(select(CoiEvent)).all())
        with pytest.raises(IdentityMismatch, match=words):
            store_container(session, actor=run.user("tech1"), container_scan=container_scan,
                            position_scan=position_scan)
        assert len(session.exec(select(CoiEvent)).all()) == events + 1, words
    assert len(session.exec(select(ContainerStorage)).all()) == 1
    session.refresh(sample)
    assert sample.status == "in_use"


def test_the_database_refuses_a_second_open_stay(run: DemoRun) -> None:
    """Two scanners racing: the partial unique indexes hold even past the service."""
    session = run.session
    product = formulated_with_retention(run)
    negative = container_of(session, product, "cd133_negative")
    stay = store_container(session, actor=run.user("tech1"),
                           container_scan=container_scan_text(product, negative),
                           position_scan="BOX1-A1")
    other = session.exec(select(StorageLocation).where(StorageLocation.code == "BOX1-A2")).one()
    session.add(ContainerStorage(container_id=negative.id, product_id=product.id,
                                 location_id=other.id, stored_by_id=stay.stored_by_id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    sample = container_of(session, product, "retention_sample")
    session.add(ContainerStorage(container_id=sample.id, product_id=product.id,
                                 location_id=stay.location_id, stored_by_id=stay.stored_by_id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_remove_with_a_reason_sets_the_disposition(run: DemoRun) -> None:
    session = run.session
    product = formulated_with_retention(run)
    samples = session.exec(select(Container).where(
        Container.product_id == product.id, Container.kind == "retention_sample")).all()
    scans = [container_scan_text(product, s) for s in samples]
    for scan, place in zip(scans, ("BOX1-A1", "BOX1-A2"), strict=True):
        store_container(session, actor=run.user("tech1"), container_scan=scan,
                        position_scan=place)
    with pytest.raises(DomainError) as no_reason:
        remove_container(session, actor=run.user("tech1"), container_scan=scans[0], reason="")
    assert no_reason.value.code == ErrorCode.REASON_REQUIRED
    remove_container(session, actor=run.user("tech1"), container_scan=scans[0],
                     reason="testing", note="sterility retest")
    remove_container(session, actor=run.user("super1"), container_scan=scans[1],
                     reason="discard")
    for sample in samples:
        session.refresh(sample)
    assert [s.status for s in samples] == ["out_for_testing", "discarded"]
    # Out for testing, it may go back into a position (free again now).
    store_container(session, actor=run.user("tech1"), container_scan=scans[0],
                    position_scan="BOX1-A2")
    with pytest.raises(IdentityMismatch, match="discarded"):
        store_container(session, actor=run.user("tech1"), container_scan=scans[1],
                        position_scan="BOX1-A1")
    with pytest.raises(IdentityMismatch, match="not in storage"):
        remove_container(session, actor=run.user("tech1"), container_scan=scans[1],
                         reason="return")
    history = storage_history(session, product)
    assert [(h.reason, h.removed_at is not None) for h in history] == [
        ("testing", True), ("discard", True), (None, False)]
    # each removal: where it was, and its disposition (old → new) with the reason
    events = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.CONTAINER_REMOVED_FROM_STORAGE,
        AuditEvent.field == "status").order_by(col(AuditEvent.seq))).all()
    assert [(e.new_value, e.reason) for e in events] == [
        ("out_for_testing", "testing: sterility retest"), ("discarded", "discard")]
    assert audit_count(session, AuditAction.CONTAINER_REMOVED_FROM_STORAGE) == 4


def test_stored_during_covers_the_location_and_everything_under_it(run: DemoRun) -> None:
    session = run.session
    product = formulated_with_retention(run)
    negative = container_of(session, product, "cd133_negative")
    sample = container_of(session, product, "retention_sample")
    t = utcnow()
    store_container(session, actor=run.user("tech1"),
                    container_scan=container_scan_text(product, negative),
                    position_scan="BOX1-A1", now=t - timedelta(hours=3))
    store_container(session, actor=run.user("tech1"),
                    container_scan=container_scan_text(product, sample),
                    position_scan="BOX1-A2", now=t - timedelta(hours=3))
    remove_container(session, actor=run.user("tech1"),
                     container_scan=container_scan_text(product, sample), reason="testing",
                     now=t - timedelta(hours=2))
    freezer = session.exec(select(StorageLocation).where(StorageLocation.code == "FRZ1")).one()
    assert freezer.id is not None
    both = stored_during(session, freezer.id, t - timedelta(hours=2, minutes=30), t)
    assert {c.id for c, _ in both} == {negative.id, sample.id}
    assert all(p.din == product.din for _, p in both)
    later = stored_during(session, freezer.id, t - timedelta(hours=1), t)
    assert [c.id for c, _ in later] == [negative.id]
    before = stored_during(session, freezer.id, t - timedelta(hours=5), t - timedelta(hours=4))
    assert before == []


def test_the_demo_stores_its_retention_samples_and_negative_fractions(session: Session) -> None:
    from lims.demo import run_demo
    from lims.services.seed import load_seed, seed

    seed(session, load_seed(demo=True), progress=lambda _m: None)
    products = run_demo(session, say=lambda _m: None)
    kept = session.exec(select(Container).where(
        Container.kind.in_(("retention_sample", "cd133_negative")))).all()  # type: ignore[attr-defined]
    # CD133: the negative fraction and two retention samples; BM-MNC: two retention samples.
    assert sorted(c.kind for c in kept) == ["cd133_negative", *["retention_sample"] * 4]
    assert {c.status for c in kept} == {"stored"}
    history = storage_history(session, products[0])
    assert [h.where.split(" › ")[-2] for h in history] == [
        "Negative fractions", "Retention samples", "Retention samples"]
    report = verify_all(session)  # the chain, and every row reconciled with the trail
    assert report.ok, report.lines
