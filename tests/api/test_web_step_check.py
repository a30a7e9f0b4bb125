"""The web step page over HTTP (no browser): its pre-save check is the services' dry run
(the same refusals as the save, a refused scan recorded and a near miss opened), and the
harvest form asks for the wristband and the harvesting physician."""

from __future__ import annotations

import html
from datetime import timedelta

from sqlmodel import select

from lims.models import Deviation
from lims.services.common import utcnow
from lims.services.steps import check_step
from tests.api.web_client import browser
from tests.factories import (
    coi_events,
    make_product,
    scan_of,
    snapshot,
    step_time,
    step_values,
)


def form_of(values: dict[str, object]) -> dict[str, str]:
    return {f"v_{k}": ("yes" if v is True else "no" if v is False else str(v))
            for k, v in values.items()}


def test_the_pages_check_refuses_a_future_time_in_the_services_words(api_engine, lab):
    # given a released product at the issue step
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, token = browser(api_engine, "tech1")
    scan = scan_of(session, product, "final_product", "in_use")
    values = step_values("issue", "BM-MNC", step_time(product, "issue"))
    values["time_issued"] = (utcnow() + timedelta(hours=2)).isoformat(timespec="minutes")
    before = snapshot(session, product.din)
    session.commit()  # end the read before the app writes

    # when the technician presses Enter (the check) with a time two hours ahead
    page = client.post(f"/products/{product.din}/steps/issue",
                       data={"csrf_token": token, "action": "check", "scan": scan,
                             **form_of(values)})

    # then the page shows the services' refusal for that field and nothing is written
    expected = check_step(session, actor=run.user("tech1"), din=product.din, step="issue",
                          scan=scan, values=values, now=utcnow())
    message = expected.field_errors["time_issued"]
    assert "in the future" in message
    assert message.split(" (")[0] in html.unescape(page.text)
    assert 'value="save"' not in page.text  # no confirmation: the step cannot be saved
    assert snapshot(session, product.din) == before


def test_the_pages_check_records_a_wrong_scan_and_opens_a_near_miss(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="collected",
                              t0=utcnow() - timedelta(hours=7))
    other, _ = make_product(run, arm="BM-MNC", until="collected",
                            t0=utcnow() - timedelta(hours=7))
    wrong = scan_of(session, other, "marrow_bag", "in_use")
    session.commit()  # end the read before the app writes
    client, token = browser(api_engine, "tech1")

    page = client.post(f"/products/{product.din}/steps/receive",
                       data={"csrf_token": token, "action": "check", "scan": wrong})

    assert page.status_code == 409
    assert "WRONG PATIENT" in page.text
    assert [e.code for e in coi_events(session, product)] == ["coi_wrong_patient"]
    kinds = session.exec(select(Deviation.kind).where(Deviation.product_id == product.id))
    assert list(kinds) == ["near_miss"]


def test_the_harvest_form_asks_for_the_wristband_and_the_harvesting_physician(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="scheduled",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, _ = browser(api_engine, "tech1")

    page = client.get(f"/products/{product.din}/steps/harvest")

    assert page.status_code == 200, page.text[:300]
    assert 'name="wristband"' in page.text
    assert 'name="v_harvesting_physician"' in page.text
    assert "Before the harvest: this collection is for" in page.text
