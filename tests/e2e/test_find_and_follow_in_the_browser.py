"""Finding and following products in the browser (issue 13): the Find box on every page
(subject ID, MRN, name, DIN typed or scanned), a product's timeline, the worklist's order,
filter and refresh, the scan result in words and sound, the QC trends on a time axis, and
every main page at 800 px (a bench tablet) and 1280 px without sideways scrolling.
axe-core finds no accessibility violation on the pages built here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session, col, select

from lims.db import make_engine
from lims.models import Patient, Product
from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab
from tests.e2e.setup_lab import Made, bag_scan_of, product_made
from workflows.isbt128 import encode_din, parse_din

WIDTHS = (800, 1280)


@dataclass(frozen=True)
class Known:
    """A product of the lab as the search should find it."""

    din: str
    subject_id: str
    mrn: str
    name: str


def known(database_url: str, subject_id: str) -> Known:
    engine = make_engine(database_url)
    with Session(engine) as session:
        product, patient = session.exec(select(Product, Patient).join(
            Patient, col(Patient.id) == col(Product.patient_id)).where(
            Patient.subject_id == subject_id)).one()
        found = Known(product.din, patient.subject_id, patient.mrn, patient.name)
    engine.dispose()
    return found


def din_in_state(database_url: str, state: str) -> str:
    engine = make_engine(database_url)
    with Session(engine) as session:
        product = session.exec(select(Product).where(Product.state == state)
                               .order_by(col(Product.id))).first()
        assert product is not None, state
        din = product.din
    engine.dispose()
    return din


def no_violations(page: Any) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (page.url, widths)


@pytest.fixture(scope="module")
def released(lab: Lab) -> Made:
    """A BM-MNC product taken through every step and released, its labels scanned back."""
    return product_made(lab.database_url, "released")


def find(bench: Bench, text: str) -> list[str]:
    """Type (or scan) into the Find box of the page's header; the DINs listed."""
    field = bench.page.locator("#search-anywhere")
    field.fill("")
    field.focus()
    bench.page.keyboard.type(text)
    with bench.page.expect_navigation():
        bench.page.keyboard.press("Enter")
    return [row.inner_text().replace(" ", "").replace("\n", "")[:13]
            for row in bench.page.locator("table.found tbody td:first-child").all()]


def test_the_find_box_finds_a_product_by_each_of_its_keys(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    # given: the other patient's scheduled product, and QA at the worklist
    other = known(lab.database_url, lab.other_subject_id)
    din = parse_din(other.din)
    bench = open_bench()
    bench.sign_in("qa1")

    # when / then: each key finds it from the header of any page
    assert find(bench, other.subject_id.lower()) == [other.din]
    assert find(bench, other.mrn) == [other.din]
    assert other.din in find(bench, other.name.lower()[:8])  # "demo pat": partial, any case
    assert find(bench, f"{other.din}{din.check}") == [other.din]
    assert find(bench, encode_din(din)) == [other.din]  # the DIN barcode, scanned
    assert "(scanned label)" in bench.page.locator(".result-count").inner_text()
    assert other.name in bench.page.locator("table.found").inner_text()
    no_violations(bench.page)
    bench.shot("search")
    # the product opens from the result
    with bench.page.expect_navigation():
        bench.page.locator("table.found tbody a").first.click()
    assert bench.page.url.endswith(f"/products/{other.din}")

    # a technician finds it by subject ID and DIN, and sees no patient name
    tech = open_bench()
    tech.sign_in("tech1")
    assert find(tech, other.subject_id) == [other.din]
    assert other.name not in tech.page.locator("main").inner_text()


def test_the_timeline_shows_steps_labels_and_signatures_in_time_order(
        open_bench: Callable[[], Bench], lab: Lab, released: Made) -> None:
    # given: QA on the released product's page
    bench = open_bench()
    bench.sign_in("qa1")
    bench.page.goto(f"{lab.url}/products/{released.din}")
    no_violations(bench.page)

    # when: the timeline is opened from it
    with bench.page.expect_navigation():
        bench.page.get_by_role("link", name="Timeline").click()

    # then: one list, oldest first, with steps (who, witness), labels and signatures
    rows = bench.page.locator("table.timeline tbody tr")
    moments = rows.evaluate_all(
        "rows => rows.map(r => [r.dataset.kind, r.dataset.at, r.innerText])")
    times = [at for _, at, _ in moments]
    assert times == sorted(times)
    kinds = [kind for kind, _, _ in moments]
    for kind in ("step", "label", "qc", "signature", "state"):
        assert kind in kinds, kind
    text = bench.page.locator("table.timeline").inner_text()
    for words in ("Bone-marrow harvest", "Ficoll-Paque MNC isolation", "witness",
                  "Label printed", "Label scanned back", "Signed: Released", "Released"):
        assert words in text, words
    assert text.index("Bone-marrow harvest") < text.index("Final formulation") < text.index(
        "Signed: Released")
    no_violations(bench.page)
    bench.shot("timeline")


def listed(bench: Bench) -> list[str]:
    return bench.page.locator("table.worklist .din-text").all_inner_texts()


def test_the_worklist_sorts_filters_and_refreshes_itself_unless_a_scan_is_typed(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    bench = open_bench()
    page = bench.page
    page.clock.install()
    bench.sign_in("tech1")
    assert page.locator("#worklist-updated").inner_text().startswith("Updated ")
    no_violations(page)

    # when: the list is ordered by DIN with the form (no script needed: a GET)
    page.select_option("#wl-sort", "din")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    # then: one list, by DIN, with what each waits for
    assert "sort=din" in page.url
    assert listed(bench) == sorted(listed(bench)) and len(listed(bench)) >= 2
    assert page.locator("table.worklist-flat th", has_text="Waits for").count() == 1

    # when: filtered to the CD133 products waiting for the QA review
    page.select_option("#wl-state", "awaiting_release")
    page.select_option("#wl-arm", "CD133")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    # then: only those
    waits = page.locator("table.worklist-flat tbody td:nth-child(4)").all_inner_texts()
    assert waits and set(waits) == {"QA review and release"}
    arms = page.locator("table.worklist-flat tbody td:nth-child(3)").all_inner_texts()
    assert set(arms) == {"CD133"}
    page.goto(lab.url + "/")
    no_sideways_scroll(page)

    # when: a minute passes with the Scan box empty
    bench.wait_for_focus("scan-anywhere")
    with page.expect_navigation():
        page.clock.run_for(61_000)
    # then: the list was reloaded, the cursor again in the Scan box
    bench.wait_for_focus("scan-anywhere")

    # when: a scan is half typed and the minute passes
    page.keyboard.type("=X9999")
    page.clock.run_for(75_000)
    # then: no reload took the typed characters away
    assert page.locator("#scan-anywhere").input_value() == "=X9999"


def test_a_scan_is_answered_in_words_and_sound(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    bench = open_bench()
    page = bench.page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    bench.sign_in("tech1")

    # when: the other patient's collection bag is scanned into the Scan box
    bench.scan_anywhere(bag_scan_of(lab.database_url, lab.other_subject_id))

    # then: a green banner in words, the page marked, and scan.js has sounded it
    assert page.locator("body").get_attribute("data-scan-result") == "ok"
    banner = page.locator(".flash.scan-ok")
    assert banner.is_visible() and "Scan accepted." in banner.inner_text()
    page.wait_for_function("document.body.dataset.scanSound !== undefined")
    assert page.evaluate("document.body.dataset.scanSound") in ("played", "waiting", "blocked")
    bench.shot("scan-accepted")

    # when: something unreadable is scanned
    bench.scan_anywhere("=X99992")

    # then: the red refusal in words, the page marked, the refusal sounded
    assert page.locator("body").get_attribute("data-scan-result") == "refused"
    assert page.get_by_role("alert").filter(has_text="SCAN NOT UNDERSTOOD").is_visible()
    page.wait_for_function("document.body.dataset.scanSound !== undefined")
    assert errors == []


def test_the_qc_trends_are_drawn_on_a_dated_axis_with_their_limits(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    bench = open_bench()
    page = bench.page
    bench.sign_in("qa1")
    page.goto(lab.url + "/trends")
    chart = page.locator("svg.chart").first

    # then: dated ticks along the time axis, the limit drawn and labelled
    dates = chart.locator("text.x-tick").evaluate_all("ts => ts.map(t => t.dataset.date)")
    assert len(dates) >= 2 and dates == sorted(dates)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in dates)
    assert chart.locator("line.limit-lower").count() == 1
    assert "lower limit 70" in chart.locator("text.limit-label").text_content()
    assert "harvest date" in chart.locator("text.x-title").text_content()
    # each point's tooltip names its DIN; an out-of-specification one says so in words
    tips = page.locator("svg.chart .point title").all_text_contents()
    assert tips and all(re.match(r"X9999\d{8} · harvest \d{4}-\d\d-\d\d: ", t) for t in tips)
    out = page.locator("svg.chart .out-of-spec title").all_text_contents()
    assert out and all("OUT OF SPECIFICATION" in t for t in out)
    no_violations(page)
    bench.shot("trends")

    # and: the axis text is at least 12 px on screen at both widths
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('svg.chart')]
            .flatMap(svg => [...svg.querySelectorAll('text')].map(t =>
                parseFloat(getComputedStyle(t).fontSize) *
                svg.getBoundingClientRect().width / svg.viewBox.baseVal.width)))""")
        assert smallest >= 12, (width, smallest)
        no_sideways_scroll(page)


def test_the_main_pages_fit_800_and_1280_pixels_without_sideways_scrolling(
        open_bench: Callable[[], Bench], lab: Lab, released: Made) -> None:
    awaiting = din_in_state(lab.database_url, "awaiting_release")  # in the QA queue
    other = known(lab.database_url, lab.other_subject_id).din
    pages = {
        "tech1": ["/", "/?sort=harvest", f"/products/{other}", f"/products/{awaiting}/qc",
                  f"/products/{other}/steps/harvest", f"/search?q={lab.other_subject_id}",
                  f"/products/{released.din}/timeline", "/products?status=completed"],
        "qa1": ["/qa", f"/qa/{awaiting}", "/trends", f"/products/{released.din}"],
    }
    for width in WIDTHS:
        for user, paths in pages.items():
            bench = open_bench()
            bench.page.set_viewport_size({"width": width, "height": 900})
            bench.sign_in(user)
            for path in paths:
                bench.page.goto(lab.url + path)
                no_sideways_scroll(bench.page)
                if path == "/":
                    # the worklist's next link is whole, inside the page and its table
                    for link in bench.page.locator("td.next-cell a").all():
                        box = link.bounding_box()
                        assert box is not None and box["x"] + box["width"] <= width, box
                if width == 800 and path in ("/", f"/products/{awaiting}/qc"):
                    bench.shot("worklist-800" if path == "/" else "qc-800")
