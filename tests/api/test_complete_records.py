"""Over HTTP: step data corrected with a reason, QC results with their method, instrument
and sample, and the step forms asking for start, end, counting method and weight."""

from __future__ import annotations

from datetime import timedelta

from lims.services.common import utcnow
from tests.api.conftest import product_in, refusal
from tests.factories import qc_json, snapshot


def correction(api, product, step, changes, reason="typo", user="tech1"):
    return api.post(f"/products/{product.din}/steps/{step}/corrections", user=user,
                    json={"changes": changes, "reason": reason})


def test_a_step_corrected_over_http_says_what_it_wrote(api):
    product = product_in(api, "mnc_isolated")

    response = correction(api, product, "sediment", {"wbc_out_per_ul": 40500},
                          reason="analyser print-out re-read")

    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["record_ids"]) >= 1 and body["release_suspended"] is False
    assert body["product"]["version"] == product.version + 1
    events = api.get(f"/products/{product.din}/audit", user="qa1").json()
    [value] = [e for e in events if e["action"] == "step_value_corrected"
               and e["field"] == "wbc_out_per_ul"]
    assert value["reason"] == "analyser print-out re-read"
    assert float(value["old_value"]) == 41000 and float(value["new_value"]) == 40500
    assert api.get("/audit/verify", user="qa1").json()["ok"] is True


def test_a_correction_without_a_reason_is_refused_and_writes_nothing(api):
    product = product_in(api, "mnc_isolated")
    before = snapshot(api.session, product.din)
    assert refusal(correction(api, product, "sediment", {"wbc_out_per_ul": 40500},
                              reason=" "), 422) == "reason_required"
    assert refusal(api.post(f"/products/{product.din}/steps/sediment/corrections",
                            user="tech1", json={"changes": {"wbc_out_per_ul": 40500}}),
                   422) == "invalid_input"
    assert snapshot(api.session, product.din) == before


def test_bad_corrections_get_clear_refusals(api):
    product = product_in(api, "mnc_isolated")
    before = snapshot(api.session, product.din)
    cases = [
        ({"wbc_out_per_ul": 41000}, 422, "invalid_input"),  # no change
        ({"rpm": 3000}, 422, "step_data_invalid"),
        ({"wbc_out_per_ul": True}, 422, "step_data_invalid"),
        ({"volume_in_ml": 300}, 422, "step_data_invalid"),  # more than the marrow bag holds
        ({}, 422, "invalid_input"),
        ({"x" * 61: 1}, 422, "invalid_input"),
    ]
    for changes, status, code in cases:
        assert refusal(correction(api, product, "sediment", changes), status) == code, changes
    assert refusal(correction(api, product, "formulate", {"viability_pct": 90}),
                   404) == "not_found"
    assert refusal(correction(api, product, "astrology", {"a": 1}), 422) == "invalid_input"
    assert refusal(correction(api, product, "sediment", {"wbc_out_per_ul": 40500},
                              user="doc1"), 403) == "forbidden"
    assert snapshot(api.session, product.din) == before


def test_a_correction_after_release_suspends_it_over_http(api):
    product = product_in(api, "released", "BM-MNC")
    response = correction(api, product, "formulate", {"viability_pct": 94.0},
                          reason="count re-read")
    assert response.status_code == 201, response.text
    assert response.json()["release_suspended"] is True
    assert response.json()["product"]["state"] == "release_suspended"


def test_a_qc_result_over_http_carries_its_method_instrument_and_sample(api):
    product = product_in(api, "formulated", "CD133")
    path = f"/products/{product.din}/qc-results"
    body = {"test": "viability", "value": "96", **qc_json(api.session, product.din,
                                                          "viability")}

    response = api.post(path, user="tech2", json=body)

    assert response.status_code == 201, response.text
    row = response.json()
    assert (row["method"], row["instrument"], row["sample_volume_ml"]) == (
        "7-AAD flow cytometry", "FC-01", 0.1)
    assert row["sample_drawn_at"] is not None


def test_a_qc_result_without_its_sample_or_with_an_impossible_one_is_refused(api):
    product = product_in(api, "formulated", "CD133")
    path = f"/products/{product.din}/qc-results"
    good = {"test": "viability", "value": "96", **qc_json(api.session, product.din,
                                                          "viability")}
    before = snapshot(api.session, product.din)
    later = (utcnow() + timedelta(hours=2)).isoformat()
    for changes, code in [({"sample_drawn_at": None}, "invalid_input"),
                          ({"sample_volume_ml": 0}, "invalid_input"),
                          ({"sample_volume_ml": True}, "invalid_input"),
                          ({"sample_volume_ml": 1e9}, "invalid_input"),
                          ({"sample_drawn_at": "2020-01-01T10:00"}, "invalid_input"),
                          ({"sample_drawn_at": later}, "time_in_future"),
                          ({"method": "guess"}, "invalid_input"),
                          ({"instrument": "CF-01"}, "equipment_wrong_kind")]:
        response = api.post(path, user="tech2", json={**good, **changes})
        assert refusal(response, 422) == code, changes
    assert snapshot(api.session, product.din) == before


def test_the_step_schemas_ask_for_start_end_counting_method_and_weight(api):
    schema = api.get("/openapi.json", user=None).json()
    text = str(schema)
    for name in ("started_at", "ended_at", "count_method", "counter_id", "viability_method",
                 "cytometer_id", "weight_kg", "sample_drawn_at", "sample_volume_ml"):
        assert name in text, name
