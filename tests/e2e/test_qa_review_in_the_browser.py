"""The QA review as a careful reviewer works it, in the browser (issue 13).

The page opens at its top on the exceptions, with no decision chosen and the release
locked; QA acknowledges each exception (with a comment), the lock lifts, and only then is
the release signed. axe-core finds no accessibility violation on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session

from lims.db import make_engine
from lims.demo import DemoRun
from lims.services.deviations import raise_deviation
from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab
from tests.e2e.setup_lab import product_made, state_of


def awaiting_review(database_url: str) -> str:
    """A BM-MNC product awaiting release, its culture pending and a minor deviation raised."""
    din = product_made(database_url, "awaiting_release").din
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        raise_deviation(session, actor=run.user("tech1"), din=din, step="formulate",
                        classification="minor",
                        description="syringe cap found loose, re-capped at once")
    engine.dispose()
    return din


def no_violations(page: Any) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_qa_acknowledges_each_exception_before_the_release_can_be_signed(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    din = awaiting_review(lab.database_url)
    bench = open_bench()
    page = bench.page
    bench.sign_in("qa1")

    # when: QA opens the review
    page.goto(f"{lab.url}/qa/{din}")

    # then: it opens at the top, on the exceptions; nothing chosen, nothing focused below,
    # the release locked with the count of what remains; the batch record one click away
    assert page.evaluate("window.scrollY") == 0
    assert page.locator("table.exceptions").is_visible()
    assert page.locator("input[name=decision]:checked").count() == 0
    assert page.evaluate("document.activeElement === document.body")
    assert page.locator("#release-block").evaluate("e => e.disabled") is True
    assert "2 exceptions remain to acknowledge" in page.locator("#release-locked").inner_text()
    assert page.get_by_role("link", name="Batch record (PDF)").get_attribute("href") == (
        f"/products/{din}/batch-record.pdf")
    assert page.locator("#reject-form fieldset").evaluate("e => e.disabled") is False
    no_violations(page)

    # when: QA acknowledges the first exception (the deviation) with a comment
    first = page.locator("form.acknowledge").first
    first.locator("input[name=comment]").fill("minor; re-capped at once, sterility unaffected")
    with page.expect_navigation():
        first.locator("input[name=comment]").press("Enter")

    # then: it is recorded with the reviewer's name; the cursor waits in the next one
    assert "acknowledged" in bench.flash()
    assert "Acknowledged by Maryam QA Reviewer" in page.locator("table.exceptions").inner_text()
    assert page.evaluate("document.activeElement.name") == "comment"
    assert "1 exception remains to acknowledge" in page.locator("#release-locked").inner_text()
    assert page.locator("#release-block").evaluate("e => e.disabled") is True

    # when: QA acknowledges the rest
    assert bench.acknowledge_exceptions("culture pending: may be pending at release") == 1

    # then: the release block unlocks, still with no decision chosen
    assert page.locator("#release-block").evaluate("e => e.disabled") is False
    assert page.locator("#release-locked").count() == 0
    assert page.locator("input[name=decision]:checked").count() == 0
    no_violations(page)

    # when: QA chooses the release and signs
    page.check("input[name=decision][value=release]")
    page.fill("#sign-username", "qa1")
    page.fill("#sign-password", "demo-qa1-pass")
    with page.expect_navigation():
        page.locator("#sign-password").press("Enter")

    # then: the product is released
    assert bench.state() == "Released", bench.flash()
    assert state_of(lab.database_url, din) == "released"
