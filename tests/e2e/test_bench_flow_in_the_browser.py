"""Safe entry and movement on the bench pages, in the browser.

A QC typo (9.71 % viability for 97.1) is caught on the QC check page, OUT OF SPECIFICATION
in words, and corrected with "Change values" before anything is saved; only "Confirm and
save" saves. After a step's Save, Back opens a GET page (no "Confirm Form Resubmission")
that says the step was already saved, and the cursor was placed deliberately. A wristband
scanned into the top scan box opens the bedside check of that patient's issued product; a
wrong wristband there resets the product's confirmation. axe-core finds no accessibility
violation on the QC check page or on the bedside step page.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session, select

from lims import demo_data as data
from lims.db import make_engine
from lims.demo import DemoRun
from lims.models import Product
from tests.e2e.bench import Bench, clock
from tests.e2e.conftest import Lab
from tests.e2e.setup_lab import product_made, state_of
from tests.factories import DEFAULT_AGE, make_product, scan_of
from workflows.isbt128 import encode_patient_id


def no_violations(bench: Bench) -> None:
    results = Axe().run(bench.page)
    assert results.violations_count == 0, results.generate_report()


def qc_results_of(database_url: str, din: str) -> list[str]:
    from lims.models import QcResult

    engine = make_engine(database_url)
    with Session(engine) as session:
        product = session.exec(select(Product).where(Product.din == din)).one()
        values = [r.value for r in session.exec(
            select(QcResult).where(QcResult.product_id == product.id))]
    engine.dispose()
    return values


def collected(database_url: str) -> tuple[str, str]:
    """A BM-MNC product harvested 7 h ago, and what a scanner reads from its marrow bag."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        product, _ = make_product(run, arm="BM-MNC", until="collected")
        din, code = product.din, scan_of(session, product, "marrow_bag", "in_use")
    engine.dispose()
    return din, code


def test_a_qc_typo_is_caught_on_the_check_page_and_corrected_before_saving(
        bench: Bench, lab: Lab) -> None:
    page = bench.page
    made = product_made(lab.database_url, "formulated")
    bench.sign_in("tech2")
    page.goto(f"{lab.url}/products/{made.din}/qc")
    bench.wait_for_focus("qc_viability")  # the first required result still missing
    # when: the technician types 9.71 % viability (meant: 97.1) and presses Enter
    method, instrument = data.QC_METHOD["viability"]
    page.fill("#qc_viability", "9.71")
    page.select_option("#method_viability", method)
    page.fill("#instrument_viability", instrument)
    page.fill("#volume_viability", "0.1")
    page.fill("#sample_drawn_at", "now")
    with page.expect_navigation():
        page.locator("#qc_viability").press("Enter")
    # then: the check page shows the value out of specification, in words; nothing saved
    assert urlsplit(page.url).path == f"/products/{made.din}/qc/check"
    row = page.locator("table.qc-check tbody tr").filter(has_text="Viability")
    assert "9.71 %" in row.inner_text()
    assert "OUT OF SPECIFICATION (limit ≥ 70 %)" in row.inner_text()
    assert "OUT OF SPECIFICATION" in page.get_by_role("alert").inner_text()
    bench.wait_for_focus("check-summary")  # not on Confirm: a second Enter saves nothing
    assert qc_results_of(lab.database_url, made.din) == []
    no_violations(bench)
    bench.shot("qc-check-page")
    # when: "Change values": the form comes back with what was typed
    with page.expect_navigation():
        page.get_by_role("link", name="Change values").click()
    assert page.locator("#qc_viability").input_value() == "9.71"
    assert page.locator("#volume_viability").input_value() == "0.1"
    page.fill("#qc_viability", "97.1")
    with page.expect_navigation():
        page.locator("#qc_viability").press("Enter")
    assert "meets specification (limit ≥ 70 %)" in page.locator("table.qc-check").inner_text()
    assert qc_results_of(lab.database_url, made.din) == []
    # and: "Confirm and save"
    bench.confirm_qc()
    # then: 97.1 is saved, once
    assert "1 QC result(s) saved" in bench.flash() and "97.1 %" in bench.flash()
    assert qc_results_of(lab.database_url, made.din) == ["97.1"]
    # and Back opens the check page's address again: a GET that says it was saved
    response = page.go_back()
    assert response is not None and response.status == 200
    assert urlsplit(page.url).path == f"/products/{made.din}/qc"
    assert "already saved" in bench.flash()
    assert qc_results_of(lab.database_url, made.din) == ["97.1"]


def test_back_after_a_step_save_is_a_get_page_and_the_cursor_is_placed(
        bench: Bench, lab: Lab) -> None:
    page = bench.page
    din, bag = collected(lab.database_url)
    at = clock(datetime.now(UTC) - DEFAULT_AGE)  # minutes after the harvest ended
    bench.sign_in("tech1")
    bench.scan_anywhere(bag)
    assert page.locator("h1").inner_text() == "Transport and receipt"
    bench.wait_for_focus("v_time_out")
    bench.enter({"time_out": at(40), "time_received": at(70), "temperature_c": "19.5",
                 "bag_intact": "yes", "gross_weight_g": "262", "tare_g": "45"})
    bench.check()
    # the check's confirmation is a GET page of its own
    checked = page.url
    assert urlsplit(checked).path == f"/products/{din}/steps/receive"
    assert "check=" in urlsplit(checked).query
    bench.witness_and_save(None)  # Save step (no witness here)
    assert bench.state() == "Received in the lab", bench.flash()
    # then: the cursor is on the next thing to do, never nowhere
    deadline = time.monotonic() + 10  # autofocus lands once the page has rendered
    while bench.focused() == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bench.focused() != "", page.locator("main").inner_text()[:1500]
    # when: Back
    response = page.go_back()
    # then: a GET page (no resubmission prompt): the step says it was already saved
    assert response is not None and response.status == 200
    assert urlsplit(page.url).path == f"/products/{din}"
    assert "already saved at" in bench.flash()
    assert "Confirm Form Resubmission" not in page.content()
    assert state_of(lab.database_url, din) == "received"


def test_a_wristband_in_the_top_scan_box_opens_the_bedside_check(
        bench: Bench, lab: Lab) -> None:
    page = bench.page
    made = product_made(lab.database_url, "issued")
    bench.sign_in("doc1")
    # when: the physician scans the patient's wristband into the top scan box
    bench.scan_anywhere(encode_patient_id(made.mrn))
    # then: the bedside check of that patient's issued product, the wristband confirmed,
    # the cursor in the product's scan field
    assert urlsplit(page.url).path == f"/products/{made.din}/steps/administer"
    assert page.locator("h1").inner_text() == "Portal-vein administration"
    assert "wristband of this patient confirmed" in page.locator("#wristband-status").inner_text()
    bench.wait_for_focus("scan")
    no_violations(bench)
    # and the product's label scanned: both confirmed, on to the values
    bench.scan("#scan", made.label)
    assert "of this product confirmed" in page.locator("#scan-status").inner_text()


def test_a_wrong_wristband_at_the_bedside_resets_the_product_confirmation(
        bench: Bench, lab: Lab) -> None:
    page = bench.page
    made = product_made(lab.database_url, "issued")
    bench.sign_in("doc1")
    bench.scan_anywhere(made.label)
    assert page.locator("h1").inner_text() == "Portal-vein administration"
    assert "of this product confirmed" in page.locator("#scan-status").inner_text()
    bench.wait_for_focus("wristband")
    # when: another patient's wristband
    bench.scan("#wristband", encode_patient_id(lab.mrn))
    # then: WRONG PATIENT; the product's scan is cleared and no longer shows confirmed
    assert "WRONG PATIENT" in page.locator("#refusal").inner_text()
    assert "confirmed" not in page.locator("#scan-status").inner_text()
    assert page.locator("#scan").input_value() == ""
    assert "refused" in page.locator("#wristband-status").inner_text()
    bench.wait_for_focus("scan")  # start the bedside check again with the product
    assert state_of(lab.database_url, made.din) == "issued"
