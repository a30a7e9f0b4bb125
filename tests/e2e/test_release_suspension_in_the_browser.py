"""A QC result that fails after release stops the product, in the browser.

The product is made through the services (the whole path in the browser is the other
test's point); the people who meet the suspension work in Chromium: the technician who
has the issue form open when the sterility culture grows, and the physician at the
bedside when an endotoxin result is corrected after issue. Each sees the STOP, and
nothing is issued or administered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.e2e.bench import Bench, clock
from tests.e2e.conftest import Lab
from tests.e2e.setup_lab import fail_after_release, product_made, state_of
from workflows.isbt128 import encode_patient_id

STOP = "STOP — RELEASE SUSPENDED"


def test_a_sterility_culture_that_grows_after_release_stops_the_issue_in_the_browser(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    made = product_made(lab.database_url, "released")
    technician, qc_lab = open_bench(), open_bench()
    # given: tech1 has scanned the released syringe and checked the issue form
    technician.sign_in("tech1")
    technician.scan_anywhere(made.label)
    assert technician.page.locator("h1").inner_text() == "Issue to the procedure room"
    technician.enter({"time_issued": "now", "temperature_c": "6.5",
                      "transport_conditions": "validated shipper, 2–8 °C"})
    technician.check()
    assert technician.page.locator("#witness_username").count() == 1, technician.flash()
    # when: the QC laboratory reads the sterility culture: growth
    qc_lab.sign_in("tech2")
    qc_lab.page.goto(f"{lab.url}/products/{made.din}/qc")
    qc_lab.page.select_option("#qc_sterility", "growth")
    with qc_lab.page.expect_navigation():
        qc_lab.page.locator("#reason").press("Enter")
    qc_lab.confirm_qc()
    assert "saved" in qc_lab.flash(), qc_lab.page.locator("main").inner_text()[:1500]
    # then: the product page shows the STOP to the QC laboratory
    qc_lab.page.goto(f"{lab.url}/products/{made.din}")
    assert STOP in stop_banner(qc_lab)
    assert qc_lab.state() == "Release suspended"
    # when: the witness signs the issue that was checked before the result came in
    technician.witness_and_save("tech2")
    # then: nothing is issued; the technician lands on the STOP
    assert STOP in stop_banner(technician)
    assert "Do not issue or administer" in stop_banner(technician)
    assert "not possible now" in technician.flash()
    assert technician.state() == "Release suspended"
    assert state_of(lab.database_url, made.din) == "release_suspended"
    # and: scanning the syringe again opens no issue form, only the STOP
    technician.scan_anywhere(made.label)
    assert STOP in stop_banner(technician)
    assert technician.page.locator("form.stepform").count() == 0
    technician.page.goto(f"{lab.url}/products/{made.din}/steps/issue")
    assert STOP in stop_banner(technician)
    assert technician.page.locator("form.stepform").count() == 0
    assert state_of(lab.database_url, made.din) == "release_suspended"


def test_an_endotoxin_result_corrected_after_issue_stops_the_infusion_at_the_bedside(
        bench: Bench, lab: Lab) -> None:
    made = product_made(lab.database_url, "issued")
    page = bench.page
    # given: doc1 has scanned the syringe and the wristband, and checked the infusion
    bench.sign_in("doc1")
    bench.scan_anywhere(made.label)
    assert page.locator("h1").inner_text() == "Portal-vein administration"
    bench.wait_for_focus("wristband")
    bench.scan("#wristband", encode_patient_id(made.mrn))
    assert "wristband of this patient confirmed" in page.content()
    bench.enter({"infusion_start": "now", "infusion_end": clock(datetime.now(UTC))(2),
                 "volume_injected_ml": "4", "route": "portal vein",
                 "sonography_guided": "yes", "adverse_events": "none"})
    bench.check()
    assert page.locator("#witness_username").count() == 1, bench.flash()
    # when: the endotoxin result is corrected to 500 EU/mL (a dilution factor was omitted)
    fail_after_release(lab.database_url, made.din, "endotoxin", "500",
                       reason="dilution factor omitted")
    # and: doc2 witnesses the bedside check
    bench.witness_and_save("doc2")
    # then: nothing is administered: the bedside screen shows the STOP, full width
    banner = page.locator("#release-suspended")
    assert STOP in banner.inner_text()
    assert banner.bounding_box()["width"] >= page.viewport_size["width"] - 40
    assert bench.state() == "Release suspended"
    assert state_of(lab.database_url, made.din) == "release_suspended"
    bench.shot("bedside-stop")
    # and: scanning the syringe again at the bedside brings back only the STOP
    bench.scan_anywhere(made.label)
    assert STOP in stop_banner(bench)
    assert page.locator("#wristband").count() == 0
    page.goto(f"{lab.url}/products/{made.din}/steps/administer")
    assert STOP in stop_banner(bench)
    assert page.locator("form.stepform").count() == 0
    assert state_of(lab.database_url, made.din) == "release_suspended"


def stop_banner(bench: Bench) -> str:
    banner = bench.page.locator("#release-suspended")
    return banner.inner_text() if banner.count() else ""
