"""Issue 12: a physician enrols a patient in the browser, answering the eligibility
checklist question by question, and lands on the patient's page; an ineligible answer is
refused with its reason in words and everything typed kept but the password. The pages fit
an 800 px wide window without scrolling sideways."""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.bench import PASSWORDS_ALL, Bench
from tests.e2e.conftest import Lab
from workflows.eligibility import EXCLUSION, INCLUSION

MARKERS = {"HIV": "negative", "HBV": "negative", "HCV": "negative", "syphilis": "negative",
           "HTLV": "negative", "CMV": "reactive", "screening_1271_75": "done",
           "testing_1271_80": "done"}


def fill_in(bench: Bench, subject_id: str, mrn: str, *, sepsis: str = "no") -> None:
    """What the physician types and chooses, every checklist question answered by hand."""
    page = bench.page
    page.fill("#subject_id", subject_id)
    page.fill("#mrn", mrn)
    page.fill("#name", "Parisa Browser")
    page.fill("#date_of_birth", "1968-11-02")
    page.select_option("#sex", "F")
    page.fill("#weight_kg", "61.5")
    page.fill("#consent_date", "2025-01-15")
    page.check("#arm_BM-MNC")
    for key in INCLUSION:
        page.check(f"#c_{key}_yes")
    for key in EXCLUSION:
        page.check(f"#c_{key}_{sepsis if key == 'sepsis' else 'no'}")
    for marker, result in MARKERS.items():
        page.select_option(f"#m_{marker}", result)
    page.select_option("#treating_physician", "doc2")
    page.fill("#checked_by_password", PASSWORDS_ALL["doc1"])


def enrol(bench: Bench) -> None:
    with bench.page.expect_navigation():
        bench.page.get_by_role("button", name="Enrol patient").click()


def fits_800_px(bench: Bench) -> bool:
    bench.page.set_viewport_size({"width": 800, "height": 900})
    try:
        return bool(bench.page.evaluate("document.documentElement.scrollWidth <= 800"))
    finally:
        bench.page.set_viewport_size({"width": 1280, "height": 900})


def test_a_physician_enrols_a_patient_through_the_checklist(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    doctor = open_bench()
    doctor.sign_in("doc1")
    # given: the enrolment form, from the navigation, with no answer given beforehand
    with doctor.page.expect_navigation():
        doctor.page.get_by_role("link", name="Enrol patient").click()
    assert doctor.page.locator("h1").inner_text() == "Enrol a patient"
    assert doctor.page.locator("input[type=radio]:checked").count() == 0
    assert doctor.page.input_value("#checked_by") == "doc1"  # the physician checks
    assert fits_800_px(doctor)
    # when: the physician fills it in and answers every question
    fill_in(doctor, "RYN-701", "7097001")
    doctor.shot("enrolment-form")
    enrol(doctor)
    # then: the patient's page, with the eligibility as recorded and who checked it
    assert doctor.page.locator("h1").inner_text() == "Patient RYN-701"
    assert "RYN-701 enrolled in the BM-MNC arm." in doctor.flash()
    main = doctor.page.locator("main").inner_text()
    assert "Parisa Browser" in main and "7097001" in main and "1968-11-02" in main
    assert "Checked by Dr. Ali Physician" in main
    assert "Dr. Nasrin Physician" in main  # treating physician
    assert "Autologous bone marrow mononuclear cells (Ficoll)" in main
    assert fits_800_px(doctor)
    doctor.shot("enrolment-patient")
    # and: the list of enrolled patients names them, with who enrolled them
    with doctor.page.expect_navigation():
        doctor.page.get_by_role("link", name="Enrolled patients").click()
    row = doctor.page.locator("tr", has=doctor.page.get_by_role("link", name="RYN-701"))
    assert "Parisa Browser" in row.inner_text() and "Dr. Ali Physician" in row.inner_text()
    assert fits_800_px(doctor)


def test_an_ineligible_answer_is_refused_with_its_reason_and_the_typing_kept(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    doctor = open_bench()
    doctor.sign_in("doc1")
    doctor.page.goto(lab.url + "/patients/new")
    # when: the patient has sepsis
    fill_in(doctor, "RYN-702", "7097002", sepsis="yes")
    enrol(doctor)
    # then: refused, with the reason in words
    refusal = doctor.page.locator("#not-eligible").inner_text()
    assert "Not eligible: the patient was not enrolled." in refusal
    assert "Exclusion criterion present: Sepsis" in refusal
    # and: what was typed and answered is still there, the password is not
    page = doctor.page
    assert page.input_value("#subject_id") == "RYN-702"
    assert page.input_value("#name") == "Parisa Browser"
    assert page.input_value("#weight_kg") == "61.5"
    assert page.is_checked("#arm_BM-MNC")
    assert page.input_value("#m_CMV") == "reactive"
    assert page.is_checked("#c_sepsis_yes") and page.is_checked("#c_written_consent_yes")
    assert page.input_value("#checked_by_password") == ""
    assert fits_800_px(doctor)
    doctor.page.set_viewport_size({"width": 800, "height": 900})
    doctor.shot("enrolment-not-eligible")
    doctor.page.set_viewport_size({"width": 1280, "height": 900})
    # when: the answer was a slip, corrected, and the password entered again
    page.check("#c_sepsis_no")
    page.fill("#checked_by_password", PASSWORDS_ALL["doc1"])
    enrol(doctor)
    # then: enrolled
    assert page.locator("h1").inner_text() == "Patient RYN-702"
