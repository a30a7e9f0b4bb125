"""A release specification change in the browser: the administrator drafts it, QA approves
it with the electronic signature, and the page shows it in force with the manifestation."""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.bench import PASSWORDS_ALL, Bench
from tests.e2e.conftest import Lab


def test_an_administrator_drafts_a_version_and_qa_approves_it_with_the_signature(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    administrator, qa = open_bench(), open_bench()
    # given: the administrator on the specifications page, v1 in force for CD133
    administrator.sign_in("admin")
    administrator.page.get_by_role("navigation").get_by_role(
        "link", name="Specifications", exact=True).click()
    page = administrator.page
    assert "CD133 arm: version 1 in force" in page.locator("#arm-CD133").inner_text()
    # when: the viability minimum is raised to 80 % with a reason, and the draft saved
    page.get_by_label("Viability (7-AAD): minimum").first.fill("80")
    page.locator("#draft-reason-CD133").fill("tightened after the validation runs")
    with page.expect_navigation():
        page.locator("#draft-reason-CD133").press("Enter")
    # then: it is a draft, with the changed limit marked, and v1 still in force
    assert "CD133 v2 drafted" in administrator.flash()
    draft = page.locator("#spec-CD133-v2")
    assert "draft: awaiting QA approval" in draft.inner_text()
    changed = draft.locator("tr.changed")
    assert changed.count() == 1 and "80.0 %" in changed.inner_text()
    assert "70.0 %" in changed.inner_text()
    assert "version 1 in force" in page.locator("#arm-CD133").inner_text()
    # when: QA signs the approval with user name and password
    qa.sign_in("qa1")
    qa.page.goto(f"{lab.url}/specifications")
    form = qa.page.locator("#spec-CD133-v2 form.sign")
    form.get_by_label("User name").fill("qa1")
    form.get_by_label("Password").fill(PASSWORDS_ALL["qa1"])
    with qa.page.expect_navigation():
        form.get_by_role("button", name="Sign the approval").click()
    # then: v2 is in force, with the signature's printed name, time and meaning
    assert "CD133 v2 approved: signed by" in qa.flash() and '"Approved"' in qa.flash()
    arm = qa.page.locator("#arm-CD133")
    assert "CD133 arm: version 2 in force" in arm.inner_text()
    v2 = qa.page.locator("#spec-CD133-v2")
    assert "in force" in v2.locator(".spec-standing").inner_text()
    manifestation = v2.locator(".manifestation").inner_text()
    assert 'meaning: "Approved"' in manifestation and "system" not in manifestation
    qa.shot("specifications-approved")
