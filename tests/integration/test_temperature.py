"""Storage temperatures: the monitoring file imported (once, whole or not at all), readings
by hand, excursions raised, linked to the containers stored then, notified, acknowledged."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlmodel import col, select

from lims.demo import run_demo
from lims.demo_temperature import import_demo_temperatures
from lims.models import (
    AuditEvent,
    Container,
    ContainerStorage,
    ExcursionContainer,
    Notification,
    Product,
    StorageLocation,
    TemperatureExcursion,
    TemperatureReading,
    User,
)
from lims.services.batch_record import batch_record, batch_record_pdf
from lims.services.common import user_by_name, utcnow
from lims.services.storage_locations import create_location, location_by_code
from lims.services.temperature import enter_reading, import_readings, register_device
from lims.services.temperature_excursions import acknowledge_excursion, excursions
from lims.services.verification import verify_all
from tests.factories import make_product, seeded
from workflows.errors import DomainError, ErrorCode, InvalidInput


@pytest.fixture
def lab(session):
    """The demo trial, a fridge kept at 2–8 °C with a box, its probe FRIDGE-PROBE-1."""
    run = seeded(session)
    sup = run.user("super1")
    create_location(session, actor=sup, kind="site", name="Site", code="T-SITE")
    create_location(session, actor=sup, kind="room", name="Lab", code="T-ROOM",
                    parent_code="T-SITE")
    create_location(session, actor=sup, kind="fridge", name="Fridge", code="T-FRIDGE",
                    parent_code="T-ROOM", temperature_min_c=2, temperature_max_c=8)
    create_location(session, actor=sup, kind="box", name="Box", code="T-BOX",
                    parent_code="T-FRIDGE", rows=2, columns=2)
    register_device(session, actor=sup, device="FRIDGE-PROBE-1", location_code="T-FRIDGE")
    return run


def csv_of(start: datetime, temps: list[float], step_minutes: int = 10,
           device: str = "FRIDGE-PROBE-1") -> bytes:
    lines = ["device,time,celsius"] + [
        f"{device},{(start + timedelta(minutes=step_minutes * i)).isoformat()},{t}"
        for i, t in enumerate(temps)]
    return ("\n".join(lines) + "\n").encode()


def put(session, run, position: str, at: datetime, removed: datetime | None = None) -> int:
    """A container of a new product stored in a position of the box at `at`."""
    product, _ = make_product(run, until="received")
    container = session.exec(select(Container).where(Container.product_id == product.id)).first()
    assert container is not None and container.id is not None
    session.add(ContainerStorage(container_id=container.id, product_id=product.id,
                                 location_id=location_by_code(session, position).id,
                                 stored_at=at, stored_by_id=run.user("tech1").id,
                                 removed_at=removed))
    session.commit()
    return container.id


def test_an_excursion_is_raised_linked_to_what_was_stored_then_and_notified(session, lab):
    start = utcnow() - timedelta(hours=3)
    during = put(session, lab, "T-BOX-A1", start - timedelta(days=1))
    taken_out_before = put(session, lab, "T-BOX-A2", start - timedelta(days=2),
                           removed=start - timedelta(days=1))
    after = put(session, lab, "T-BOX-B1", start + timedelta(hours=2))
    # readings every 10 min: 5, 5, 9.5, 11, 7, 5 → outside from the 3rd to the 5th reading
    result = import_readings(session, actor=lab.user("tech1"),
                             content=csv_of(start, [5, 5, 9.5, 11, 7, 5]))

    assert (result.recorded, result.already) == (6, 0)
    [row] = session.exec(select(TemperatureExcursion)).all()
    assert row.kind == "temperature"
    assert row.started_at == start + timedelta(minutes=20)
    assert row.ended_at == start + timedelta(minutes=40)
    assert (row.min_c, row.max_c, row.range_min_c, row.range_max_c) == (9.5, 11, 2, 8)
    linked = set(session.exec(select(ExcursionContainer.container_id)))
    assert linked == {during}
    assert taken_out_before not in linked and after not in linked
    # QA and the supervisor are notified, in the same transaction
    notified = session.exec(select(User.username).join(
        Notification, col(Notification.recipient_id) == col(User.id))
        .where(col(Notification.subject).contains("T-FRIDGE"))).all()
    assert sorted(notified) == ["qa1", "super1"]
    during_din = session.exec(select(Product.din).join(
        Container, col(Container.product_id) == col(Product.id))
        .where(Container.id == during)).one()
    assert all(during_din in body for body in session.exec(select(Notification.body)))
    events = session.exec(select(AuditEvent.action).where(
        col(AuditEvent.action).startswith("temperature_"))).all()
    assert "temperature_file_imported" in events and "temperature_excursion_raised" in events
    [view] = excursions(session, unacknowledged_only=True)
    assert len(view.dins) == 1 and "9.5 to 11 °C" in view.words
    assert verify_all(session).ok


def test_re_importing_the_same_file_records_nothing_twice(session, lab):
    start = utcnow() - timedelta(hours=2)
    content = csv_of(start, [5, 12, 5])
    first = import_readings(session, actor=lab.user("tech1"), content=content)
    again = import_readings(session, actor=lab.user("tech1"), content=content)
    overlapping = import_readings(session, actor=lab.user("tech1"),
                                  content=csv_of(start, [5, 12, 5, 6]))

    assert (first.recorded, again.recorded, again.already) == (3, 0, 3)
    assert (overlapping.recorded, overlapping.already) == (1, 3)
    assert len(session.exec(select(TemperatureReading)).all()) == 4
    assert len(session.exec(select(TemperatureExcursion)).all()) == 1
    assert len(session.exec(select(Notification)).all()) == 2  # once to each, not again
    hashes = set(session.exec(select(TemperatureReading.import_hash)))
    assert first.sha256 in hashes and again.sha256 == first.sha256


def test_a_bad_file_is_refused_with_its_line_numbers_and_nothing_is_written(session, lab):
    start = utcnow() - timedelta(hours=2)
    good = csv_of(start, [5, 5]).decode()
    content = (good + f"UNKNOWN-PROBE,{start.isoformat()},5\n"
               f"FRIDGE-PROBE-1,{(start + timedelta(hours=1)).replace(tzinfo=None).isoformat()},5\n"
               f"FRIDGE-PROBE-1,{(start + timedelta(hours=2)).isoformat()},4,5\n").encode()

    with pytest.raises(InvalidInput) as refused:
        import_readings(session, actor=lab.user("tech1"), content=content)

    detail = refused.value.detail
    assert "line 4: device UNKNOWN-PROBE is not assigned" in detail
    assert "line 5: " in detail and "no zone" in detail
    assert "line 6: expected 3 columns" in detail
    assert session.exec(select(TemperatureReading)).all() == []
    assert session.exec(select(TemperatureExcursion)).all() == []
    refusal = session.exec(select(AuditEvent).where(
        AuditEvent.action == "temperature_file_refused")).one()
    assert "line 4" in (refusal.reason or "")


def test_a_changed_value_for_a_reading_imported_before_refuses_the_file(session, lab):
    start = utcnow() - timedelta(hours=2)
    import_readings(session, actor=lab.user("tech1"), content=csv_of(start, [5, 5]))
    with pytest.raises(InvalidInput, match=r"line 3: .* imported before as 5 °C, not 6"):
        import_readings(session, actor=lab.user("tech1"), content=csv_of(start, [5, 6, 5]))
    assert len(session.exec(select(TemperatureReading)).all()) == 2


def test_an_excursion_still_open_ends_with_a_later_reading_by_hand(session, lab):
    start = utcnow() - timedelta(hours=2)
    stored = put(session, lab, "T-BOX-A1", start - timedelta(hours=1))
    import_readings(session, actor=lab.user("tech1"), content=csv_of(start, [5, 10, 12]))
    [row] = session.exec(select(TemperatureExcursion)).all()
    assert row.ended_at is None and row.max_c == 12

    enter_reading(session, actor=lab.user("tech2"), location_code="T-FRIDGE",
                  measured_at=start + timedelta(minutes=30), celsius="4.5")

    session.refresh(row)
    assert row.ended_at == start + timedelta(minutes=30)
    assert set(session.exec(select(ExcursionContainer.container_id))) == {stored}
    assert len(session.exec(select(TemperatureExcursion)).all()) == 1
    assert session.exec(select(AuditEvent).where(
        AuditEvent.action == "temperature_excursion_changed")).first() is not None


def test_a_gap_in_the_readings_is_a_no_data_excursion(session, lab):
    start = utcnow() - timedelta(hours=5)
    import_readings(session, actor=lab.user("tech1"),
                    content=csv_of(start, [5, 5, 5], step_minutes=90))  # gaps of 90 > 60 min
    # two gaps that meet at one reading make one period without data, start to end
    [row] = session.exec(select(TemperatureExcursion)).all()
    assert (row.kind, row.started_at, row.ended_at) == ("no_data", start,
                                                        start + timedelta(minutes=180))
    assert (row.min_c, row.max_c) == (None, None)


def test_hand_entry_is_strict_and_audited(session, lab):
    at = utcnow() - timedelta(minutes=10)
    with pytest.raises(InvalidInput):
        enter_reading(session, actor=lab.user("tech1"), location_code="T-FRIDGE",
                      measured_at=at, celsius="4,5")
    with pytest.raises(DomainError) as future:
        enter_reading(session, actor=lab.user("tech1"), location_code="T-FRIDGE",
                      measured_at=utcnow() + timedelta(hours=1), celsius="4")
    assert future.value.code == ErrorCode.TIME_IN_FUTURE
    with pytest.raises(DomainError) as forbidden:
        enter_reading(session, actor=user_by_name(session, "admin"), location_code="T-FRIDGE",
                      measured_at=at, celsius="4")
    assert forbidden.value.code == ErrorCode.FORBIDDEN
    row = enter_reading(session, actor=lab.user("tech1"), location_code="T-FRIDGE",
                        measured_at=at, celsius="4")
    with pytest.raises(DomainError) as twice:
        enter_reading(session, actor=lab.user("tech1"), location_code="T-FRIDGE",
                      measured_at=at, celsius="5")
    assert twice.value.code == ErrorCode.CONFLICT
    assert row.source == "hand" and row.celsius == 4.0
    assert session.exec(select(AuditEvent).where(
        AuditEvent.action == "temperature_reading_entered")).one().new_value == "4.0"


def test_qa_acknowledges_an_excursion_with_a_comment(session, lab):
    start = utcnow() - timedelta(hours=2)
    import_readings(session, actor=lab.user("tech1"), content=csv_of(start, [5, 12, 5]))
    [row] = session.exec(select(TemperatureExcursion)).all()
    assert row.id is not None
    with pytest.raises(DomainError) as not_qa:
        acknowledge_excursion(session, actor=lab.user("super1"), excursion_id=row.id,
                              comment="fine")
    assert not_qa.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(DomainError) as empty:
        acknowledge_excursion(session, actor=lab.user("qa1"), excursion_id=row.id,
                              comment="  ")
    assert empty.value.code == ErrorCode.COMMENT_REQUIRED

    acknowledge_excursion(session, actor=lab.user("qa1"), excursion_id=row.id,
                          comment="door open 10 min; stability data cover 12 °C for 1 h")

    with pytest.raises(DomainError) as again:
        acknowledge_excursion(session, actor=lab.user("qa1"), excursion_id=row.id,
                              comment="again")
    assert again.value.code == ErrorCode.CONFLICT
    assert excursions(session, unacknowledged_only=True) == []
    [view] = excursions(session)
    assert view.acknowledged_by is not None
    assert verify_all(session).ok


def test_the_demo_file_has_one_excursion_of_the_demo_fridge(session):
    seeded(session)
    result = import_demo_temperatures(session, say=lambda _m: None)
    assert (result.recorded, len(result.excursions)) == (36, 1)
    [row] = session.exec(select(TemperatureExcursion)).all()
    assert (row.kind, row.min_c, row.max_c, row.ended_at is not None) == (
        "temperature", 8.6, 11.2, True)
    assert row.ended_at - row.started_at == timedelta(minutes=40)


def test_the_batch_record_and_product_page_show_the_excursions_affecting_the_product(
        session, lab):
    start = utcnow() - timedelta(hours=2)
    put(session, lab, "T-BOX-A1", start - timedelta(hours=1))
    import_readings(session, actor=lab.user("tech1"), content=csv_of(start, [5, 12.5, 5]))
    din = session.exec(select(ExcursionContainer.product_id)).one()
    product = session.get(Product, din)
    assert product is not None

    record = batch_record(session, product.din)
    [line] = record.excursions
    assert "12.5" in line.what and line.acknowledged == ""
    text = "".join(page.extract_text() for page in PdfReader(
        io.BytesIO(batch_record_pdf(session, product.din))).pages)
    assert "Temperature excursions affecting this product (1)" in text
    assert "not yet acknowledged" in text
    assert [v.excursion.max_c for v in excursions(session, product=product)] == [12.5]


def test_the_demo_raises_one_excursion_of_its_fridge_linked_to_what_is_stored_there(session):
    seeded(session)
    run_demo(session, say=lambda _m: None)
    [row] = session.exec(select(TemperatureExcursion)).all()
    fridge = session.get(StorageLocation, row.location_id)
    assert fridge is not None and fridge.kind == "fridge"
    [view] = excursions(session)
    assert view.dins, "the negative fractions stored in the fridge during the excursion"
