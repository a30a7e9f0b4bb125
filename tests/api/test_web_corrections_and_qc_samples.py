"""The web pages of complete records over HTTP (no browser): a step corrected from the
product page with its reason, and QC results entered with method, instrument and sample."""

from __future__ import annotations

from sqlmodel import col, select

from lims.models import QcResult, StepRecord
from tests.api.web_client import browser, save_qc
from tests.factories import make_product


def form_of(html: str) -> dict[str, str]:
    """The values a correction form shows (inputs and selected options)."""
    import re

    values = {name: value for name, value in re.findall(
        r'<input id="v_(\w+)" name="v_\w+" value="([^"]*)"', html)}
    for name, block in re.findall(r'<select id="v_(\w+)".*?>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', block)
        values[name] = chosen.group(1) if chosen else ""
    return values


def test_a_step_is_corrected_from_its_product_page_with_a_reason(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    session.commit()
    client, token = browser(api_engine, "tech1")
    page = client.get(f"/products/{product.din}")
    assert f"/products/{product.din}/steps/sediment/correct" in page.text
    form = client.get(f"/products/{product.din}/steps/sediment/correct")
    assert form.status_code == 200
    values = {f"v_{k}": v for k, v in form_of(form.text).items()}
    assert values["v_wbc_out_per_ul"] == "41000"

    without_reason = client.post(f"/products/{product.din}/steps/sediment/correct", data={
        **values, "v_wbc_out_per_ul": "40500", "csrf_token": token, "reason": ""})
    assert without_reason.status_code == 422 and "needs a reason" in without_reason.text

    saved = client.post(f"/products/{product.din}/steps/sediment/correct", data={
        **values, "v_wbc_out_per_ul": "40500", "csrf_token": token,
        "reason": "analyser print-out re-read"})
    assert saved.status_code == 303, saved.text[:500]
    session.commit()
    records = session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id, StepRecord.step == "sediment")
        .order_by(col(StepRecord.id))).all()
    assert [(r.superseded, r.values["wbc_out_per_ul"]) for r in records] == [
        (True, 41000.0), (False, 40500.0)]
    # only the changed value was corrected: the times typed back as shown did not change
    assert {k for k in records[1].values if records[1].values[k] != records[0].values[k]} == {
        "wbc_out_per_ul"}


def test_a_doctor_cannot_correct_the_lab_s_step(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    session.commit()
    client, _ = browser(api_engine, "doc1")
    assert client.get(f"/products/{product.din}/steps/sediment/correct").status_code == 403


def test_qc_results_are_entered_on_the_page_with_method_instrument_and_sample(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="formulated")
    session.commit()
    client, token = browser(api_engine, "tech2")
    page = client.get(f"/products/{product.din}/qc")
    assert 'id="method_viability"' in page.text and 'id="sample_drawn_at"' in page.text

    missing = client.post(f"/products/{product.din}/qc", data={
        "csrf_token": token, "qc_viability": "96"})
    assert missing.status_code == 422 and "sample" in missing.text

    saved = save_qc(client, product.din, {
        "csrf_token": token, "qc_viability": "96", "method_viability": "7-AAD flow cytometry",
        "instrument_viability": "FC-01", "volume_viability": "0.2", "sample_drawn_at": "now"})
    assert saved.status_code == 303, saved.text[:500]
    session.commit()
    row = session.exec(select(QcResult).where(QcResult.product_id == product.id)).one()
    assert (row.method, row.instrument, row.sample_volume_ml) == (
        "7-AAD flow cytometry", "FC-01", 0.2)
    session.commit()  # the read ends before the app writes (SQLite)
    shown = client.get(f"/products/{product.din}").text
    assert "7-AAD flow cytometry (FC-01)" in shown
