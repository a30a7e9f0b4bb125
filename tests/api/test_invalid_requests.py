"""Malformed requests get a clear 422 in the error shape, and write nothing."""

from __future__ import annotations

from tests.api.conftest import product_in, refusal
from tests.factories import audit_count, snapshot


def test_a_body_that_is_not_json_is_refused_with_422(api):
    product = product_in(api, "received", "BM-MNC")
    before = snapshot(api.session, product.din)

    for content in (b"\xff\xfe\x00garbage", b"{not json", b""):
        response = api.post(f"/products/{product.din}/hold", user="tech1", content=content,
                            headers={"Content-Type": "application/json"})
        assert refusal(response, 422) == "invalid_input"
    assert snapshot(api.session, product.din) == before


def test_text_with_a_nul_character_is_refused_before_it_reaches_the_database(api):
    product = product_in(api, "received", "BM-MNC")
    before = audit_count(api.session)

    held = api.post(f"/products/{product.din}/hold", user="tech1", json={"reason": "a\x00b"})
    login = api.post("/auth/login", user=None, json={"username": "te\x00ch", "password": "x"})

    assert refusal(held, 422) == "invalid_input"
    assert refusal(login, 422) == "invalid_input"
    assert audit_count(api.session) == before


def test_a_malformed_din_or_an_id_out_of_range_is_refused_with_422(api):
    # a DIN is read whole, whatever its characters: a DIN refusal, saying what is wrong
    assert refusal(api.get("/products/not-a-din!", user="tech1"), 422) == "din_invalid"
    assert refusal(api.post("/alerts/9223372036854775808/acknowledge", user="qa1",
                            json={"password": "x"}), 422) == "invalid_input"
    assert refusal(api.post("/deviations/0/close", user="qa1",
                            json={"disposition": "x", "password": "x"}), 422)


def test_a_method_the_route_does_not_have_is_refused_in_the_error_shape(api):
    response = api.request("DELETE", "/worklist", user="tech1")

    assert response.status_code == 405
    assert response.json()["code"] == "invalid_input"
