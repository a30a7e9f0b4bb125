"""Web pages over HTTP speak the lab's words: printed names, not user names; states, labels,
containers and refusals in words, not codes; cell numbers with a real superscript."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlmodel import Session, select

from lims.models import User
from lims.services.common import utcnow
from lims.services.qc import record_qc_result
from tests.api.web_client import browser
from tests.factories import make_product, qc_sample_of, scan_of

# A code as the database keeps it: lowercase words joined by underscores.
CODE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")


def visible_text(page: str) -> str:
    """What a person reads: the page without tags, attributes, scripts or form values."""
    body = re.sub(r"<(script|style|form)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r"<code\b.*?</code>", " ", body, flags=re.S)  # scanned data, shown as typed
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def people(session: Session) -> list[User]:
    users = list(session.exec(select(User)))
    session.commit()
    return users


def test_the_product_page_names_people_by_printed_name_and_states_in_words(api_engine, lab):
    # given: a CD133 product formulated (several operators and witnesses) and QC'd
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="formulated",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, _ = browser(api_engine, "qa1")

    # when
    page = client.get(f"/products/{product.din}")

    # then: no user name and no code in what a person reads; printed names and words instead
    assert page.status_code == 200
    text = visible_text(page.text)
    users = people(session)
    for user in users:
        found = re.search(rf"\b{re.escape(user.username)}\b", text)
        assert found is None, text[max(0, found.start() - 200):found.end() + 100]
    assert any(u.full_name in text for u in users if u.role == "technician")
    codes = sorted({m.group() for m in CODE.finditer(text)})
    assert codes == [], "\n".join(f"{c}: " + text[text.index(c) - 80:text.index(c) + 40]
                                   for c in codes)
    assert "Formulated" in text
    assert "in use" in text or "used in the next step" in text


def test_figures_on_the_product_page_carry_a_real_superscript(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="formulated",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, _ = browser(api_engine, "qa1")

    page = client.get(f"/products/{product.din}").text

    assert "× 10<sup>6</sup> cells" in page
    assert "10^" not in page and "e+0" not in page
    assert "MNC yield (MNC out / nucleated cells in)" in page


def test_a_wrong_scan_is_refused_in_words_not_its_code(api_engine, lab):
    # given: two collected products; the other one's bag is scanned at receipt
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="collected",
                              t0=utcnow() - timedelta(hours=7))
    other, _ = make_product(run, arm="BM-MNC", until="collected",
                            t0=utcnow() - timedelta(hours=7))
    wrong = scan_of(session, other, "marrow_bag", "in_use")
    session.commit()
    client, token = browser(api_engine, "tech1")

    # when
    page = client.post(f"/products/{product.din}/steps/receive",
                       data={"csrf_token": token, "action": "check", "scan": wrong})

    # then
    assert page.status_code == 409
    text = visible_text(page.text)
    assert "coi_wrong_patient" not in text and "Code" not in text
    assert "What was scanned belongs to another patient" in text
    assert CODE.findall(text) == []


def test_the_worklist_qc_and_review_pages_show_no_codes_or_user_names(api_engine, lab):
    # given: a product awaiting release
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, _ = browser(api_engine, "qa1")
    users = people(session)

    for path in ("/", f"/products/{product.din}/qc", f"/qa/{product.din}", "/qa", "/trends"):
        # when
        page = client.get(path)

        # then
        assert page.status_code == 200, path
        text = visible_text(page.text)
        codes = sorted({m.group() for m in CODE.finditer(text)})
        assert codes == [], (path, [text[text.index(c) - 80:text.index(c) + 40] for c in codes])
        for user in users:
            assert not re.search(rf"\b{re.escape(user.username)}\b", text), (path, user.username)


def test_the_review_page_names_missing_qc_tests_by_their_names(api_engine, lab):
    # given: a formulated product without any QC result
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="formulated",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, _ = browser(api_engine, "qa1")

    # when
    page = client.get(f"/qa/{product.din}")

    # then: the tests by the names the lab gives them, no code and no user name
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "missing QC results: Viability (7-AAD), Viable dose, CD133+ purity, Gram stain" in text
    assert "viable_dose" not in text and "gram_stain" not in text
    assert CODE.findall(text) == []
    for user in people(session):
        assert not re.search(rf"\b{re.escape(user.username)}\b", text), user.username


def test_the_audit_page_names_records_states_and_people_in_words(api_engine, lab):
    # given: a product taken through its steps (step records, containers, labels, states)
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="formulated",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, _ = browser(api_engine, "qa1")

    # when
    page = client.get("/audit", params={"din": product.din})

    # then: "RBC sedimentation record", not "step record 12"; states and values in words
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "RBC sedimentation record" in text and not re.search(r"step.record \d", text)
    assert "Received in the lab" in text
    codes = sorted({m.group() for m in CODE.finditer(text)})
    assert codes == [], [text[text.index(c) - 80:text.index(c) + 40] for c in codes]
    for user in people(session):
        found = re.search(rf"\b{re.escape(user.username)}\b", text)
        assert found is None, text[max(0, found.start() - 120):found.end() + 60]


def test_the_notifications_page_and_the_review_of_an_alert_show_no_codes_or_user_names(
        api_engine, lab):
    # given: a released product whose sterility culture grows (QA and physicians are told)
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=7))
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="sterility",
                     value="growth", reason="culture read on day 3",
                     **qc_sample_of(session, product.din, "sterility"))
    session.commit()
    client, _ = browser(api_engine, "qa1")
    users = people(session)

    for path in ("/notifications", f"/qa/{product.din}"):
        # when
        page = client.get(path)

        # then
        assert page.status_code == 200, path
        # (an e-mail address is shown as it is: the demo's begin with the user name)
        text = re.sub(r"\S+@\S+", " ", visible_text(page.text))
        assert "Sterility culture" in text, path
        codes = sorted({m.group() for m in CODE.finditer(text)})
        assert codes == [], (path, [text[text.index(c) - 80:text.index(c) + 40] for c in codes])
        for user in users:
            assert not re.search(rf"\b{re.escape(user.username)}\b", text), (path, user.username)
