"""Storage temperatures in the browser (issue 16): a technician uploads the monitoring
system's file through the page's file field (a bad file refused naming its line, nothing
recorded), types a reading by hand (a comma refused, what was typed kept), and sees the
excursion with the DIN of the product stored there; only QA acknowledges it, with a
comment shown afterwards to everyone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from lims.db import make_engine
from lims.demo import DemoRun
from lims.models import Container, Product, TemperatureReading, User
from lims.services.common import utcnow
from lims.services.queries import container_scan_text
from lims.services.storage import store_container
from lims.services.storage_locations import create_location
from lims.services.temperature import register_device
from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab


def _prepare(lab: Lab) -> dict[str, str]:
    """A fridge (2 to 8 °C) with a probe and a box holding a CD133-negative fraction since
    an hour before the file's first reading: the DIN the excursion must name."""
    engine = make_engine(lab.database_url)
    start = utcnow() - timedelta(minutes=40)  # "now" typed later leaves no gap
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        sup = run.user("super1")
        for kind, name, code, parent, extra in (
                ("site", "Hospital", "T-SITE", None, {}),
                ("room", "Cell lab", "T-ROOM", "T-SITE", {}),
                ("fridge", "Fridge 2-8", "T-FRIDGE", "T-ROOM",
                 {"temperature_min_c": 2.0, "temperature_max_c": 8.0}),
                ("box", "Fridge box", "T-BOX", "T-FRIDGE", {"rows": 1, "columns": 1})):
            create_location(session, actor=sup, kind=kind, name=name, code=code,
                            parent_code=parent, **extra)
        register_device(session, actor=sup, device="T-PROBE-1", location_code="T-FRIDGE")
        negative, product = session.exec(
            select(Container, Product).join(Product, col(Product.id) == col(Container.product_id))
            .where(Container.kind == "cd133_negative", Container.status == "in_use")
            .order_by(col(Container.id).desc())).first() or (None, None)
        assert negative is not None and product is not None
        store_container(session, actor=run.user("tech1"),
                        container_scan=container_scan_text(product, negative),
                        position_scan="T-BOX-A1", now=start - timedelta(hours=1))
        lines = [f"T-PROBE-1,{(start + timedelta(minutes=10 * i)).isoformat()},{celsius}"
                 for i, celsius in enumerate(("5.0", "13.0", "5.0"))]
    engine.dispose()
    return {"din": product.din, "good": "device,time,celsius\n" + "\n".join(lines) + "\n",
            "bad": "\n".join([*lines, "T-PROBE-1,yesterday,5"]) + "\n"}


@pytest.fixture(scope="module")
def files(lab: Lab) -> dict[str, str]:
    return _prepare(lab)


def _readings(lab: Lab) -> int:
    engine = make_engine(lab.database_url)
    with Session(engine) as session:
        count = len(session.exec(select(TemperatureReading.id)).all())
    engine.dispose()
    return count


def _full_name(lab: Lab, username: str) -> str:
    engine = make_engine(lab.database_url)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        name = user.full_name or user.username
    engine.dispose()
    return name


def _upload(bench: Bench, name: str, text: str) -> None:
    bench.page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv",
                                                "buffer": text.encode()}])
    with bench.page.expect_navigation():
        bench.page.get_by_role("button", name="Import").click()


def test_the_file_uploaded_raises_the_excursion_that_qa_acknowledges(
        open_bench, lab: Lab, files: dict[str, str]) -> None:
    tech: Bench = open_bench()
    tech.sign_in("tech1")
    tech.page.get_by_role("link", name="Temperatures", exact=True).click()
    assert tech.page.locator("h1").inner_text() == "Storage temperatures"

    # a bad line refuses the whole file, naming it; nothing is recorded
    _upload(tech, "bad.csv", files["bad"])
    error = tech.page.locator("#temperature-error").inner_text()
    assert "line 4" in error, error
    assert _readings(lab) == 0

    _upload(tech, "monitoring.csv", files["good"])
    assert "3 new reading(s) recorded" in tech.flash(), tech.flash()
    assert "excursion" in tech.flash()
    row = tech.page.locator("#excursions tbody tr").first
    assert "Out of range" in row.inner_text()
    assert files["din"] in row.inner_text()
    assert "to be acknowledged by QA" in row.inner_text()
    assert row.locator("form").count() == 0  # a technician does not acknowledge

    # the same file again records nothing twice
    _upload(tech, "monitoring.csv", files["good"])
    assert "0 new reading(s) recorded, 3 imported before" in tech.flash(), tech.flash()

    # a reading typed by hand: a comma is refused and what was typed stays in the form
    tech.page.fill("#location_code", "T-FRIDGE")
    tech.page.fill("#measured_at", "now")
    tech.page.fill("#celsius", "4,5")
    with tech.page.expect_navigation():
        tech.page.get_by_role("button", name="Record the reading").click()
    assert "4,5" in tech.page.locator("#temperature-error").inner_text()
    assert tech.page.locator("#celsius").input_value() == "4,5"
    assert tech.page.locator("#location_code").input_value() == "T-FRIDGE"
    tech.page.fill("#celsius", "4.5")
    with tech.page.expect_navigation():
        tech.page.get_by_role("button", name="Record the reading").click()
    assert "Reading of 4.5 °C recorded" in tech.flash(), tech.flash()
    assert _readings(lab) == 4

    qa_name = _full_name(lab, "qa1")
    qa: Bench = open_bench()
    qa.sign_in("qa1")
    qa.page.get_by_role("link", name="Temperatures", exact=True).click()
    row = qa.page.locator("#excursions tbody tr").first
    comment = row.locator("input[name=comment]")
    comment.fill("Door left open during cleaning; product unaffected")
    with qa.page.expect_navigation():
        comment.press("Enter")
    assert "acknowledged" in qa.flash(), qa.flash()
    shown = qa.page.locator("#excursions tbody tr").first.inner_text()
    assert "Door left open during cleaning; product unaffected" in shown
    assert f"by {qa_name}:" in shown

    # the technician sees QA's assessment, and the fridge's page its readings
    tech.page.reload()
    assert "Door left open during cleaning" in tech.page.locator("#excursions").inner_text()
    tech.page.locator("#excursions a", has_text="Fridge 2-8").first.click()
    readings = tech.page.locator("#readings tbody tr")
    assert readings.count() == 4
    values = [readings.nth(i).locator("td").nth(1).inner_text() for i in range(4)]
    assert sorted(values) == ["13", "4.5", "5", "5"]
    assert readings.filter(has_text="typed by hand").count() == 1
