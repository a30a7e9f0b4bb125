"""Storage in the browser (issue 16): a technician scans a CD133-negative fraction, then a
box position, and sees it on the box map; a wrong scan is refused in words."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from lims.db import make_engine
from lims.demo import DemoRun
from lims.models import Container, Product
from lims.services.queries import container_scan_text
from lims.services.storage_locations import create_location
from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab


def _prepare(lab: Lab) -> dict[str, str]:
    """A small freezer with one box (through the services), and the scans of two negative
    fractions and of a final product of the lab's formulated CD133 products."""
    engine = make_engine(lab.database_url)
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        sup = run.user("super1")
        for kind, name, code, parent, extra in (
                ("site", "Hospital", "E2E-SITE", None, {}),
                ("room", "Cell lab", "E2E-ROOM", "E2E-SITE", {}),
                ("freezer", "Freezer -80", "E2E-FRZ", "E2E-ROOM",
                 {"temperature_min_c": -90.0, "temperature_max_c": -60.0}),
                ("box", "Negative fractions", "E2E-BOX", "E2E-FRZ", {"rows": 2, "columns": 2})):
            create_location(session, actor=sup, kind=kind, name=name, code=code,
                            parent_code=parent, **extra)
        negatives = session.exec(
            select(Container, Product).join(Product, col(Product.id) == col(Container.product_id))
            .where(Container.kind == "cd133_negative", Container.status == "in_use")
            .order_by(col(Container.id))).all()
        (first, product), (second, other) = negatives[0], negatives[1]
        final = session.exec(select(Container).where(
            Container.product_id == product.id, Container.kind == "final_product")).first()
        assert final is not None
        scans = {"negative": container_scan_text(product, first), "din": product.din,
                 "other_negative": container_scan_text(other, second),
                 "final": container_scan_text(product, final)}
    engine.dispose()
    return scans


@pytest.fixture(scope="module")
def scans(lab: Lab) -> dict[str, str]:
    return _prepare(lab)


def test_a_negative_fraction_is_scanned_into_a_position_and_shown_on_the_box_map(
        bench: Bench, scans: dict[str, str]) -> None:
    negative, din = scans["negative"], scans["din"]
    bench.sign_in("tech1")
    bench.page.get_by_role("link", name="Storage", exact=True).click()
    bench.wait_for_focus("container_scan")

    # the container's scan alone is checked; the cursor moves on to the position
    bench.scan("#container_scan", negative)
    assert "CD133 negative fraction of DIN" in bench.page.locator("#container-status").inner_text()
    bench.wait_for_focus("position_scan")
    bench.scan("#position_scan", "E2E-BOX-B1")

    # the box map: B1 holds the negative fraction, the others are free
    assert "Stored in position B1 of Negative fractions" in bench.flash()
    assert bench.page.locator("body").get_attribute("data-scan-result") == "ok"
    cell = bench.page.locator('#box-map td[data-position="B1"]')
    assert cell.get_attribute("class") == "occupied"
    assert cell.get_attribute("data-din") == din
    assert "CD133 negative fraction" in cell.inner_text()
    assert bench.page.locator("#box-map td.free").count() == 3
    assert "-90 to -60 °C" in bench.page.locator(".lead").inner_text()


def test_a_wrong_scan_is_refused_in_words(bench: Bench, scans: dict[str, str]) -> None:
    final = scans["final"]
    bench.sign_in("tech2")
    bench.page.get_by_role("link", name="Storage", exact=True).click()
    bench.wait_for_focus("container_scan")
    # the final product is not kept in storage
    bench.scan("#container_scan", final)
    refusal = bench.page.locator("#refusal")
    assert "WRONG SCAN" in refusal.inner_text()
    assert "not kept in storage" in refusal.inner_text()
    assert bench.page.locator("body").get_attribute("data-scan-result") == "refused"
    # a box is not a position: the position is refused, nothing stored
    bench.scan("#container_scan", scans["other_negative"])
    bench.wait_for_focus("position_scan")
    bench.scan("#position_scan", "E2E-BOX")
    assert "not a position in a box" in bench.page.locator("#refusal").inner_text()
