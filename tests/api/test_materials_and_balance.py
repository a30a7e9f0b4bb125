"""Over HTTP: the cell balance and the materials by kind refuse as the services do, and the
master data of lots takes their material."""

from __future__ import annotations

from tests.api.conftest import product_in, refusal
from tests.api.test_steps import perform as perform_step
from tests.factories import PASSWORDS, snapshot, step_time, step_values


def values_with(product, step, **changes):
    return {**step_values(step, product.arm, step_time(product, step)), **changes}


def perform(api, product, step, values):
    """The step as tech1 with tech2 as witness, with the given data."""
    return perform_step(api, product, step, values=values, witness="tech2",
                        witness_password=PASSWORDS["tech2"])


def test_a_formulation_with_more_cells_than_the_cd133_fraction_is_refused_per_field(api):
    product = product_in(api, "enriched")
    before = snapshot(api.session, product.din)

    response = perform(api, product, "formulate",
                       values=values_with(product, "formulate", total_cells=11e6))

    assert refusal(response, 422) == "step_data_invalid"
    message = response.json()["fields"]["total_cells"]
    assert "11.0 × 10⁶ cells" in message and "5.70 × 10⁶ cells" in message
    assert snapshot(api.session, product.din) == before


def test_a_sedimentation_volume_left_out_is_taken_from_the_harvest(api):
    product = product_in(api, "received")
    values = values_with(product, "sediment")
    del values["volume_in_ml"]

    response = perform(api, product, "sediment", values=values)

    assert response.status_code == 200, response.text
    assert response.json()["product"]["state"] == "rbc_reduced"


def test_a_sedimentation_agent_lot_in_the_ficoll_medium_field_is_refused(api):
    product = product_in(api, "rbc_reduced")
    before = snapshot(api.session, product.din)

    response = perform(api, product, "isolate_mnc",
                       values=values_with(product, "isolate_mnc", medium_lot="HES2403"))

    assert refusal(response, 422) == "material_wrong_kind"
    assert "HES2403" in response.json()["detail"]
    assert "density gradient medium" in response.json()["detail"]
    assert snapshot(api.session, product.din) == before


def test_a_supervisor_registers_a_lot_with_its_material(api):
    lot = {"reagent": "Marrow filter set 500/200 µm", "lot": "FLT2501", "material": "filter",
           "expires_on": "2030-06-30"}

    created = api.post("/reagent-lots", user="super1", json=lot)

    assert created.status_code == 201, created.text
    assert created.json()["material"] == "filter"
    assert created.json()["status"] == "quarantine"  # until QA releases it
    listed = api.get("/reagent-lots", user="tech1").json()
    assert {"FLT2501", "FP2404"} <= {row["lot"] for row in listed}


def test_a_lot_of_an_unknown_material_or_by_a_technician_is_refused(api):
    lot = {"reagent": "Ficoll", "lot": "FP2599", "material": "ficoll",
           "expires_on": "2030-06-30"}

    assert refusal(api.post("/reagent-lots", user="super1", json=lot), 422) == "invalid_input"
    assert refusal(api.post("/reagent-lots", user="tech1",
                            json={**lot, "material": "density_gradient_medium"}),
                   403) == "forbidden"
