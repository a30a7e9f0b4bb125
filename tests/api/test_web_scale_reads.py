"""The reads people wait for, at scale (issue 14): the worklist asks for every listed
product's pending labels in one go and pages long groups; the QA queue counts each
product's exceptions as its review does, loads the clocks of its own products only, and
pages."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import event

from lims.models import Product
from lims.services.common import utcnow
from lims.services.labels import pending_labels, pending_labels_many, print_label
from lims.services.review import qa_queue, qa_queue_size, review_summary
from lims.web.routes import home, qa
from tests.api.web_client import browser
from tests.factories import container_of, make_patient, make_product, schedule
from workflows.isbt128 import parse_din

DIN_TEXT = re.compile(r'<span class="din-text">([^<]+)</span>')


def _shown(product: Product) -> str:
    return parse_din(product.din).eye_readable()


def test_pending_labels_of_many_products_are_each_products_own(api_engine, lab):
    # given: products at several states, one with a label not yet scanned back, one
    # reprinted, one administered (needs no label)
    session, run = lab
    planned = schedule(run, make_patient(run, "BM-MNC"), utcnow())
    received, _ = make_product(run, arm="CD133", until="received")
    formulated, _ = make_product(run, arm="BM-MNC", until="formulated")
    bag = container_of(session, received, "marrow_bag")
    print_label(session, actor=run.user("tech1"), din=received.din, container_id=bag.id or 0,
                reason="label smudged", kind="harvest")
    done, _ = make_product(run, arm="BM-MNC", until="administered")
    session.commit()
    products = [planned, received, formulated, done]

    # when: asked for all at once
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("SELECT"):  # not the transaction's BEGIN
            statements.append(statement)

    event.listen(api_engine, "before_cursor_execute", count)
    try:
        many = pending_labels_many(session, [p.id or 0 for p in products])
    finally:
        event.remove(api_engine, "before_cursor_execute", count)

    # then: the same as each product's own, in a few statements whatever their number
    for product in products:
        own = [(p.container.id, p.kind, p.printed) for p in pending_labels(session, product.din)]
        assert [(p.container.id, p.kind, p.printed)
                for p in many.get(product.id or 0, [])] == own
    assert many.get(received.id or 0)  # its reprint is not scanned back yet
    assert done.id not in many
    assert len(statements) <= 6
    assert pending_labels_many(session, []) == {}


def test_the_worklist_shows_the_first_rows_of_a_long_group_and_links_to_the_rest(
        api_engine, lab, monkeypatch):
    # given: three products waiting for the harvest, one received; groups of two rows
    session, run = lab
    planned = [schedule(run, make_patient(run, "BM-MNC"), utcnow() - timedelta(minutes=i))
               for i in range(3)]
    received, _ = make_product(run, arm="CD133", until="received")
    session.commit()
    monkeypatch.setattr(home, "GROUP_ROWS", 2)
    monkeypatch.setattr(home, "FLAT_ROWS", 2)
    client, _ = browser(api_engine, "tech1")

    # when: the worklist by step
    page = client.get("/").text

    # then: two of the three scheduled shown, the count says three, a link shows them all
    assert DIN_TEXT.findall(page) == [_shown(p) for p in planned[:2]] + [_shown(received)]
    assert '<h2 id="g-scheduled">Harvest (operating room) <span class="count">3</span>' in page
    assert 'href="/?state=scheduled">Show all 3 waiting for this step</a>' in page
    assert "Show all" not in page.split('id="g-received"')[1]
    # and that link lists every one of them
    assert DIN_TEXT.findall(client.get("/?state=scheduled").text) == [_shown(p) for p in planned]
    # a list in one order: the first rows, then more
    flat = client.get("/?sort=din").text
    assert len(DIN_TEXT.findall(flat)) == 2 and "(2 of 4 shown)" in flat
    assert 'href="/?sort=din&amp;limit=4">Show more</a>' in flat
    assert len(DIN_TEXT.findall(client.get("/?sort=din&limit=4").text)) == 4


def test_the_qa_queue_counts_the_exceptions_its_review_shows_and_pages(
        api_engine, lab, monkeypatch):
    # given: two products awaiting release, one with a reprinted label (an exception)
    session, run = lab
    first, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    second, _ = make_product(run, arm="CD133", until="awaiting_release")
    final = container_of(session, second, "final_product")
    print_label(session, actor=run.user("tech1"), din=second.din, container_id=final.id or 0,
                reason="label torn")
    session.commit()

    # when / then: the queue's count is the review's, exception for exception
    items = {item.din: item for item in qa_queue(session)}
    for product in (first, second):
        assert items[product.din].exceptions == len(
            review_summary(session, product.din).exceptions)
    assert items[second.din].exceptions == items[first.din].exceptions + 1
    assert qa_queue_size(session) == 2
    assert [i.din for i in qa_queue(session, limit=1)] == [first.din]
    first_din, second_din = first.din, second.din
    session.rollback()  # end the reads: SQLite holds its write lock from BEGIN on

    # and the page shows the first rows, with their clocks, and a link to more
    monkeypatch.setattr(qa, "QUEUE_ROWS", 1)
    client, _ = browser(api_engine, "qa1")
    page = client.get("/qa").text
    assert f"Review {first_din}" in page and f"Review {second_din}" not in page
    assert "(1 of the 2 products awaiting a decision shown)" in page
    assert "set at harvest" not in page and "expiry-none" not in page  # its clock is read
    assert 'href="/qa?limit=2">Show more</a>' in page
    full = client.get("/qa?limit=2").text
    assert f"Review {second_din}" in full and "Show more" not in full
    fewer = client.get("/qa?limit=5").text  # fewer than asked for: all, without a count
    assert f"Review {first_din}" in fewer and f"Review {second_din}" in fewer
    assert "Show more" not in fewer and "expiry-none" not in fewer
