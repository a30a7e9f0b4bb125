"""The step fast path (lims.api.step_fast_path) answers as the step route does.

A step sent as `application/json` with a bearer token that verifies is answered before
FastAPI's router; the same request sent with another JSON content type (`…+json`, which
FastAPI reads alike) goes through the route. Both must say the same thing, performing or
refusing, and anything the fast path does not take must reach the route unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.routing import APIRoute

from lims.api import PREFIX
from tests.api.conftest import product_in
from tests.api.test_steps import body
from tests.factories import coi_events, scan_of, snapshot

FAST = {"Content-Type": "application/json"}
ROUTE = {"Content-Type": "application/merge-patch+json"}  # FastAPI's route reads it as JSON


def _post(api, product, step: str, headers: dict[str, str], user: str = "tech1",
          **overrides: Any):
    payload = body(api, product, step, **overrides)
    return api.post(f"/products/{product.din}/steps/{step}", user=user,
                    content=json.dumps(payload), headers=headers)


def _same_refusal(fast, routed, status: int) -> None:
    assert fast.status_code == routed.status_code == status, (fast.text, routed.text)
    assert fast.json() == routed.json()
    assert fast.headers.get("www-authenticate") == routed.headers.get("www-authenticate")


def test_a_step_performed_by_either_path_gives_the_same_answer_and_records(api):
    fast_product = product_in(api, "collected", "BM-MNC")
    routed_product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, fast_product.din)

    fast = _post(api, fast_product, "receive", FAST)
    routed = _post(api, routed_product, "receive", ROUTE)

    assert fast.status_code == routed.status_code == 200, (fast.text, routed.text)
    assert fast.headers["content-type"] == routed.headers["content-type"]
    answers = fast.json(), routed.json()
    assert set(answers[0]) == set(answers[1])
    assert {a["product"]["state"] for a in answers} == {"received"}
    assert answers[0]["product"]["version"] == fast_product.version + 1
    assert snapshot(api.session, fast_product.din).step_records == before.step_records + 1


def test_refusals_are_the_same_on_either_path(api):
    product = product_in(api, "collected", "BM-MNC")
    other = product_in(api, "collected", "BM-MNC")
    wrong_bag = scan_of(api.session, other, "marrow_bag", "in_use")
    events = len(coi_events(api.session, product))

    # a scan of another patient's bag: refused, recorded, nothing moves
    _same_refusal(_post(api, product, "receive", FAST, scan=wrong_bag),
                  _post(api, product, "receive", ROUTE, scan=wrong_bag), 422)
    assert len(coi_events(api.session, product)) == events + 2
    # a role that may not receive
    _same_refusal(_post(api, product, "receive", FAST, user="qa1"),
                  _post(api, product, "receive", ROUTE, user="qa1"), 403)
    # a stale version
    stale = product.version - 1
    _same_refusal(_post(api, product, "receive", FAST, expected_version=stale),
                  _post(api, product, "receive", ROUTE, expected_version=stale), 409)
    # a step the product is not at
    _same_refusal(_post(api, product, "sediment", FAST, scan=wrong_bag),
                  _post(api, product, "sediment", ROUTE, scan=wrong_bag), 409)
    assert snapshot(api.session, product.din).state == "collected"


def test_a_well_formed_step_is_answered_before_the_router(api):
    """With the API's routes taken away, a well-formed step is still performed: the fast
    path answered it; one the fast path leaves (no valid token, an invalid body) reaches
    the router, which now has no such address."""
    product = product_in(api, "collected", "BM-MNC")
    app = api.client.app
    app.router.routes[:] = [r for r in app.router.routes
                            if not (isinstance(r, APIRoute) or "original_router" in vars(r))]

    invalid = _post(api, product, "receive", FAST, expected_version="not a number")
    assert invalid.status_code == 404, invalid.text
    signed_out = api.post(f"/products/{product.din}/steps/receive", user=None,
                          json=body(api, product, "receive"))
    assert signed_out.status_code == 404, signed_out.text
    performed = _post(api, product, "receive", FAST)
    assert performed.status_code == 200, performed.text
    assert performed.json()["product"]["state"] == "received"
    assert PREFIX in str(performed.url)


def test_a_body_the_route_refuses_is_refused_as_before_and_its_scan_recorded(api):
    """An unreadable scan fails the route's own check: the fast path hands the request, body
    included, to the route, which refuses it with per-field messages and records the scan."""
    product = product_in(api, "collected", "BM-MNC")
    events = len(coi_events(api.session, product))
    unreadable = _post(api, product, "receive", FAST, scan="\x00" * 5)
    routed = _post(api, product, "receive", ROUTE, scan="\x00" * 5)
    _same_refusal(unreadable, routed, 422)
    assert "NUL" in unreadable.json()["detail"]
    assert len(coi_events(api.session, product)) == events + 2  # one per request


def test_a_din_its_check_refuses_with_a_code_is_refused_as_by_the_route(api):
    """The DIN's own check answers with `din_invalid` (a DomainError, not a validation error):
    on the fast path too, through the route's handler."""
    product = product_in(api, "collected", "BM-MNC")
    payload = json.dumps(body(api, product, "receive"))
    fast, routed = (api.post("/products/%1B/steps/receive", user="tech1", content=payload,
                             headers=headers) for headers in (FAST, ROUTE))
    _same_refusal(fast, routed, 422)
    assert fast.json()["code"] == "din_invalid"
