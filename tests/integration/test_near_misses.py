"""Near misses count: a wrong patient's or product's container refused by a scan opens a
major deviation (in the same transaction as the refusal's record), blocks release until QA
closes it, and shows in QA review as a near miss; an unreadable scan does not."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from lims.demo import DemoRun
from lims.models import AuditEvent, Deviation, Product
from lims.services.deviations import close_deviation
from lims.services.release import release_product
from lims.services.review import review_summary
from lims.services.verification import verify_all
from lims.web.review import shown
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    advance,
    coi_events,
    make_product,
    perform,
    scan_of,
    seeded,
    snapshot,
)
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def deviations(session: Session, product: Product) -> list[Deviation]:
    session.commit()
    return list(session.exec(select(Deviation).where(Deviation.product_id == product.id)
                             .order_by(col(Deviation.id))))


def refuse(run: DemoRun, product: Product, step: str, scan: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        perform(run, product, step, scan=scan)
    return caught.value


def test_another_patients_bag_at_receipt_opens_a_major_near_miss_deviation(session):
    # given a collected product and another patient's collected bag
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")
    other, _ = make_product(run, arm="BM-MNC", until="collected")
    before = snapshot(session, product.din)

    # when the other patient's bag is scanned at receipt
    error = refuse(run, product, "receive", scan_of(session, other, "marrow_bag"))

    # then the scan is refused and recorded, and a major near-miss deviation is open
    assert error.code == E.COI_WRONG_PATIENT
    assert snapshot(session, product.din) == before
    assert [e.code for e in coi_events(session, product)] == ["coi_wrong_patient"]
    [deviation] = deviations(session, product)
    assert (deviation.kind, deviation.classification, deviation.status, deviation.step) == (
        "near_miss", "major", "open", "receive")
    assert "WRONG PATIENT" in deviation.description
    assert deviation.raised_by_id == run.user("tech1").id
    # the deviation is in the audit trail, and the chain still verifies
    raised = session.exec(select(AuditEvent).where(AuditEvent.action == "deviation_raised",
                                                   AuditEvent.entity_id == str(deviation.id)))
    assert raised.first() is not None
    assert verify_all(session).ok


def test_an_unreadable_scan_is_recorded_but_opens_no_deviation(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")

    error = refuse(run, product, "receive", "hello, this is not a label")

    assert error.code == E.COI_BAD_SCAN
    assert [e.code for e in coi_events(session, product)] == ["coi_bad_scan"]
    assert deviations(session, product) == []


def test_a_container_of_another_stage_is_a_near_miss(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")

    error = refuse(run, product, "formulate", scan_of(session, product, "cd133_negative"))

    assert error.code == E.COI_WRONG_STAGE
    assert [d.kind for d in deviations(session, product)] == ["near_miss"]


def test_a_near_miss_blocks_release_until_qa_closes_it(session):
    # given a product whose formulation first met a wrong container
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")
    refuse(run, product, "formulate", scan_of(session, product, "cd133_negative"))
    product = advance(run, product, "awaiting_release")
    [deviation] = deviations(session, product)

    # when QA releases it, the open near miss refuses the release
    with pytest.raises(DomainError) as caught:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"])
    assert caught.value.code == E.DEVIATION_OPEN

    # then once QA has investigated and closed it, the release goes through
    assert deviation.id is not None
    close_deviation(session, actor=run.user("qa1"), deviation_id=deviation.id,
                    disposition="negative fraction set apart; retrained; no impact",
                    password=PASSWORDS["qa1"])
    acknowledge_all(run, product)
    released = release_product(session, actor=run.user("qa1"), din=product.din,
                               password=PASSWORDS["qa1"])
    assert released.state == "released"


def test_qa_review_shows_a_near_miss_as_major_not_minor(session):
    # given a near miss and an unreadable scan on one product
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")
    other, _ = make_product(run, arm="BM-MNC", until="collected")
    refuse(run, product, "receive", scan_of(session, other, "marrow_bag"))
    refuse(run, product, "receive", "garbage")

    # when QA opens the review
    rows = shown(review_summary(session, product.din))

    # then the near miss (the refused scan and its deviation) is major, the garbage minor
    near = [r for r in rows if r.kind.startswith("Near miss")]
    assert len(near) == 2 and {r.severity for r in near} == {"major"}
    assert any("open" in r.text and "deviation" in r.text for r in near)
    unreadable = [r for r in rows if r.kind == "Wrong scan refused"]
    assert [r.severity for r in unreadable] == ["minor"]
