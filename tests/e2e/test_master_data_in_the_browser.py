"""Master data in the browser: a supervisor registers a lot, which waits in quarantine until
QA releases it for use; a supervisor records an overdue centrifuge's calibration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab

QA_NAME = "Maryam QA Reviewer"  # qa1, seed/demo.toml


def lot_row(bench: Bench, lot: str):  # type: ignore[no-untyped-def]
    return bench.page.locator(f'tr[data-lot="{lot}"]')


def test_a_lot_registered_by_the_supervisor_is_released_by_qa_in_the_browser(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    supervisor, qa = open_bench(), open_bench()
    # given the supervisor registers a Ficoll lot that has just arrived
    supervisor.sign_in("super1")
    supervisor.page.get_by_role("link", name="Reagent lots").click()
    supervisor.page.select_option("#material", "density_gradient_medium")
    supervisor.page.fill("#reagent", "Ficoll-Paque PREMIUM 1.077")
    supervisor.page.fill("#lot", "FP2699")
    supervisor.page.fill("#manufacturer", "Cytiva")
    supervisor.page.fill("#expires_on", "2030-06-30")
    with supervisor.page.expect_navigation():
        supervisor.page.get_by_role("button", name="Register the lot").click()
    assert "registered: in quarantine" in supervisor.flash(), supervisor.page.content()[:3000]
    assert lot_row(supervisor, "FP2699").locator(".lot-status").inner_text() == "in quarantine"
    assert supervisor.page.get_by_role("button", name="Release for use").count() == 0

    # when QA, after the incoming inspection, releases it from the lots in quarantine
    qa.sign_in("qa1")
    qa.page.goto(f"{lab.url}/admin/lots")
    qa.page.select_option("#status-filter", "quarantine")
    with qa.page.expect_navigation():
        qa.page.get_by_role("button", name="Show").click()
    row = lot_row(qa, "FP2699")
    row.get_by_label("Reason").fill("certificate of analysis checked")
    with qa.page.expect_navigation():
        row.get_by_role("button", name="Release for use").click()

    # then the lot shows as released for use, by QA, with the reason
    assert "FP2699 (Ficoll-Paque PREMIUM 1.077) is now released for use" in qa.flash()
    row = lot_row(qa, "FP2699")
    assert row.locator(".lot-status").inner_text() == "released for use"
    assert QA_NAME in row.inner_text() and "certificate of analysis checked" in row.inner_text()
    supervisor.page.reload()
    assert lot_row(supervisor, "FP2699").locator(".lot-status").inner_text() == (
        "released for use")


def test_an_overdue_calibration_is_recorded_in_the_browser(
        bench: Bench, lab: Lab) -> None:
    # given the centrifuge CF-02, shown as overdue
    bench.sign_in("super1")
    bench.page.goto(f"{lab.url}/admin/equipment")
    row = bench.page.locator('tr[data-code="CF-02"]')
    assert "overdue" in row.inner_text() and "bad-row" in (row.get_attribute("class") or "")
    due = (datetime.now(UTC).date() + timedelta(days=365)).isoformat()

    # when the supervisor records its calibration
    bench.page.select_option("#calibration-code", "CF-02")
    bench.page.fill("#calibration-due", due)
    bench.page.fill("#calibration-reason", "calibrated, certificate CAL-2699")
    with bench.page.expect_navigation():
        bench.page.get_by_role("button", name="Record the calibration").click()

    # then the new due date shows, no longer overdue
    assert f"Calibration of CF-02 recorded: next due {due}" in bench.flash()
    row = bench.page.locator('tr[data-code="CF-02"]')
    assert row.locator(".calibration-due").inner_text() == due
    assert "bad-row" not in (row.get_attribute("class") or "")
