"""Time integrity (invariant 6): no recorded time is in the future by the server's clock,
step times follow the process order, and expiry follows a harvest end that has happened."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from lims.demo import DemoRun
from lims.models import Product
from lims.services.common import utcnow
from lims.services.qc import record_qc_result
from lims.services.release import release_product
from lims.services.steps import StepDataInvalid
from tests.factories import (
    PASSWORDS,
    make_product,
    perform,
    qc_sample_of,
    seeded,
    set_protocol_parameter,
    snapshot,
    step_time,
    step_values,
)
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def iso(moment: datetime) -> str:
    return moment.isoformat()


def values_for(product: Product, step: str, **changes: object) -> dict[str, object]:
    values = step_values(step, product.arm, step_time(product, step))
    values.update(changes)
    return values


def refused_times(run: DemoRun, product: Product, step: str, *, at: datetime | None = None,
                  **changes: object) -> dict[str, str]:
    """Perform `step` with `changes` to its values; it must be refused, writing nothing.
    Returns the refused fields and their messages."""
    before = snapshot(run.session, product.din)
    with pytest.raises(StepDataInvalid) as caught:
        perform(run, product, step, at=at, values=values_for(product, step, **changes))
    assert caught.value.code == E.STEP_DATA_INVALID
    assert snapshot(run.session, product.din) == before
    return caught.value.errors


# --- nothing in the future by the server's clock ---------------------------------------------

def test_a_harvest_end_in_the_future_is_refused_and_does_not_push_the_expiry_out(session):
    # given a scheduled product and a harvest recorded now
    run = seeded(session)
    product, _ = make_product(run, until="scheduled")
    now = utcnow()

    # when the harvest end is typed an hour ahead (a slip of the hour)
    errors = refused_times(run, product, "harvest", at=now,
                           harvest_start=iso(now - timedelta(minutes=30)),
                           harvest_end=iso(now + timedelta(hours=1)))

    # then it is refused, naming the field and the server's clock; no expiry was set
    assert list(errors) == ["harvest_end"]
    assert "in the future" in errors["harvest_end"]
    assert "server's clock" in errors["harvest_end"]
    session.refresh(product)
    assert product.expires_at is None and product.harvest_end is None


def test_a_harvest_end_within_the_clock_skew_is_accepted(session):
    # a bench clock two minutes ahead of the server's is within the 5 minutes allowed
    run = seeded(session)
    product, _ = make_product(run, until="scheduled")
    now = utcnow()
    end = now + timedelta(minutes=2)

    result = perform(run, product, "harvest", at=now,
                     values=values_for(product, "harvest",
                                       harvest_start=iso(now - timedelta(minutes=40)),
                                       harvest_end=iso(end)))

    assert result.product.expires_at == end + timedelta(hours=12)


def test_the_clock_skew_is_a_protocol_parameter(session):
    # given a protocol that allows no clock skew at all
    run = seeded(session)
    set_protocol_parameter(session, "clock_skew_minutes", 0)
    product, _ = make_product(run, until="scheduled")
    now = utcnow()

    errors = refused_times(run, product, "harvest", at=now,
                           harvest_start=iso(now - timedelta(minutes=40)),
                           harvest_end=iso(now + timedelta(minutes=2)))

    assert list(errors) == ["harvest_end"]


@pytest.mark.parametrize(("step", "state", "arm", "field"), [
    ("receive", "collected", "BM-MNC", "time_received"),
    ("enrich", "mnc_isolated", "CD133", "run_end"),
    ("issue", "released", "BM-MNC", "time_issued"),
    ("administer", "issued", "CD133", "infusion_end"),
])
def test_a_time_in_the_future_is_refused_at_every_step(session, step, state, arm, field):
    # given a product waiting for the step
    run = seeded(session)
    product, _ = make_product(run, arm=arm, until=state)

    # when a time of the step is typed an hour ahead of the server's clock
    errors = refused_times(run, product, step, at=utcnow(),
                           **{field: iso(utcnow() + timedelta(hours=1))})

    # then that field is refused as in the future
    assert field in errors
    assert "in the future" in errors[field]


def test_a_step_recorded_as_done_in_the_future_is_refused(session):
    # a request that states a moment ahead of the server's clock is not believed
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")

    errors = refused_times(run, product, "sediment", at=utcnow() + timedelta(hours=1))

    assert "performed_at" in errors
    assert "in the future" in errors["performed_at"]


def test_a_qc_test_time_in_the_future_is_refused_by_the_servers_clock(session):
    # given a formulated product
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="formulated")
    ahead = utcnow() + timedelta(hours=2)

    # when a result is entered with a test time and entry time two hours ahead
    with pytest.raises(DomainError) as caught:
        record_qc_result(session, actor=run.user("tech2"), din=product.din, test="viability",
                         value="91", tested_at=ahead, now=ahead,
                         **qc_sample_of(session, product.din, "viability"))

    # then it is refused as in the future, naming the test time
    assert caught.value.code == E.TIME_IN_FUTURE
    assert "the test time" in caught.value.detail
    assert snapshot(session, product.din).qc_results == 0


def test_a_signature_dated_in_the_future_is_refused(session):
    # given a product awaiting release
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="awaiting_release")
    before = snapshot(session, product.din)

    # when QA's release states a moment an hour ahead of the server's clock
    with pytest.raises(DomainError) as caught:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"], now=utcnow() + timedelta(hours=1))

    # then the signature is refused and nothing is written
    assert caught.value.code == E.TIME_IN_FUTURE
    assert "signature time" in caught.value.detail
    assert snapshot(session, product.din) == before


# --- the process order --------------------------------------------------------------------------

def test_a_receipt_before_the_harvest_end_is_refused_naming_the_harvest_end(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")
    assert product.harvest_end is not None
    early = product.harvest_end - timedelta(minutes=20)

    errors = refused_times(run, product, "receive", time_out=iso(early),
                           time_received=iso(early + timedelta(minutes=10)))

    assert "time_out" in errors
    assert "harvest end" in errors["time_out"]


def test_an_enrichment_before_the_receipt_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    assert product.harvest_end is not None
    start = product.harvest_end + timedelta(minutes=10)  # the bag arrived at +35 min

    errors = refused_times(run, product, "enrich", incubation_start=iso(start),
                           incubation_end=iso(start + timedelta(minutes=30)),
                           run_start=iso(start + timedelta(minutes=50)),
                           run_end=iso(start + timedelta(minutes=95)))

    assert "incubation_start" in errors
    # the latest earlier time names itself: the MNC isolation's end (after the receipt)
    assert "mnc isolation ended" in errors["incubation_start"]


def test_an_issue_before_qa_release_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    released_at = step_time(product, "release")

    errors = refused_times(run, product, "issue",
                           time_issued=iso(released_at - timedelta(minutes=20)))

    assert "QA's release" in errors["time_issued"]


def test_an_administration_before_the_issue_is_refused_naming_the_time_issued(session):
    # given an issued product (issued at harvest end + 365 min)
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="issued")
    issued_at = step_time(product, "issue")

    # when the infusion is said to have started before the product left the lab
    start = issued_at - timedelta(minutes=15)
    errors = refused_times(run, product, "administer", infusion_start=iso(start),
                           infusion_end=iso(start + timedelta(minutes=12)))

    # then the infusion start is refused, naming the time issued it must follow
    assert "time issued" in errors["infusion_start"]
    assert issued_at.isoformat(timespec="minutes")[:16] in errors["infusion_start"]


def test_an_infusion_of_zero_minutes_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="issued")
    start = step_time(product, "administer")

    errors = refused_times(run, product, "administer", infusion_start=iso(start),
                           infusion_end=iso(start))

    assert list(errors) == ["infusion_end"]
    assert "must be after the infusion start" in errors["infusion_end"]


def test_zero_ml_injected_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="issued")

    errors = refused_times(run, product, "administer", volume_injected_ml=0)

    assert list(errors) == ["volume_injected_ml"]


# --- expiry by the server's clock ---------------------------------------------------------------

def test_an_expired_product_is_refused_at_issue_even_with_an_earlier_stated_time(session):
    # given a product released in date, harvested 13 h ago (so expired 1 h ago)
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=13))
    assert product.expires_at is not None and product.expires_at < utcnow()
    before = snapshot(session, product.din)

    # when the issue is recorded with a time (and a stated now) before its expiry
    at = step_time(product, "issue")
    assert at < product.expires_at
    with pytest.raises(DomainError) as caught:
        perform(run, product, "issue", at=at)

    # then the server's clock refuses it as expired, and nothing is written
    assert caught.value.code == E.PRODUCT_EXPIRED
    assert snapshot(session, product.din) == before


def test_an_expired_product_is_refused_at_administration_even_with_an_earlier_stated_time(
        session):
    # given a product issued in date that expires by the server's clock seconds later
    run = seeded(session)
    set_protocol_parameter(session, "expiry_hours_after_harvest_end", 7 + 6 / 3600)
    product, _ = make_product(run, arm="BM-MNC", until="issued",
                              t0=utcnow() - timedelta(hours=7))
    assert product.expires_at is not None
    while utcnow() <= product.expires_at:
        time.sleep(0.2)
    before = snapshot(session, product.din)

    # when the administration states times before the expiry
    with pytest.raises(DomainError) as caught:
        perform(run, product, "administer", at=step_time(product, "administer"))

    # then it is refused as expired
    assert caught.value.code == E.PRODUCT_EXPIRED
    assert snapshot(session, product.din) == before
