"""The temperature pages: the monitoring file uploaded (a bad one refused with its lines),
a reading typed by hand, the excursion listed with its DIN on the list and on the product
page, acknowledged by QA with a comment."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from lims.models import Container, ContainerStorage, TemperatureExcursion, TemperatureReading
from lims.services.common import utcnow
from lims.services.storage_locations import create_location, location_by_code
from lims.services.temperature import register_device
from tests.api.web_client import browser, csrf_token
from tests.factories import make_product


def test_upload_type_list_and_acknowledge(api_engine, lab):
    session, run = lab
    sup = run.user("super1")
    create_location(session, actor=sup, kind="site", name="Site", code="W-SITE")
    create_location(session, actor=sup, kind="room", name="Lab", code="W-ROOM",
                    parent_code="W-SITE")
    create_location(session, actor=sup, kind="fridge", name="Fridge", code="W-FRIDGE",
                    parent_code="W-ROOM", temperature_min_c=2, temperature_max_c=8)
    create_location(session, actor=sup, kind="box", name="Box", code="W-BOX",
                    parent_code="W-FRIDGE", rows=1, columns=1)
    register_device(session, actor=sup, device="W-PROBE", location_code="W-FRIDGE")
    product, _ = make_product(run, until="received")
    container = session.exec(select(Container).where(
        Container.product_id == product.id)).first()
    assert container is not None
    start = utcnow() - timedelta(minutes=40)  # the reading typed "now" leaves no gap
    session.add(ContainerStorage(container_id=container.id, product_id=product.id,
                                 location_id=location_by_code(session, "W-BOX-A1").id,
                                 stored_at=start - timedelta(hours=1),
                                 stored_by_id=run.user("tech1").id))
    session.commit()
    tech, token = browser(api_engine, "tech1")
    lines = [f"W-PROBE,{(start + timedelta(minutes=10 * i)).isoformat()},{t}"
             for i, t in enumerate([5, 13, 5])]

    bad = tech.post("/temperature/import", data={"csrf_token": token}, files={
        "file": ("bad.csv", "\n".join([*lines, "W-PROBE,today,5"]).encode(), "text/csv")})
    assert bad.status_code == 422 and "line 4:" in bad.text
    assert session.exec(select(TemperatureReading)).all() == []
    session.rollback()  # SQLite: the test's read must not hold the write lock
    good = tech.post("/temperature/import", data={"csrf_token": token}, files={
        "file": ("good.csv", "\n".join(lines).encode(), "text/csv")})
    assert good.status_code == 303, good.text[:500]
    typed = tech.post("/temperature/readings", data={
        "csrf_token": token, "location_code": "W-FRIDGE", "measured_at": "now",
        "celsius": "4,5"})
    assert typed.status_code == 422 and "4,5" in typed.text  # refused, typed value kept
    typed = tech.post("/temperature/readings", data={
        "csrf_token": token, "location_code": "W-FRIDGE", "measured_at": "now",
        "celsius": "4.5"})
    assert typed.status_code == 303

    page = tech.get("/temperature").text
    assert product.din in page and "Out of range" in page
    assert 'action="/temperature/excursions/' not in page  # only QA acknowledges
    assert "Temperature excursions affecting this product" in tech.get(
        f"/products/{product.din}").text
    assert "monitoring file" in tech.get("/temperature/locations/W-FRIDGE").text

    qa, qa_token = browser(api_engine, "qa1")
    assert csrf_token(qa.get("/temperature").text)
    [excursion_id] = session.exec(select(TemperatureExcursion.id)).all()
    session.rollback()
    empty = qa.post(f"/temperature/excursions/{excursion_id}/acknowledge",
                    data={"csrf_token": qa_token, "comment": ""})
    assert empty.status_code == 422
    done = qa.post(f"/temperature/excursions/{excursion_id}/acknowledge",
                   data={"csrf_token": qa_token, "comment": "door left open; no impact"})
    assert done.status_code == 303
    assert "door left open; no impact" in qa.get("/temperature").text
