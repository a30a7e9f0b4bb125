"""Over HTTP: label printers registered by the administrator (API and /admin/printers), a
label printed to one (ZPL over raw TCP to a listener this test starts), and the product
page after a print: the label shown printed, the cursor in the scan-back field."""

from __future__ import annotations

import hashlib
import re

from sqlmodel import col, func, select

from lims.audit_actions import AuditAction
from lims.models import PrintJob
from tests.api.conftest import product_in, refusal
from tests.api.test_lot_release_api import admin_browser
from tests.api.web_client import browser
from tests.factories import audit_count, container_of
from tests.integration.test_labels_printing import Listener
from tests.integration.test_printers import closed_port

BAG_PRINTER = {"name": "ZEBRA-LAB1", "location": "Clean room 2", "host": "127.0.0.1",
               "port": 9100, "stock": "100x60mm"}


def prints(api) -> int:
    api.session.commit()
    return api.session.exec(select(func.count()).select_from(PrintJob)).one()


def register(api, **changes: object) -> dict[str, object]:
    created = api.post("/printers", user="admin", json={**BAG_PRINTER, **changes})
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_the_administrator_registers_printers_and_the_lab_reads_them(api):
    body = register(api)
    assert (body["name"], body["stock"], body["active"]) == ("ZEBRA-LAB1", "100x60mm", True)
    listed = api.get("/printers?active=true", user="tech1")
    assert [p["name"] for p in listed.json()] == ["ZEBRA-LAB1"]
    changed = api.request("PATCH", "/printers/ZEBRA-LAB1", user="admin",
                          json={"stock": "50x25mm", "reason": "tube labels loaded"})
    assert changed.status_code == 200 and changed.json()["stock"] == "50x25mm"
    out = api.post("/printers/ZEBRA-LAB1/deactivate", user="admin", json={"reason": "repair"})
    assert out.status_code == 200 and out.json()["active"] is False
    assert api.get("/printers?active=true", user="tech1").json() == []
    assert audit_count(api.session, AuditAction.PRINTER_CHANGED) == 1


def test_no_one_but_the_administrator_registers_a_printer(api):
    for user in ("tech1", "super1", "qa1"):
        assert refusal(api.post("/printers", user=user, json=BAG_PRINTER), 403) == "forbidden"
    assert audit_count(api.session, AuditAction.PRINTER_REGISTERED) == 0


def test_a_printer_with_an_impossible_address_or_stock_is_refused(api):
    for bad in ({"port": 0}, {"port": 70000}, {"stock": "A4"}, {"host": ""}):
        assert refusal(api.post("/printers", user="admin", json={**BAG_PRINTER, **bad}),
                       422) == "invalid_input", bad
    assert refusal(api.post("/printers", user="admin",
                            json={**BAG_PRINTER, "host": "zebra lab"}), 422) == "invalid_input"
    register(api)
    assert refusal(api.post("/printers", user="admin", json=BAG_PRINTER), 409) == \
        "already_exists"


def test_a_label_is_printed_to_a_registered_printer_by_its_id(api):
    zebra = Listener()
    try:
        printer = register(api, port=zebra.port)
        product = product_in(api, "rbc_reduced", "BM-MNC")
        bag = container_of(api.session, product, "rbc_reduced")
        printed = api.post(f"/products/{product.din}/containers/{bag.id}/label", user="tech1",
                           json={"format": "zpl", "printer_id": printer["id"],
                                 "reason": "label smudged"})
        assert printed.status_code == 200, printed.text
        zebra.thread.join(timeout=5)
    finally:
        zebra.close()
    sent = bytes(zebra.received)
    assert sent.startswith(b"^XA") and b"^XZ" in sent and product.din.encode() in sent
    job = api.session.get(PrintJob, int(printed.headers["X-Print-Job"]))
    assert job is not None and (job.printer_id, job.printer) == (printer["id"], "ZEBRA-LAB1")


def test_a_label_for_another_stock_or_an_unreachable_printer_is_refused_unrecorded(api):
    zebra = Listener()
    try:
        register(api, name="ZEBRA-TUBES", port=zebra.port, stock="50x25mm")
        register(api, name="ZEBRA-OFF", port=closed_port())
        product = product_in(api, "rbc_reduced", "BM-MNC")
        bag = container_of(api.session, product, "rbc_reduced")
        before = prints(api)
        url = f"/products/{product.din}/containers/{bag.id}/label"
        wrong = api.post(url, user="tech1", json={"format": "zpl", "printer": "ZEBRA-TUBES",
                                                  "reason": "label smudged"})
        assert refusal(wrong, 409) == "printer_wrong_stock"
        assert "100 × 60 mm" in wrong.json()["detail"]
        off = api.post(url, user="tech1", json={"format": "zpl", "printer": "ZEBRA-OFF",
                                                "reason": "label smudged"})
        assert refusal(off, 502) == "printer_error"
        assert prints(api) == before
    finally:
        zebra.close()
    assert bytes(zebra.received) == b""


# --- the web pages over HTTP -----------------------------------------------------------------

def test_the_printers_page_registers_a_printer_for_the_administrator_only(api, api_engine):
    admin, token = admin_browser(api_engine)
    page = admin.get("/admin/printers")
    assert page.status_code == 200 and "Register a printer" in page.text
    done = admin.post("/admin/printers", data={"csrf_token": token, **BAG_PRINTER,
                                               "port": "9100"})
    assert done.status_code == 303, done.text[:2000]
    assert 'data-name="ZEBRA-LAB1"' in admin.get(done.headers["location"]).text
    bad = admin.post("/admin/printers", data={"csrf_token": token, **BAG_PRINTER,
                                              "name": "ZEBRA-2", "port": "99999"})
    assert bad.status_code == 422 and "1 to 65535" in bad.text
    tech, _ = browser(api_engine, "tech1")
    assert tech.get("/admin/printers").status_code == 403


def autofocused(html: str) -> list[str]:
    return re.findall(r'<(?:input|select|a)\b[^>]*\bid="([^"]+)"[^>]*\bautofocus\b', html)


def test_printing_from_the_product_page_shows_the_label_printed_and_waits_for_its_scan(
        api, api_engine):
    zebra = Listener()
    try:
        register(api, port=zebra.port)
        product = product_in(api, "received", "BM-MNC")
        bag = container_of(api.session, product, "marrow_bag")
        api.session.commit()  # end the read before the app writes (SQLite)
        tech, token = browser(api_engine, "tech1")
        page = tech.get(f"/products/{product.din}").text
        assert 'id="printer-' in page and ">ZEBRA-LAB1 (Clean room 2)" in page
        sent = tech.post(f"/products/{product.din}/containers/{bag.id}/print",
                         data={"csrf_token": token, "printer": "ZEBRA-LAB1", "action": "print",
                               "reason": "label smudged"})
        assert sent.status_code == 303, sent.text[:3000]
        zebra.thread.join(timeout=5)
    finally:
        zebra.close()
    assert product.din.encode() in bytes(zebra.received)
    after = tech.get(sent.headers["location"]).text
    assert "sent to ZEBRA-LAB1" in after and "waiting for its scan-back" in after
    assert autofocused(after) == ["verify-scan"]
    # the printer this person used last comes preselected
    assert re.search(r'<option value="ZEBRA-LAB1" selected>', after)


def test_a_pdf_print_is_recorded_then_offered_as_a_download_of_that_print(api, api_engine):
    product = product_in(api, "received", "BM-MNC")
    bag = container_of(api.session, product, "marrow_bag")
    api.session.commit()  # end the read before the app writes (SQLite)
    tech, token = browser(api_engine, "tech1")
    recorded = tech.post(f"/products/{product.din}/containers/{bag.id}/print",
                         data={"csrf_token": token, "action": "pdf", "reason": "label smudged"})
    assert recorded.status_code == 303, recorded.text[:3000]
    before = prints(api)
    api.session.commit()
    page = tech.get(recorded.headers["location"]).text
    link = re.search(r'href="(/products/[^"]+/print-jobs/(\d+)\.pdf)"', page)
    assert link is not None, page[:3000]
    assert autofocused(page) == ["verify-scan"]
    pdf = tech.get(link.group(1))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    job = api.session.get(PrintJob, int(link.group(2)))
    assert job is not None and job.format == "pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == job.content_hash
    assert prints(api) == before  # the download is no new print
    assert api.session.exec(select(func.count()).select_from(PrintJob).where(
        col(PrintJob.id) > (job.id or 0))).one() == 0
