"""Storage over HTTP (issue 16): locations by the supervisor, the negative fraction scanned
into a position and out again, refusals recorded, the box map and the product's history."""

from __future__ import annotations

from sqlmodel import func, select

from lims.audit_actions import AuditAction
from lims.models import CoiEvent, ContainerStorage
from lims.services.queries import container_scan_text
from tests.api.conftest import product_in, refusal
from tests.factories import audit_count, container_of

TREE = [
    {"kind": "site", "name": "Hospital", "code": "SITE1"},
    {"kind": "room", "name": "Cell lab", "code": "ROOM1", "parent_code": "SITE1",
     "temperature_min_c": 15, "temperature_max_c": 25},
    {"kind": "fridge", "name": "Fridge 2-8", "code": "FR1", "parent_code": "ROOM1",
     "temperature_min_c": 2, "temperature_max_c": 8},
    {"kind": "box", "name": "Box 1", "code": "BOX1", "parent_code": "FR1", "rows": 2,
     "columns": 2},
]


def build(api) -> None:
    for body in TREE:
        created = api.post("/storage/locations", user="super1", json=body)
        assert created.status_code == 201, created.text


def count(api, model) -> int:
    api.session.commit()
    return int(api.session.exec(select(func.count()).select_from(model)).one())


def test_the_supervisor_builds_the_tree_and_the_lab_reads_it(api):
    assert refusal(api.post("/storage/locations", user="tech1", json=TREE[0]), 403) == \
        "forbidden"
    build(api)
    tree = api.get("/storage/locations", user="tech1").json()
    assert [(t["location"]["code"], t["depth"]) for t in tree] == [
        ("SITE1", 0), ("ROOM1", 1), ("FR1", 2), ("BOX1", 3)]
    assert (tree[3]["range_low_c"], tree[3]["range_high_c"]) == (2, 8)  # the fridge's
    # A position only comes with its box; a box not in a room.
    assert refusal(api.post("/storage/locations", user="super1", json={
        "kind": "box", "name": "B", "code": "B2", "parent_code": "ROOM1", "rows": 1,
        "columns": 1}), 422) == "invalid_input"
    assert refusal(api.post("/storage/locations", user="super1", json={
        "kind": "cupboard", "name": "C", "code": "C1"}), 422) == "invalid_input"
    assert audit_count(api.session, AuditAction.STORAGE_LOCATION_CREATED) == 4


def test_store_the_negative_fraction_see_it_on_the_box_map_and_take_it_out(api):
    build(api)
    product = product_in(api, "formulated")
    negative = container_of(api.session, product, "cd133_negative")
    scan = container_scan_text(product, negative)
    stored = api.post("/storage/store", user="tech1",
                      json={"container_scan": scan, "position_scan": "BOX1-B2"})
    assert stored.status_code == 201, stored.text
    box = api.get("/storage/boxes/BOX1", user="qa1").json()
    cell = box["grid"][1][1]
    assert (cell["position"], cell["din"], cell["container_kind"], cell["container_status"]) \
        == ("B2", product.din, "cd133_negative", "stored")
    assert "Fridge 2-8" in box["path"]
    # The final product is not kept in storage: refused, recorded, nothing stored.
    final = container_scan_text(product, container_of(api.session, product, "final_product"))
    events = count(api, CoiEvent)
    assert refusal(api.post("/storage/store", user="tech1", json={
        "container_scan": final, "position_scan": "BOX1-A1"}), 422) == "coi_bad_scan"
    assert refusal(api.post("/storage/store", user="tech1", json={
        "container_scan": scan, "position_scan": "FR1"}), 422) == "coi_bad_scan"
    assert count(api, CoiEvent) == events + 2
    assert count(api, ContainerStorage) == 1
    assert refusal(api.post("/storage/remove", user="tech1", json={
        "container_scan": scan, "reason": "lost"}), 422) == "invalid_input"
    out = api.post("/storage/remove", user="tech1", json={
        "container_scan": scan, "reason": "return", "note": "back to the bench"})
    assert out.status_code == 200 and out.json()["removal_reason"] == "return"
    history = api.get(f"/products/{product.din}/storage", user="qa1").json()
    assert [(h["reason"], h["note"]) for h in history] == [("return", "back to the bench")]
    assert history[0]["where"].endswith("B2") and history[0]["removed_by"]
    assert api.get("/storage/boxes/BOX1", user="qa1").json()["grid"][1][1]["din"] is None


def test_the_physician_and_the_administrator_store_nothing(api):
    build(api)
    for user in ("doc1", "admin"):
        assert refusal(api.post("/storage/store", user=user, json={
            "container_scan": "x", "position_scan": "BOX1-A1"}), 403) == "forbidden"


def test_the_supervisor_retires_an_empty_fridge_and_puts_it_back(api):
    build(api)
    product = product_in(api, "formulated")
    scan = container_scan_text(product, container_of(api.session, product, "cd133_negative"))
    assert api.post("/storage/store", user="tech1", json={
        "container_scan": scan, "position_scan": "BOX1-A1"}).status_code == 201
    api.session.commit()

    # a fridge holding a container, no reason, a technician: refused
    held = api.post("/storage/locations/FR1/deactivate", user="super1",
                    json={"reason": "Compressor failed"})
    assert held.status_code == 409 and f"DIN {product.din} in BOX1-A1" in held.json()["detail"]
    assert refusal(api.post("/storage/locations/FR1/deactivate", user="super1",
                            json={"reason": "   "}), 422) == "reason_required"
    assert refusal(api.post("/storage/locations/FR1/deactivate", user="tech1",
                            json={"reason": "Broken"}), 403) == "forbidden"
    assert refusal(api.post("/storage/locations/NOPE/deactivate", user="super1",
                            json={"reason": "Broken"}), 404) == "not_found"
    assert audit_count(api.session, AuditAction.STORAGE_LOCATION_DEACTIVATED) == 0

    # emptied, it goes out of use with its box; the tree says so; nothing goes in
    assert api.post("/storage/remove", user="tech1", json={
        "container_scan": scan, "reason": "testing"}).status_code == 200
    done = api.post("/storage/locations/fr1/deactivate", user="super1",
                    json={"reason": "Compressor failed"})
    assert done.status_code == 200, done.text
    assert (done.json()["code"], done.json()["active"]) == ("FR1", False)
    tree = api.get("/storage/locations", user="tech1").json()
    assert [(t["location"]["code"], t["location"]["active"]) for t in tree] == [
        ("SITE1", True), ("ROOM1", True), ("FR1", False), ("BOX1", False)]
    assert refusal(api.post("/storage/store", user="tech1", json={
        "container_scan": scan, "position_scan": "BOX1-A2"}), 422) == "coi_bad_scan"
    assert refusal(api.post("/storage/locations/BOX1/reactivate", user="super1",
                            json={"reason": "Repaired"}), 422) == "invalid_input"
    assert refusal(api.post("/storage/locations/FR1/deactivate", user="super1",
                            json={"reason": "Again"}), 409) == "conflict"
    # 1 fridge + 1 box + 4 positions
    assert audit_count(api.session, AuditAction.STORAGE_LOCATION_DEACTIVATED) == 6

    # back in use: the fridge, then the box with its positions
    for code in ("FR1", "BOX1"):
        back = api.post(f"/storage/locations/{code}/reactivate", user="admin",
                        json={"reason": "Repaired and requalified"})
        assert back.status_code == 200 and back.json()["active"] is True, back.text
    assert api.post("/storage/store", user="tech1", json={
        "container_scan": scan, "position_scan": "BOX1-A2"}).status_code == 201
    assert audit_count(api.session, AuditAction.STORAGE_LOCATION_REACTIVATED) == 6
