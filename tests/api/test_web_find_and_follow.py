"""Finding and following products over HTTP (issue 13): the search by subject ID, MRN,
name and DIN (typed, with its check character, or scanned), the completed products a page
at a time, the worklist's order and filter, a product's timeline, and the page that
answers a scan marked for its sound."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import quote

from lims.models import Product
from lims.services.common import utcnow
from lims.services.search import completed_products, search_products
from tests.api.web_client import browser
from tests.factories import make_patient, make_product, scan_of, schedule, wristband_of
from workflows.isbt128 import encode_din, parse_din

DIN_IN_LINK = re.compile(r'<a href="/products/([A-Z0-9]{13})">')


def text_of(page: str) -> str:
    body = re.sub(r"<(script|style|head)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def found(page: str) -> list[str]:
    """The DINs a results table lists, in its order."""
    return DIN_IN_LINK.findall(page)


def test_the_search_finds_products_by_each_key_and_shows_names_only_to_patient_readers(
        api_engine, lab):
    # given: two patients' products, one scheduled, one received
    session, run = lab
    first, alice = make_product(run, arm="CD133", until="received")
    second, bob = make_product(run, arm="BM-MNC", until="scheduled")
    session.commit()
    qa, _ = browser(api_engine, "qa1")
    tech, _ = browser(api_engine, "tech1")
    din = parse_din(first.din)

    def search(client, query: str) -> str:
        answer = client.get(f"/search?q={quote(query)}")
        assert answer.status_code == 200, answer.text[:500]
        return answer.text

    # when / then: by subject ID, partial and in lower case
    assert found(search(qa, alice.subject_id.lower())) == [first.din]
    assert set(found(search(qa, "ryn-"))) >= {first.din, second.din}
    # by MRN, by part of the name in any case
    assert found(search(qa, alice.mrn)) == [first.din]
    assert found(search(qa, bob.name.upper()[-9:])) == [second.din]
    # by DIN: 13 characters, with the check character, as the label prints it, scanned
    for typed in (first.din, first.din + din.check, f"{din.eye_readable()} {din.check}",
                  first.din.lower(), encode_din(din)):
        page = search(tech, typed)
        assert found(page) == [first.din], typed
    assert "(scanned label)" in text_of(search(tech, encode_din(din)))
    # a container's 2-D code and a wristband, scanned into the search
    bag = scan_of(session, first, "marrow_bag")
    session.commit()  # end the read before the app writes
    assert found(search(tech, bag)) == [first.din]
    assert found(search(tech, wristband_of(bob))) == [second.din]
    # a DIN with a wrong check character is named as such, not searched as text
    wrong = "X" if din.check != "X" else "Y"
    assert "check character" in text_of(search(tech, first.din + wrong))
    # names and MRNs: shown to QA, neither shown to nor searchable by a technician
    assert alice.name in text_of(search(qa, alice.subject_id))
    assert alice.name not in text_of(search(tech, alice.subject_id))
    assert found(search(tech, alice.name)) == [] and found(search(tech, alice.mrn)) == []
    assert "for physicians, supervisors and QA" in text_of(search(tech, alice.name))
    # every staff page carries the Find box
    assert 'action="/search"' in tech.get(f"/products/{first.din}").text


def test_the_search_is_bounded_and_says_to_refine_it(api_engine, lab):
    # given: three scheduled products
    session, run = lab
    dins = [make_product(run, until="scheduled")[0].din for _ in range(3)]
    session.commit()

    # when: at most two are shown
    result = search_products(session, "RYN", role="qa", limit=2)
    session.commit()

    # then: the newest two, and word that there are more
    assert [p.din for p in result.products] == dins[::-1][:2]
    assert result.more
    page = browser(api_engine, "qa1")[0].get("/search?q=%25").text
    assert found(page) == []  # a % matches only itself
    assert "No product matches" in text_of(page)


def test_the_completed_products_are_listed_newest_first_a_page_at_a_time(api_engine, lab):
    # given: two products administered, one still in process
    session, run = lab
    older, _ = make_product(run, arm="BM-MNC", until="administered",
                            t0=utcnow() - timedelta(hours=9))
    newer, _ = make_product(run, arm="BM-MNC", until="administered")
    busy, _ = make_product(run, arm="BM-MNC", until="received")
    session.commit()
    client, _ = browser(api_engine, "super1")

    # when
    page = client.get("/products?status=completed")

    # then: the completed ones, the most recently completed first; not the one in process
    assert page.status_code == 200
    assert found(page.text) == [newer.din, older.din]
    assert busy.din not in page.text
    assert "Administered" in text_of(page.text)
    # a page at a time: page 2 of 1-a-page holds the older one
    second = completed_products(session, role="supervisor", page=2, page_size=1)
    session.commit()
    assert (second.page, second.pages, second.total) == (2, 2, 2)
    assert [p.din for p in second.products] == [older.din]
    assert client.get("/products?status=completed&page=9").status_code == 200  # last page
    assert client.get("/products?status=bogus").status_code == 404


def test_the_worklist_sorts_and_filters_by_its_query_parameters(api_engine, lab):
    # given: a CD133 product harvested 9 h ago, a BM-MNC one 3 h ago, one not harvested
    session, run = lab
    old, _ = make_product(run, arm="CD133", until="received", t0=utcnow() - timedelta(hours=9))
    new, _ = make_product(run, arm="BM-MNC", until="received", t0=utcnow() - timedelta(hours=3))
    planned = schedule(run, make_patient(run, "BM-MNC"), utcnow())
    session.commit()
    client, _ = browser(api_engine, "tech1")

    def listed(query: str) -> list[str]:
        page = client.get(f"/{query}")
        assert page.status_code == 200
        return re.findall(r'<span class="din-text">([^<]+)</span>', page.text)

    def shown(product: Product) -> str:
        return parse_din(product.din).eye_readable()

    # when / then: by default grouped by step, oldest harvest first in each
    assert listed("") == [shown(planned), shown(old), shown(new)]
    # one list, oldest harvest first (not yet harvested last)
    assert listed("?sort=harvest") == [shown(old), shown(new), shown(planned)]
    # by expiry: the soonest first
    assert listed("?sort=due")[:2] == [shown(old), shown(new)]
    # by DIN
    assert listed("?sort=din") == sorted([shown(old), shown(new), shown(planned)])
    # filtered by the step waited for, by arm, and both
    assert listed("?state=received") == [shown(old), shown(new)]
    assert listed("?arm=BM-MNC") == [shown(planned), shown(new)]
    assert listed("?state=received&arm=BM-MNC&sort=harvest") == [shown(new)]
    # an unknown value is no filter
    assert len(listed("?state=bogus&arm=X&sort=nonsense")) == 3
    # the refresh script and the time of the list
    page = client.get("/").text
    assert '<script src="/static/worklist.js" defer></script>' in page
    assert re.search(r"Updated \d\d:\d\d", page)


def test_the_timeline_lists_steps_labels_qc_and_signatures_in_time_order(api_engine, lab):
    # given: a BM-MNC product released by QA (labels printed and scanned back, QC, witness)
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="released")
    session.commit()
    client, _ = browser(api_engine, "qa1")

    # when
    page = client.get(f"/products/{product.din}/timeline")

    # then: one list, ordered by time, in the lab's words
    assert page.status_code == 200
    moments = re.findall(r'data-kind="([a-z]+)" data-at="([^"]+)"', page.text)
    times = [at for _, at in moments]
    assert times == sorted(times)
    kinds = {kind for kind, _ in moments}
    assert {"product", "step", "label", "qc", "signature", "review", "state"} <= kinds
    text = text_of(page.text)
    for words in ("Bone-marrow harvest", "RBC sedimentation", "Final formulation",
                  "Label printed: marrow collection bag", "Label scanned back",
                  "QC result entered: Viability", "Signed: Released", "witness ",
                  "Released"):
        assert words in text, words
    # the harvest step before the sedimentation, the release signature after both
    assert text.index("Bone-marrow harvest") < text.index("RBC sedimentation") < text.index(
        "Signed: Released")
    # the product page links to it; an unknown DIN is not found
    assert f'href="/products/{product.din}/timeline"' in client.get(
        f"/products/{product.din}").text
    assert client.get("/products/X999926999999/timeline").status_code == 404


def test_a_scan_answers_with_a_page_marked_accepted_or_refused(api_engine, lab):
    # given: a received product
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="received")
    code = scan_of(session, product, "marrow_bag", "in_use")
    session.commit()
    client, token = browser(api_engine, "tech1")

    # when: its bag is scanned into the Scan box
    opened = client.post("/scan", data={"csrf_token": token, "code": code})

    # then: the page it opens says the scan was accepted, marked for the sound
    assert opened.status_code == 303
    page = client.get(opened.headers["location"]).text
    assert 'data-scan-result="ok"' in page and "Scan accepted." in page
    assert '<script src="/static/scan.js" defer></script>' in page
    # a link that only claims a scan was accepted is not believed
    forged = client.get(re.sub(r"scanned=[^&]+", "scanned=0000", opened.headers["location"]))
    assert "data-scan-result" not in forged.text
    # when: something unreadable is scanned
    refused = client.post("/scan", data={"csrf_token": token, "code": "=%%%"})
    # then: refused, in words and marked for the two low beeps
    assert refused.status_code >= 400
    assert 'data-scan-result="refused"' in refused.text and "SCAN NOT UNDERSTOOD" in refused.text
    # a page with no scan carries neither the mark nor the script
    plain = client.get("/").text
    assert "data-scan-result" not in plain and "scan.js" not in plain
