"""A DIN in a URL is read whole: a wrong check character or junk after it acts on nothing."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import product_in, refusal
from tests.api.test_steps import body
from tests.factories import audit_count, snapshot
from workflows.isbt128 import check_character, parse_din


def _wrong(check: str) -> str:
    return "A" if check != "A" else "B"


def test_putting_on_hold_a_din_with_a_wrong_check_character_is_refused_and_changes_nothing(api):
    product = product_in(api, "received", "BM-MNC")
    din = parse_din(product.din)
    wrong = _wrong(din.check)
    before, events = snapshot(api.session, product.din), audit_count(api.session)

    response = api.post(f"/products/{product.din}{wrong}/hold", user="tech1",
                        json={"reason": "check"})

    assert refusal(response, 422) == "din_invalid"
    assert response.json()["detail"] == (
        f"DIN {din.eye_readable()}: check character {wrong} does not match, "
        f"expected {din.check}")
    assert snapshot(api.session, product.din) == before
    assert audit_count(api.session) == events


def test_putting_on_hold_a_din_with_junk_after_it_is_refused_and_changes_nothing(api):
    product = product_in(api, "received", "BM-MNC")
    check = check_character(product.din)
    before = snapshot(api.session, product.din)

    response = api.post(f"/products/{product.din}{check}JUNKJU/hold", user="tech1",
                        json={"reason": "check"})

    assert refusal(response, 422) == "din_invalid"
    assert response.json()["detail"] == (
        "a DIN has 13 characters (plus its check character); this has 20")
    assert snapshot(api.session, product.din) == before


def test_the_din_with_its_check_character_or_as_printed_puts_the_product_on_hold(api):
    product = product_in(api, "received", "BM-MNC")
    printed = f"{parse_din(product.din).eye_readable()} {check_character(product.din)}"

    held = api.post(f"/products/{quote(printed.lower())}/hold", user="tech1",
                    json={"reason": "check"})
    shown = api.get(f"/products/{product.din}{check_character(product.din)}", user="tech1")

    assert held.status_code == 200, held.text
    assert held.json()["state"] == "on_hold" and held.json()["din"] == product.din
    assert shown.status_code == 200 and shown.json()["din"] == product.din


def test_a_step_under_a_din_with_a_wrong_check_character_is_refused_and_changes_nothing(api):
    product = product_in(api, "collected", "BM-MNC")
    wrong = _wrong(check_character(product.din))
    before = snapshot(api.session, product.din)

    response = api.post(f"/products/{product.din}{wrong}/steps/receive", user="tech1",
                        json=body(api, product, "receive"))

    assert refusal(response, 422) == "din_invalid"
    assert snapshot(api.session, product.din) == before
