"""Issue 15: a physician opens an overdue follow-up visit from the worklist, records it with
the laboratory values and the bedside grades, and sees MELD computed and charted from
baseline, then corrects a value on the page and sees the scores follow; QA, blinded to the
arm by the protocol, reads the same patient without the arm and the outcome table pooled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlmodel import Session, col, select

from lims.db import make_engine
from lims.demo import DemoRun
from lims.models import FollowUpVisit
from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab
from tests.factories import make_product, set_protocol_parameter

DAYS_AGO = 60


def administered_long_ago(lab: Lab) -> tuple[str, int]:
    """A BM-MNC patient given a product today through the services, the follow-up schedule
    then moved back as if that had been DAYS_AGO days ago (the server's clock stays); QA
    blinded to the arm. The subject ID and the week-1 visit's id."""
    engine = make_engine(lab.database_url)
    with Session(engine, expire_on_commit=False) as session:
        _product, patient = make_product(DemoRun(session, say=lambda _m: None), arm="BM-MNC",
                                         until="administered")
        subject_id = patient.subject_id
        visits = list(session.exec(select(FollowUpVisit).where(
            FollowUpVisit.patient_id == patient.id).order_by(col(FollowUpVisit.due_on))))
        for visit in visits:
            visit.due_on -= timedelta(days=DAYS_AGO)
            session.add(visit)
        session.commit()
        set_protocol_parameter(session, "arm_blinded_roles", "qa")
        first = visits[0].id
    engine.dispose()
    assert first is not None
    return subject_id, first


def test_a_physician_records_a_visit_and_a_blinded_reader_sees_no_arm(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    subject_id, week1 = administered_long_ago(lab)
    doctor = open_bench()
    doctor.sign_in("doc1")
    page = doctor.page
    # given: the worklist lists the patient's overdue visits
    overdue = page.locator("section.overdue-visits")
    assert overdue.count() == 1
    assert subject_id in overdue.inner_text() and "Week 1 visit" in overdue.inner_text()
    # when: the physician opens the week-1 visit and records it with the lab's values
    with page.expect_navigation():
        page.locator(f'a[href="/patients/{subject_id}/follow-up/visits/{week1}"]').click()
    assert page.locator("h1").inner_text() == f"Week 1 visit of {subject_id}"
    due = page.locator("p.lead").inner_text().split("Due ")[1][:10]
    page.fill("#at", f"{due} 09:30")
    page.fill("#v_bilirubin", "2.5")
    page.fill("#v_inr", "1.6")
    page.fill("#v_creatinine", "106.08")
    page.select_option("#u_creatinine", "µmol/L")
    page.fill("#v_albumin", "3.0")
    page.fill("#v_sodium", "131")
    page.select_option("#ascites", "mild")
    page.select_option("#encephalopathy", "none")
    page.select_option("#dialysis", "no")
    doctor.shot("follow-up-visit-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Record the visit").click()
    # then: the follow-up page, MELD computed for the visit and drawn on the chart
    assert page.locator("h1").inner_text() == f"Follow-up of {subject_id}"
    assert "visit W1, 5 laboratory values, the grades" in doctor.flash()
    row = page.locator(f"#visit-{week1}")
    assert row.locator(".score-meld").inner_text().strip() == "17"
    assert row.locator(".score-meld-na").inner_text().strip() == "22"
    assert row.locator(".score-child-pugh").inner_text().strip() == "8 (class B)"
    assert "done" in row.locator(".visit-status").inner_text()
    meld_chart = page.locator("#c-meld").locator("xpath=..").locator("svg")
    assert meld_chart.locator("circle.point").count() == 1
    assert "17 points" in (meld_chart.locator("circle.point title").text_content() or "")
    # and: the lab's report said 3.5, not 2.5: the physician corrects the value on the
    # page, with the reason, and the visit's scores are computed again from the new one
    bilirubin = page.locator("#lab-values tbody tr", has_text="Total bilirubin")
    assert bilirubin.count() == 1
    bilirubin.locator('input[name="value"]').fill("3.5")
    bilirubin.locator('input[name="reason"]').fill("Typo: the report says 3.5")
    with page.expect_navigation():
        bilirubin.get_by_role("button", name="Correct").click()
    assert "Total bilirubin 2.5 mg/dL → 3.5 mg/dL" in doctor.flash()
    rows = page.locator("#lab-values tbody tr", has_text="Total bilirubin")
    assert rows.count() == 2
    assert "superseded (corrected)" in rows.nth(0).inner_text()
    assert "Typo: the report says 3.5" in rows.nth(1).inner_text()
    row = page.locator(f"#visit-{week1}")
    assert row.locator(".score-meld").inner_text().strip() == "18"
    assert row.locator(".score-child-pugh").inner_text().strip() == "9 (class B)"
    doctor.shot("follow-up-lab-value-corrected")
    assert page.locator("#arm").inner_text() == "BM-MNC"  # the physician is not blinded
    doctor.shot("follow-up-timeline")
    doctor.sign_out()
    # and: QA, blinded by the protocol, reads the patient and the outcomes without the arm
    qa = open_bench()
    qa.sign_in("qa1")
    qa.page.goto(f"{lab.url}/patients/{subject_id}/follow-up")
    assert qa.page.locator("#arm").inner_text() == "arm hidden (blinded)"
    main = qa.page.locator("main").inner_text()
    assert "BM-MNC" not in main and "CD133" not in main
    assert qa.page.get_by_role("link", name="Record visit").count() == 0
    with qa.page.expect_navigation():
        qa.page.get_by_role("link", name="Outcomes").click()
    outcomes = qa.page.locator("main").inner_text()
    assert "both arms pooled" in outcomes and "BM-MNC" not in outcomes
    qa.shot("outcomes-blinded")
