"""One check, one place: the dry run of a step (lims.services.steps.check_step) finds what
the save would find, writes nothing but a refused scan, and is what perform_step runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lims.services.common import utcnow
from lims.services.steps import StepDataInvalid, check_step
from lims.web import stepcheck
from tests.factories import (
    audit_count,
    coi_events,
    make_product,
    perform,
    scan_of,
    seeded,
    snapshot,
    step_time,
    step_values,
)
from workflows.errors import DomainError, ErrorCode


def test_a_clean_check_computes_the_figures_and_writes_nothing(session):
    # given a received product and its bag
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    before, events = snapshot(session, product.din), audit_count(session)

    # when the sedimentation is checked with its scan and data
    check = check_step(session, actor=run.user("tech1"), din=product.din, step="sediment",
                       scan=scan_of(session, product, "marrow_bag", "in_use"),
                       values=step_values("sediment", "BM-MNC", step_time(product, "sediment")),
                       now=step_time(product, "sediment"))

    # then it is ready, with the computed figures, and nothing was written
    assert check.ready, (check.field_errors, check.blocking)
    assert check.scan == "ok"
    assert check.computed["tnc_in"] > 0
    assert snapshot(session, product.din) == before
    assert audit_count(session) == events


def test_the_check_and_the_save_refuse_a_future_time_with_the_same_words(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    values = step_values("issue", "BM-MNC", step_time(product, "issue"))
    values["time_issued"] = (utcnow() + timedelta(hours=1)).isoformat()
    scan = scan_of(session, product, "final_product", "in_use")

    check = check_step(session, actor=run.user("tech1"), din=product.din, step="issue",
                       scan=scan, values=values, now=utcnow())
    with pytest.raises(StepDataInvalid) as saved:
        perform(run, product, "issue", at=utcnow(), values=values)

    assert not check.ready
    assert check.field_errors == saved.value.errors
    assert "in the future" in check.field_errors["time_issued"]


def test_the_check_shows_an_expired_product_that_the_save_refuses(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=13))
    values = step_values("issue", "BM-MNC", step_time(product, "issue"))

    check = check_step(session, actor=run.user("tech1"), din=product.din, step="issue",
                       scan=scan_of(session, product, "final_product", "in_use"),
                       values=values, now=step_time(product, "issue"))

    assert not check.ready
    assert any("expiry" in b for b in check.blocking)


def test_a_wrong_scan_in_the_check_is_recorded_once_and_a_reload_records_nothing(session):
    # given a collected product and another patient's bag
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")
    other, _ = make_product(run, arm="BM-MNC", until="collected")
    wrong = scan_of(session, other, "marrow_bag")

    # when the web page checks the wrong scan, then shows the page again
    first = stepcheck.check(session, actor=run.user("tech1"), din=product.din, step="receive",
                            scan=wrong, wristband="", values={}, time_errors={},
                            now=utcnow())
    again = stepcheck.check(session, actor=run.user("tech1"), din=product.din,
                            step="receive", scan=wrong, wristband="", values={},
                            time_errors={}, now=utcnow(), record=False)

    # then both show the refusal; it is recorded once
    assert first.refusal is not None and again.refusal is not None
    assert first.refusal.code == ErrorCode.COI_WRONG_PATIENT
    assert first.scan == again.scan == "refused"
    assert [e.code for e in coi_events(session, product)] == ["coi_wrong_patient"]


def test_the_web_check_is_the_services_check(session):
    # the page's preview is the services' StepCheck: no second copy of the guards
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")

    preview = stepcheck.load(session, product.din, "receive")

    assert stepcheck.Preview is type(check_step(session, actor=None, din=product.din,
                                                step="receive", scan=None, values=None,
                                                record=False))
    assert preview.scan == "missing" and preview.container_label


def test_a_check_without_who_scanned_cannot_record_a_refusal(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")

    with pytest.raises(ValueError):
        check_step(session, actor=None, din=product.din, step="receive", scan="garbage",
                   values=None)


def test_the_save_meets_the_checks_refusals_in_the_same_order(session):
    # a missing scan is the first thing the save refuses, before any data
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected")

    with pytest.raises(DomainError) as caught:
        perform(run, product, "receive", scan="", values={})

    assert caught.value.code == ErrorCode.IDENTITY_NOT_CONFIRMED
