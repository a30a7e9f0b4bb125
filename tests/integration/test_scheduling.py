"""Booking on the lab's calendar through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from lims.models import AuditEvent, Booking, BookingResource
from lims.services.common import user_by_name
from lims.services.scheduling import book, cancel_booking, todays_calendar
from lims.services.scheduling_resources import add_shifts, cancel_shift, register_resource
from tests.calendar_setup import LabCalendar, set_up_calendar, tomorrow_at
from tests.factories import DemoRun, make_product, seeded
from workflows.errors import DomainError, ErrorCode, Forbidden
from workflows.scheduling import BookingRefused


@pytest.fixture
def lab(session: Session) -> tuple[DemoRun, LabCalendar]:
    run = seeded(session)
    return run, set_up_calendar(session, run)


def _refused(session: Session, **kwargs: object) -> BookingRefused:
    run_user = kwargs.pop("user", "doc1")
    with pytest.raises(BookingRefused) as caught:
        book(session, actor=DemoRun(session).user(str(run_user)), **kwargs)  # type: ignore[arg-type]
    return caught.value


def _harvest(run: DemoRun, din: str, hour: int = 8, **kwargs: object) -> Booking:
    return book(run.session, actor=run.user("doc1"), kind="harvest", din=din,
                starts_at=tomorrow_at(hour), ends_at=tomorrow_at(hour + 1), **kwargs)  # type: ignore[arg-type]


def _held(session: Session, booking: Booking) -> set[int]:
    return {link.resource_id for link in session.exec(
        select(BookingResource).where(BookingResource.booking_id == booking.id))}


def _refusals(session: Session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == "booking_refused")))


def test_a_cd133_harvest_books_its_processing_run_on_the_clean_room_and_clinimacs(lab):
    run, cal = lab
    product, _ = make_product(run, arm="CD133", until="scheduled")
    harvest = _harvest(run, product.din)
    assert _held(run.session, harvest) == {cal.doc}  # a free harvest-qualified physician
    processing = run.session.exec(select(Booking).where(
        Booking.harvest_booking_id == harvest.id)).one()
    assert processing.kind == "processing"
    assert processing.starts_at == tomorrow_at(9)  # straight after the harvest ends
    assert processing.ends_at == tomorrow_at(16)  # a CD133 run: 7 h by the protocol
    assert _held(run.session, processing) == {cal.room, cal.clinimacs, cal.tech}
    made = run.session.exec(select(AuditEvent).where(AuditEvent.action == "booking_made")).all()
    assert len(made) == 2


def test_a_person_double_booked_is_refused_with_the_reason_and_the_refusal_audited(lab):
    run, cal = lab
    first, _ = make_product(run, arm="BM-MNC", until="scheduled")
    second, _ = make_product(run, arm="BM-MNC", until="scheduled")
    _harvest(run, first.din, resource_ids=[cal.doc])
    before = run.session.exec(select(Booking)).all()
    error = _refused(run.session, kind="harvest", din=second.din,
                     starts_at=tomorrow_at(8, 30), ends_at=tomorrow_at(9, 30),
                     resource_ids=[cal.doc])
    assert error.code == ErrorCode.BOOKING_DOUBLE_BOOKED
    assert "Dr Daryush is already booked from" in error.detail and first.din in error.detail
    assert run.session.exec(select(Booking)).all() == before
    (event,) = _refusals(run.session)
    assert event.reason == error.detail and "booking_double_booked" in (event.new_value or "")
    # touching the first harvest's end is not a double booking
    _harvest(run, second.din, hour=9, resource_ids=[cal.doc])


def test_a_harvest_the_lab_cannot_process_before_expiry_is_refused(lab):
    run, cal = lab
    first, _ = make_product(run, arm="CD133", until="scheduled")
    second, _ = make_product(run, arm="CD133", until="scheduled")
    _harvest(run, first.din, resource_ids=[cal.doc])
    # the clean room runs the first product until 16:00; a second run would end at 23:00
    error = _refused(run.session, kind="harvest", din=second.din, starts_at=tomorrow_at(8),
                     ends_at=tomorrow_at(9), resource_ids=[cal.doc2])
    assert error.code == ErrorCode.BOOKING_PROCESSING_WONT_FIT
    assert "cannot process this harvest in time" in error.detail
    assert run.session.exec(select(Booking).where(Booking.product_id == second.id)).all() == []


def test_an_infusion_after_the_booked_harvest_would_expire_is_refused(lab):
    run, cal = lab
    product, _ = make_product(run, arm="CD133", until="scheduled")
    _harvest(run, product.din)  # ends 09:00 tomorrow: expires 21:00
    error = _refused(run.session, kind="infusion", din=product.din,
                     starts_at=tomorrow_at(20, 30), ends_at=tomorrow_at(21, 30))
    assert error.code == ErrorCode.BOOKING_AFTER_EXPIRY
    assert "after the product expires at" in error.detail
    infusion = book(run.session, actor=run.user("doc1"), kind="infusion", din=product.din,
                    starts_at=tomorrow_at(17), ends_at=tomorrow_at(18))
    assert _held(run.session, infusion) == {cal.doc}


def test_an_infusion_of_a_harvested_product_counts_from_its_recorded_harvest_end(lab):
    run, _cal = lab
    product, _ = make_product(run, arm="BM-MNC", until="received")  # harvested 7 h ago
    assert product.expires_at is not None
    start = product.expires_at - timedelta(minutes=30)
    error = _refused(run.session, kind="infusion", din=product.din, starts_at=start,
                     ends_at=start + timedelta(hours=1))
    assert error.code == ErrorCode.BOOKING_AFTER_EXPIRY


def test_an_infusion_with_no_infusion_qualified_staff_on_shift_is_refused(lab):
    run, _cal = lab
    product, _ = make_product(run, arm="BM-MNC", until="scheduled")
    _harvest(run, product.din)
    # the physicians' shift ends at 19:00
    error = _refused(run.session, kind="infusion", din=product.din,
                     starts_at=tomorrow_at(18, 30), ends_at=tomorrow_at(19, 30))
    assert error.code == ErrorCode.BOOKING_NO_QUALIFIED_STAFF
    assert "infusion-qualified staff" in error.detail


def test_a_cancelled_shift_leaves_nobody_to_process(lab):
    run, cal = lab
    product, _ = make_product(run, arm="CD133", until="scheduled")
    from lims.models import ResourceShift
    shift = run.session.exec(select(ResourceShift).where(
        ResourceShift.resource_id == cal.tech, ResourceShift.starts_at <= tomorrow_at(9),
        ResourceShift.ends_at > tomorrow_at(9))).one()
    cancel_shift(run.session, actor=run.user("super1"), shift_id=shift.id or 0,
                 reason="sick leave")
    error = _refused(run.session, kind="harvest", din=product.din, starts_at=tomorrow_at(8),
                     ends_at=tomorrow_at(9))
    assert error.code == ErrorCode.BOOKING_PROCESSING_WONT_FIT


def test_cancelling_a_harvest_cancels_its_processing_and_frees_the_slot(lab):
    run, _cal = lab
    first, _ = make_product(run, arm="CD133", until="scheduled")
    second, _ = make_product(run, arm="CD133", until="scheduled")
    harvest = _harvest(run, first.din)
    with pytest.raises(DomainError) as missing:
        cancel_booking(run.session, actor=run.user("doc1"), booking_id=harvest.id or 0,
                       reason=" ")
    assert missing.value.code == ErrorCode.REASON_REQUIRED
    cancel_booking(run.session, actor=run.user("doc1"), booking_id=harvest.id or 0,
                   reason="patient has a fever")
    statuses = {b.kind: (b.status, b.cancel_reason) for b in run.session.exec(
        select(Booking).where(Booking.product_id == first.id))}
    assert statuses == {"harvest": ("cancelled", "patient has a fever"),
                        "processing": ("cancelled", "patient has a fever")}
    _harvest(run, second.din)  # the clean room and the CliniMACS are free again


def test_the_days_worklist_comes_from_the_calendar(lab):
    run, _cal = lab
    product, patient = make_product(run, arm="CD133", until="scheduled")
    _harvest(run, product.din)
    tomorrow = tomorrow_at(12)
    assert todays_calendar(run.session) == []
    day = todays_calendar(run.session, now=tomorrow)
    assert [(v.booking.kind, v.din, v.subject_id) for v in day] == [
        ("harvest", product.din, patient.subject_id),
        ("processing", product.din, patient.subject_id)]
    assert day[1].resources == ["Clean room 1", "CliniMACS Plus 1", "Tara Technician"]


def test_who_may_keep_resources_and_who_may_book(lab):
    run, _cal = lab
    with pytest.raises(Forbidden):
        register_resource(run.session, actor=run.user("tech1"), kind="room",
                          name="Clean room 2", qualifications=["clean_room"])
    with pytest.raises(Forbidden):
        book(run.session, actor=user_by_name(run.session, "admin"), kind="harvest", subject_id="x",
             starts_at=tomorrow_at(8), ends_at=tomorrow_at(9))
    with pytest.raises(DomainError) as unknown:
        register_resource(run.session, actor=run.user("super1"), kind="room",
                          name="Clean room 2", qualifications=["sterile"])
    assert unknown.value.code == ErrorCode.INVALID_INPUT
    with pytest.raises(DomainError) as past:
        book(run.session, actor=run.user("doc1"), kind="harvest", subject_id="x",
             starts_at=tomorrow_at(8) - timedelta(days=3),
             ends_at=tomorrow_at(9) - timedelta(days=3))
    assert past.value.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_INPUT)
    room = register_resource(run.session, actor=run.user("super1"), kind="room",
                             name="Clean room 2", qualifications=["clean_room"])
    shifts = add_shifts(run.session, actor=run.user("super1"), resource_id=room.id or 0,
                        first_day=tomorrow_at(0).date(), last_day=tomorrow_at(0).date(),
                        starts=tomorrow_at(7).time(), ends=tomorrow_at(19).time())
    assert [(s.starts_at, s.ends_at) for s in shifts] == [(tomorrow_at(7), tomorrow_at(19))]


def test_two_bookings_of_the_same_person_at_once_do_not_both_succeed(engine: Engine, lab):
    run, cal = lab
    first, _ = make_product(run, arm="BM-MNC", until="scheduled")
    second, _ = make_product(run, arm="BM-MNC", until="scheduled")
    dins = [first.din, second.din]
    run.session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(din: str) -> None:
        with Session(engine, expire_on_commit=False) as own:
            actor = DemoRun(own).user("doc1")
            own.commit()
            barrier.wait(timeout=30)
            try:
                book(own, actor=actor, kind="harvest", din=din, starts_at=tomorrow_at(8),
                     ends_at=tomorrow_at(9), resource_ids=[cal.doc])
                outcomes.append("booked")
            except BookingRefused as refused:
                outcomes.append(refused.code.value)

    threads = [threading.Thread(target=attempt, args=(din,)) for din in dins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["booked", "booking_double_booked"]
    run.session.expire_all()
    live = run.session.exec(select(Booking).where(Booking.kind == "harvest",
                                                  Booking.status == "booked")).all()
    assert len(live) == 1


def test_the_demo_books_its_calendar(session: Session):
    from lims.audit import verify_chain
    from lims.demo import run_demo
    from lims.services.seed import load_seed, seed

    seed(session, load_seed(demo=True), progress=lambda _m: None)
    run_demo(session, say=lambda _m: None)
    kinds = sorted(b.kind for b in session.exec(select(Booking).where(
        Booking.status == "booked")))
    assert kinds == ["harvest", "infusion", "infusion", "processing"]
    assert verify_chain(session).ok


def test_a_discarded_product_frees_its_slots_and_the_calendar_says_so(lab):
    from lims.demo import PASSWORDS
    from lims.services.dispositions import discard_product
    from lims.services.scheduling import bookings_between

    run, cal = lab
    gone, _ = make_product(run, arm="BM-MNC", until="scheduled")
    other, _ = make_product(run, arm="BM-MNC", until="scheduled")
    _harvest(run, gone.din, resource_ids=[cal.doc])
    discard_product(run.session, actor=run.user("super1"), din=gone.din,
                    reason="consent withdrawn", password=PASSWORDS["super1"])
    views = bookings_between(run.session, tomorrow_at(0), tomorrow_at(23))
    assert {v.problem for v in views if v.din == gone.din} == {
        "the product is discarded: cancel this booking"}
    _harvest(run, other.din, resource_ids=[cal.doc])  # the physician is free again


def test_staff_whose_account_is_deactivated_are_never_booked(lab):
    from lims.services.users import deactivate_user

    run, cal = lab
    product, _ = make_product(run, arm="BM-MNC", until="scheduled")
    deactivate_user(run.session, actor=user_by_name(run.session, "admin"), username="doc2",
                    reason="left the hospital")
    error = _refused(run.session, kind="harvest", din=product.din, starts_at=tomorrow_at(8),
                     ends_at=tomorrow_at(9), resource_ids=[cal.doc2])
    assert error.code == ErrorCode.BOOKING_NO_QUALIFIED_STAFF
    assert "(out of use)" in error.detail


def test_cancelling_a_harvest_also_cancels_the_infusion_counted_from_it(lab):
    run, _cal = lab
    product, _ = make_product(run, arm="BM-MNC", until="scheduled")
    harvest = _harvest(run, product.din)
    book(run.session, actor=run.user("doc1"), kind="infusion", din=product.din,
         starts_at=tomorrow_at(15), ends_at=tomorrow_at(16))
    cancel_booking(run.session, actor=run.user("doc1"), booking_id=harvest.id or 0,
                   reason="theatre list moved")
    assert {b.status for b in run.session.exec(select(Booking).where(
        Booking.product_id == product.id))} == {"cancelled"}
