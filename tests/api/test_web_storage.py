"""Storage pages over HTTP (issue 16): the supervisor builds the locations tree, a technician
scans a container and then a position (post/redirect/get to the box map), the product page
and the batch record show the storage history."""

from __future__ import annotations

import re
from io import BytesIO

from pypdf import PdfReader

from lims.services.queries import container_scan_text
from tests.api.conftest import product_in
from tests.api.test_lot_release_api import admin_browser, row_of
from tests.api.web_client import browser
from tests.factories import container_of

TREE = [
    {"kind": "site", "name": "Hospital", "code": "SITE1"},
    {"kind": "room", "name": "Cell lab", "code": "ROOM1", "parent_code": "SITE1"},
    {"kind": "freezer", "name": "Freezer minus 80", "code": "FRZ1", "parent_code": "ROOM1",
     "temperature_min_c": "-90", "temperature_max_c": "-60"},
    {"kind": "rack", "name": "Rack 1", "code": "RACK1", "parent_code": "FRZ1"},
    {"kind": "box", "name": "Box 1", "code": "BOX1", "parent_code": "RACK1", "rows": "3",
     "columns": "3"},
]


def build(api_engine) -> None:
    client, token = browser(api_engine, "super1")
    for form in TREE:
        done = client.post("/admin/storage", data={"csrf_token": token, **form})
        assert done.status_code == 303, done.text[:2000]
    page = client.get("/admin/storage").text
    assert re.search(r'data-code="BOX1".*?-90 to -60 °C', page, re.S)
    assert re.search(r'data-code="BOX1".*?0 of 9', page, re.S)


def test_the_locations_page_refuses_in_words_and_keeps_what_was_typed(api, api_engine):
    build(api_engine)
    client, token = browser(api_engine, "super1")
    refused = client.post("/admin/storage", data={
        "csrf_token": token, "kind": "position", "name": "P", "code": "P1",
        "parent_code": "BOX1"})
    assert refused.status_code == 422
    assert "positions come with their box" in refused.text and 'value="P1"' in refused.text
    technician, _ = browser(api_engine, "tech1")
    assert technician.get("/admin/storage").status_code == 403
    admin, _ = admin_browser(api_engine)
    assert admin.get("/admin/storage").status_code == 200
    assert admin.get("/storage").status_code == 403  # master data, not the products


def test_scan_in_then_see_it_on_the_box_map_the_product_page_and_the_batch_record(api,
                                                                                   api_engine):
    build(api_engine)
    product = product_in(api, "formulated")
    negative = container_scan_text(product, container_of(api.session, product,
                                                         "cd133_negative"))
    api.session.commit()  # the test's read ends: SQLite has one writer at a time
    client, token = browser(api_engine, "tech1")
    assert 'id="container_scan"' in client.get("/storage").text
    # the container's scan alone (Enter after the scan): checked, the cursor on the position
    first = client.post("/storage/store", data={"csrf_token": token,
                                                "container_scan": negative})
    assert first.status_code == 200
    assert "CD133 negative fraction of DIN" in first.text
    assert re.search(r'id="position_scan"[^>]*autofocus', first.text)
    stored = client.post("/storage/store", data={"csrf_token": token,
                                                 "container_scan": negative,
                                                 "position_scan": "box1-c3"})
    assert stored.status_code == 303 and stored.headers["location"].startswith(
        "/storage/boxes/BOX1")
    box = client.get(stored.headers["location"]).text
    assert "Stored in position C3 of Box 1" in box and 'data-scan-result="ok"' in box
    assert re.search(rf'data-position="C3" data-din="{product.din}"', box)
    # the product page and the batch record show where it is
    page = client.get(f"/products/{product.din}").text
    assert re.search(r'id="storage".*?Rack 1 › Box 1 › C3.*?still stored', page, re.S)
    pdf = client.get(f"/products/{product.din}/batch-record.pdf")
    assert pdf.status_code == 200
    text = " ".join(" ".join((p.extract_text() or "").split())
                    for p in PdfReader(BytesIO(pdf.content)).pages)
    assert "Storage (1)" in text and "still stored" in text
    # out again for testing
    out = client.post("/storage/remove", data={"csrf_token": token, "container_scan": negative,
                                               "reason": "testing", "note": "flow re-check"})
    assert out.status_code == 303
    assert "taken out for testing" in client.get(out.headers["location"]).text
    page = client.get(f"/products/{product.din}").text
    assert "testing: flow re-check" in page


def test_the_locations_page_takes_a_freezer_out_of_use_and_back_with_a_reason(api, api_engine):
    build(api_engine)
    client, token = browser(api_engine, "super1")

    # no reason: refused in words, nothing changes
    refused = client.post("/admin/storage/in-use/deactivate", data={
        "csrf_token": token, "code": "FRZ1", "reason": ""})
    assert refused.status_code == 422 and "say why" in refused.text
    assert 'value="FRZ1"' not in refused.text.split('id="new-location"')[1]  # create form
    # no CSRF token: refused before anything is read
    assert client.post("/admin/storage/in-use/deactivate", data={
        "code": "FRZ1", "reason": "Broken"}).status_code == 403

    done = client.post("/admin/storage/in-use/deactivate", data={
        "csrf_token": token, "code": "FRZ1", "reason": "Compressor failed"})
    assert done.status_code == 303, done.text[:2000]
    page = client.get(done.headers["location"]).text
    assert "is now out of use, with everything under it" in page
    for code in ("FRZ1", "RACK1", "BOX1"):
        row = row_of(page, code)
        assert 'class="inactive"' in row and "out of use" in row
        assert 'action="/admin/storage/in-use/reactivate"' in row
    assert 'class="inactive"' not in row_of(page, "ROOM1")
    # the store page offers no box out of use
    technician, _ = browser(api_engine, "tech1")
    assert "BOX1" not in technician.get("/storage").text

    back = client.post("/admin/storage/in-use/reactivate", data={
        "csrf_token": token, "code": "RACK1", "reason": "Repaired"})
    assert back.status_code == 422
    assert "which is out of use: put that back in use first" in back.text
    assert client.post("/admin/storage/in-use/reactivate", data={
        "csrf_token": token, "code": "FRZ1", "reason": "Repaired"}).status_code == 303
    assert 'class="inactive"' not in row_of(client.get("/admin/storage").text, "FRZ1")
