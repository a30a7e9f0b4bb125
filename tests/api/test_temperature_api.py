"""Storage temperatures over HTTP: a probe assigned, the monitoring file imported once,
a bad file refused whole, a reading by hand, excursions listed with their DINs and
acknowledged by QA only."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from lims.models import Container, ContainerStorage, TemperatureReading
from lims.services.common import utcnow
from lims.services.storage_locations import location_by_code
from tests.api.conftest import Api, product_in, refusal


def a_fridge(api: Api) -> None:
    for body in ({"kind": "site", "name": "Site", "code": "A-SITE"},
                 {"kind": "room", "name": "Lab", "code": "A-ROOM", "parent_code": "A-SITE"},
                 {"kind": "fridge", "name": "Fridge", "code": "A-FRIDGE",
                  "parent_code": "A-ROOM", "temperature_min_c": 2.0, "temperature_max_c": 8.0},
                 {"kind": "box", "name": "Box", "code": "A-BOX", "parent_code": "A-FRIDGE",
                  "rows": 1, "columns": 2}):
        assert api.post("/storage/locations", user="super1", json=body).status_code == 201
    added = api.post("/temperature/devices", user="super1",
                     json={"device": "PROBE-7", "location_code": "A-FRIDGE"})
    assert added.status_code == 201, added.text


def export(start, temps) -> str:
    return "device,time,celsius\n" + "".join(
        f"PROBE-7,{(start + timedelta(minutes=15 * i)).isoformat()},{t}\n"
        for i, t in enumerate(temps))


def test_import_twice_then_the_excursion_lists_the_din_and_qa_acknowledges(api: Api):
    a_fridge(api)
    product = product_in(api, "received")
    container = api.session.exec(select(Container).where(
        Container.product_id == product.id)).first()
    assert container is not None
    start = utcnow() - timedelta(hours=2)
    api.session.add(ContainerStorage(
        container_id=container.id, product_id=product.id,
        location_id=location_by_code(api.session, "A-BOX-A1").id,
        stored_at=start - timedelta(days=1), stored_by_id=api.run.user("tech1").id))
    content = export(start, [4, 9, 10, 4])

    first = api.post("/temperature/imports", user="tech1", json={"content": content})
    again = api.post("/temperature/imports", user="tech1", json={"content": content})

    assert first.status_code == 201, first.text
    assert (first.json()["recorded"], again.json()["recorded"], again.json()["already"]) == (
        4, 0, 4)
    [excursion] = api.get("/temperature/excursions?unacknowledged=true", user="qa1").json()
    assert excursion["dins"] == [product.din] and excursion["max_c"] == 10
    assert api.get(f"/products/{product.din}/temperature-excursions",
                   user="tech1").json()[0]["id"] == excursion["id"]
    path = f"/temperature/excursions/{excursion['id']}/acknowledge"
    assert refusal(api.post(path, user="super1", json={"comment": "ok"}), 403) == "forbidden"
    done = api.post(path, user="qa1", json={"comment": "within the stability data"})
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by"] and done.json()["acknowledgement"]
    assert refusal(api.post(path, user="qa1", json={"comment": "again"}), 409) == "conflict"
    assert api.get("/temperature/excursions?unacknowledged=true", user="qa1").json() == []


def test_a_bad_file_is_refused_whole_with_its_line_numbers(api: Api):
    a_fridge(api)
    start = utcnow() - timedelta(hours=1)
    content = export(start, [4, 4]) + "PROBE-7,2026-01-01 10:00,4\nPROBE-8," \
        f"{start.isoformat()},4\n"

    refused = api.post("/temperature/imports", user="tech1", json={"content": content})

    assert refusal(refused, 422) == "invalid_input"
    detail = refused.json()["detail"]
    assert "line 4:" in detail and "line 5: device PROBE-8" in detail
    assert api.session.exec(select(TemperatureReading)).all() == []


def test_a_reading_by_hand_and_the_location_s_readings(api: Api):
    a_fridge(api)
    at = (utcnow() - timedelta(minutes=5)).isoformat()
    added = api.post("/temperature/readings", user="tech1",
                     json={"location_code": "A-FRIDGE", "measured_at": at, "celsius": 5.5})
    assert added.status_code == 201, added.text
    as_text = api.post("/temperature/readings", user="tech1",
                       json={"location_code": "A-FRIDGE", "measured_at": at, "celsius": "5"})
    assert refusal(as_text, 422)
    no_zone = api.post("/temperature/readings", user="tech1",
                       json={"location_code": "A-FRIDGE", "measured_at": at[:19],
                             "celsius": 5.0})
    assert refusal(no_zone, 422) == "invalid_input"
    assert refusal(api.post("/temperature/readings", user="admin", json={
        "location_code": "A-FRIDGE", "measured_at": at, "celsius": 5.0}), 403) == "forbidden"
    listed = api.get("/temperature/locations/A-FRIDGE/readings", user="qa1").json()
    assert [(r["celsius"], r["source"]) for r in listed] == [(5.5, "hand")]
