"""A label that is no longer the container's current one is refused, in the browser.

Each print carries its serial in the 2-D code. The product is made and released through
the services; the technician prints its labels in Chromium (PDF, the scanner reads the
Data Matrix back) and scans the wrong one: the in-process label after release, or an
earlier print after a reprint. Scan-back, issue and administration refuse it full width,
naming the label to remove and the one to use; nothing moves.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.e2e.bench import Bench, clock
from tests.e2e.conftest import Lab
from tests.e2e.setup_lab import released_wearing_its_in_process_label, state_of
from workflows.isbt128 import encode_patient_id


def test_after_release_the_in_process_label_is_refused_at_scan_back_and_at_issue(
        bench: Bench, lab: Lab) -> None:
    made = released_wearing_its_in_process_label(lab.database_url)
    page = bench.page
    bench.sign_in("tech1")
    page.goto(f"{lab.url}/products/{made.din}")
    # given: the final label is printed for the released syringe
    final = bench.print_label("final product")
    assert final != made.earlier
    # when: the old in-process label, still on the syringe, is scanned back instead
    bench.scan_back(made.earlier)
    # then: a full-width refusal names the label to remove and the one to use
    refusal = refused(bench)
    assert "SUPERSEDED LABEL" in refusal
    assert "in-process label" in refusal and "remove it from the final product" in refusal
    assert f"use its current final label \"Print {serial_of(final)}\"" in refusal
    assert "confirmed by scan" not in bench.flash()
    bench.shot("superseded-label-refusal")
    # when: the final label is scanned back
    bench.scan_back(final)
    assert "confirmed by scan" in bench.flash(), bench.flash()
    # and: the in-process label is scanned for issue
    bench.scan_anywhere(made.earlier)
    # then: the issue step refuses it the same way; nothing moved
    assert page.locator("h1").inner_text() == "Issue to the procedure room"
    refusal = refused(bench)
    assert "WRONG LABEL" in refusal and "SUPERSEDED LABEL" in refusal
    assert "in-process label" in refusal
    assert state_of(lab.database_url, made.din) == "released"
    # when: the final label is scanned for issue, the form opens with the syringe confirmed
    bench.scan("#scan", final)
    assert "confirmed" in page.locator("#scan-status").inner_text()
    assert refused(bench) == ""


def test_after_a_reprint_the_earlier_print_is_refused_at_scan_back_issue_and_bedside(
        bench: Bench, lab: Lab) -> None:
    made = released_wearing_its_in_process_label(lab.database_url)
    page = bench.page
    bench.sign_in("tech1")
    page.goto(f"{lab.url}/products/{made.din}")
    first = bench.label_and_scan_back("final product")
    # given: the final label is reprinted (the first one curled off the cold syringe)
    reprint = bench.print_label("final product", reason="label curled off the cold syringe")
    assert serial_of(reprint) == serial_of(first) + 1
    # when: the first print is scanned into the Scan box (a new print's scan-back)
    bench.scan_anywhere(first)
    # then: it is refused, naming both prints
    refusal = refused(bench)
    assert "SUPERSEDED LABEL" in refusal
    assert f"final label \"Print {serial_of(first)}\"" in refusal
    assert "remove it from the final product" in refusal
    assert f"use its current final label \"Print {serial_of(reprint)}\"" in refusal
    # when: the reprint is scanned: confirmed, and the issue form opens
    bench.scan_anywhere(reprint)
    assert "confirmed by scan" in bench.flash(), bench.flash()
    assert page.locator("h1").inner_text() == "Issue to the procedure room"
    # when: the first print is scanned into the issue form
    bench.scan("#scan", first)
    # then: the issue step refuses it
    assert f"Print {serial_of(first)}" in refused(bench)
    # and: a DIN typed into the identity box cannot tell which label it is
    bench.scan("#scan", made.din)
    assert "2-D code" in refused(bench)
    # when: the reprint is scanned, the syringe is issued
    bench.scan("#scan", reprint)
    assert "confirmed" in page.locator("#scan-status").inner_text()
    bench.enter({"time_issued": "now", "temperature_c": "6.5",
                 "transport_conditions": "validated shipper, 2–8 °C"})
    bench.check()
    bench.witness_and_save("tech2")
    assert bench.state() == "Issued", bench.flash()
    issued = bench.label_and_scan_back("final product")  # the issue label
    bench.sign_out()
    # when: at the bedside the final label (superseded by the issue label) is scanned
    bench.sign_in("doc1")
    bench.scan_anywhere(reprint)
    # then: the administration refuses it and says to use the issue label
    assert page.locator("h1").inner_text() == "Portal-vein administration"
    refusal = refused(bench)
    assert "SUPERSEDED LABEL" in refusal
    assert f"use its current issue label \"Print {serial_of(issued)}\"" in refusal
    # when: the issue label is scanned, then the wristband, the infusion can go ahead
    bench.scan("#scan", issued)
    assert "confirmed" in page.locator("#scan-status").inner_text()
    bench.scan("#wristband", encode_patient_id(made.mrn))
    bench.enter({"infusion_start": "now", "infusion_end": clock(datetime.now(UTC))(2),
                 "volume_injected_ml": "4", "route": "portal vein",
                 "sonography_guided": "yes", "adverse_events": "none"})
    bench.check()
    bench.sign_as_physician("doc1")
    bench.witness_and_save("doc2")
    assert bench.state() == "Administered", bench.flash()


def refused(bench: Bench) -> str:
    """The full-width refusal on the page (empty when there is none)."""
    refusal = bench.page.locator(".refusal")
    if not refusal.count():
        return ""
    box = refusal.bounding_box()
    assert box is not None and box["width"] >= bench.page.viewport_size["width"] - 40
    return refusal.inner_text()


def serial_of(code: str) -> int:
    """The print serial a label's 2-D code carries (`&s` and six digits, at its end)."""
    assert "&s" in code, code
    return int(code.rsplit("&s", 1)[1][:6])
