"""Print a label to a chosen printer, then scan it back, in the browser.

The administrator registers the bench's Zebra (the test's own TCP listener on this
machine) on /admin/printers. The technician schedules a harvest: the worklist's next
action names the label to print. On the product page the cursor waits on the printer;
"Print" sends the ZPL to the listener and the page comes back showing the label printed
and waiting for its scan-back, the cursor in the scan-back field. The wedge scanner types
the 2-D code the label carries (read from the ZPL the printer received) and Enter: the
label is confirmed and the cursor moves to the next thing to do. axe-core finds no
accessibility violation on the product page or on /admin/printers.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab
from tests.e2e.setup_lab import bag_scan_of
from tests.integration.test_labels_printing import Listener
from tests.unit.label_support import zpl_fields


def no_violations(bench: Bench) -> None:
    results = Axe().run(bench.page)
    assert results.violations_count == 0, results.generate_report()


def test_the_technician_prints_to_the_bench_printer_then_scans_the_label_back(
        bench: Bench, lab: Lab) -> None:
    page = bench.page
    zebra = Listener()
    try:
        # given: the administrator registers the bench printer, loaded with bag labels
        bench.sign_in("admin")
        page.goto(f"{lab.url}/admin/printers")
        page.fill("#name", "ZEBRA-BENCH")
        page.fill("#location", "Clean room 2, bench B")
        page.fill("#host", "127.0.0.1")
        page.fill("#port", str(zebra.port))
        page.select_option("#stock", "100x60mm")
        with page.expect_navigation():
            page.get_by_role("button", name="Register the printer").click()
        assert "Printer ZEBRA-BENCH registered" in bench.flash(), page.content()[:3000]
        no_violations(bench)
        bench.sign_out()

        # when: the technician schedules a harvest
        bench.sign_in("tech1")
        page.goto(f"{lab.url}/harvests/new")
        page.select_option("#subject_id", lab.subject_id)
        with page.expect_navigation():
            page.get_by_role("button", name="Schedule harvest").click()
        din = page.url.split("/products/")[1].split("?")[0].split("#")[0]

        # then: the worklist's next action names the label to print
        page.goto(lab.url + "/")
        row = page.locator("table.worklist tbody tr").filter(has_text=lab.subject_id)
        assert row.locator("td").last.inner_text().strip() == "Print the collection label"

        # and: on the product page the cursor waits on the printer of that label
        with page.expect_navigation():
            row.get_by_role("link", name="Print the collection label").click()
        form = page.locator("form.print-form").filter(has=page.locator("select"))
        printer_choice = form.locator("select").get_attribute("id") or ""
        assert printer_choice.startswith("printer-"), printer_choice
        bench.wait_for_focus(printer_choice)  # autofocus lands once the page has rendered
        assert form.locator("select").input_value() == "ZEBRA-BENCH"

        # when: "Print"
        with page.expect_navigation():
            form.get_by_role("button", name="Print", exact=True).click()
        zebra.thread.join(timeout=10)
    finally:
        zebra.close()

    # then: the printer received the label as ZPL, with the DIN
    zpl = bytes(zebra.received).decode("utf-8")
    assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ") and din in zpl
    # and: the page shows it printed, waiting for its scan-back, the cursor in that field
    assert "sent to ZEBRA-BENCH" in bench.flash()
    assert "waiting for its scan-back" in page.locator(".todo").inner_text()
    bench.wait_for_focus("verify-scan")
    no_violations(bench)

    # when: the label's 2-D code is scanned (typed fast, then Enter)
    code = next(f.data for f in zpl_fields(zpl) if f.kind == "BX").replace("__", "_")
    assert code == bag_scan_of(lab.database_url, lab.subject_id)
    page.keyboard.type(code, delay=5)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # then: the label is confirmed, and the cursor is on the next thing to do: the harvest
    assert "confirmed by scan" in bench.flash(), bench.flash()
    assert page.locator(".todo").count() == 0
    bench.wait_for_focus("next-action")
    assert "harvest" in page.locator("#next-action").inner_text().lower()
    no_violations(bench)
