"""A CD133 product from harvest to administration, through the web UI only.

Technicians work with a keyboard and a wedge scanner (the scanner types the code and
presses Enter); every label is printed as PDF and the scanner reads its Data Matrix
back. One wrong container is scanned and refused; one label is reprinted with a reason.
QA releases by electronic signature; two physicians do the bedside check. Screenshots
of the key pages go to docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lims import demo_data as data
from lims.demo_data import COUNTED, COUNTED_AND_VIABILITY
from tests.e2e.bench import Bench, clock
from tests.e2e.conftest import Lab
from tests.e2e.setup_lab import bag_scan_of, state_of
from workflows.isbt128 import encode_patient_id

At = Callable[[float], str]


def test_a_cd133_product_goes_from_harvest_to_administration_in_the_browser(
        bench: Bench, lab: Lab) -> None:
    # the harvest began 7 h ago: every bench time up to the enrichment run is in the past
    at = clock(datetime.now(UTC) - timedelta(hours=7))
    bench.sign_in("tech1")
    din, bag = schedule_and_label_the_bag(bench, lab)
    harvest_in_the_operating_room(bench, lab, bag, at)
    bag = relabel_the_bag_with_its_harvest_label(bench, bag)
    receive_in_the_lab_with_the_keyboard_only(bench, bag, at)
    refuse_another_patients_bag_then_sediment(bench, lab, din, bag, at)
    target = isolate_mnc_and_enrich_with_one_reprint(bench, lab, at)
    quarantine = formulate(bench, target, at)
    bench.sign_out()
    enter_qc_and_send_to_qa(bench, lab, din)
    release_by_qa(bench, lab, din)
    issued = issue_to_the_procedure_room(bench, lab, din, quarantine, at)
    administer_at_the_bedside(bench, lab, din, issued, at)
    bench.page.goto(lab.url + "/trends")
    assert bench.page.locator("svg.chart").count() >= 5
    bench.shot("trends")


def schedule_and_label_the_bag(bench: Bench, lab: Lab) -> tuple[str, str]:
    page = bench.page
    # given: the worklist opens with the cursor in the Scan box
    bench.wait_for_focus("scan-anywhere")
    # when: tech1 schedules the patient's harvest
    page.goto(lab.url + "/harvests/new")
    page.select_option("#subject_id", lab.subject_id)
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # on "Schedule harvest"
    # then: a DIN is assigned; the collection bag label is printed and scanned back
    din = page.locator(".product-head .din-text").inner_text().replace(" ", "")
    assert bench.state() == "Scheduled"
    return din, bench.label_and_scan_back("marrow collection bag")


def harvest_in_the_operating_room(bench: Bench, lab: Lab, bag: str, at: At) -> None:
    page = bench.page
    # when: the bag is scanned, the harvest form opens with the bag confirmed
    bench.scan_anywhere(bag)
    assert page.locator("h1").inner_text() == "Bone-marrow harvest"
    assert "confirmed" in page.locator("#scan-status").inner_text()
    # and the patient's wristband is scanned against the collection bag (two identifiers)
    bench.wait_for_focus("wristband")
    bench.scan("#wristband", encode_patient_id(lab.mrn))
    assert "wristband of this patient confirmed" in page.content()
    bench.enter({"harvest_start": at(0), "harvest_end": at(50), "volume_ml": "205",
                 "anticoagulant": "heparin", "anticoagulant_lot": "HEP2401",
                 "anticoagulant_volume_ml": "20", "collection_set_lot": "BMC2408",
                 "filter_lot": "FLT2409", "puncture_sites": "24", "bag_sample_id": "BS-1",
                 "operating_room": "OR-3", "harvesting_physician": "doc1"})
    bench.check()
    # then: the duration is computed; the physician witnesses on the same screen
    assert "Harvest duration" in page.locator("table.values").first.inner_text()
    bench.witness_and_save("doc1")
    assert bench.state() == "Collected", bench.flash()


def relabel_the_bag_with_its_harvest_label(bench: Bench, collection: str) -> str:
    page = bench.page
    # when: the bag still wearing its blank collection label is scanned in the lab
    bench.scan_anywhere(collection)
    # then: the receipt says the bag must first wear its harvest label
    assert page.locator("h1").inner_text() == "Transport and receipt"
    assert "print its harvest label" in page.locator(".error-box").inner_text()
    # when: the harvest label (the harvest's facts on it) is printed and scanned back
    page.goto(page.url.split("/steps/")[0])
    harvest = bench.label_and_scan_back("marrow collection bag")
    assert harvest != collection
    return harvest


def receive_in_the_lab_with_the_keyboard_only(bench: Bench, bag: str, at: At) -> None:
    page = bench.page
    # when: the scan opens the form with the cursor in the first field; Tab moves on
    bench.scan_anywhere(bag)
    bench.wait_for_focus("v_time_out")
    for text in (at(55), at(85), "19.5"):
        page.keyboard.type(text)
        page.keyboard.press("Tab")
    page.keyboard.type("yes")  # the "Bag intact" list picks "yes" as it is typed
    for text in ("262", "45"):
        page.keyboard.press("Tab")
        page.keyboard.type(text)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter checks
    assert "Net volume" in page.content()
    # The cursor rests on what was entered, so a stray scan's Enter saves nothing; the
    # technician reads it and presses Save on purpose.
    bench.wait_for_focus("entered-h")
    with page.expect_navigation():
        page.get_by_role("button", name="Save step").press("Enter")
    # then
    assert bench.state() == "Received in the lab", bench.flash()


def refuse_another_patients_bag_then_sediment(bench: Bench, lab: Lab, din: str,
                                              bag: str, at: At) -> None:
    page = bench.page
    bench.scan_anywhere(bag)
    assert page.locator("h1").inner_text() == "RBC sedimentation"
    # when: the bag of ANOTHER patient is scanned into the form by mistake
    bench.scan("#scan", bag_scan_of(lab.database_url, lab.other_subject_id))
    # then: a full-width refusal; nothing moved; the cursor waits for the right bag
    refusal = page.locator(".refusal")
    assert "WRONG PATIENT" in refusal.inner_text()
    assert refusal.bounding_box()["width"] >= page.viewport_size["width"] - 20
    bench.shot("coi-refusal")
    assert state_of(lab.database_url, din) == "received"
    bench.wait_for_focus("scan")
    # when: the right bag is scanned, the sedimentation goes through
    bench.scan("#scan", bag)
    assert "confirmed" in page.locator("#scan-status").inner_text()
    bench.enter({"volume_in_ml": "205", "wbc_in_per_ul": "19500", "rbc_in_per_ul": "4.1e6",
                 "volume_out_ml": "82", "wbc_out_per_ul": "41000", "rbc_out_per_ul": "0.35e6",
                 "agent": "HES 6 %", "agent_lot": "HES2403", "ratio": "1:5",
                 "sedimentation_minutes": "45", "started_at": at(90), "ended_at": at(150),
                 **COUNTED})
    bench.shot("step-form")
    bench.check()
    assert "RBC depletion" in page.content()
    bench.shot("step-check")
    bench.witness_and_save("tech2")
    assert bench.state() == "RBC reduced", bench.flash()


def isolate_mnc_and_enrich_with_one_reprint(bench: Bench, lab: Lab, at: At) -> str:
    page = bench.page
    bench.scan_anywhere(bench.label_and_scan_back("RBC-reduced bag"))
    bench.enter({"medium": "Ficoll-Paque PREMIUM", "density_g_per_ml": "1.077", "grade": "GMP",
                 "medium_lot": "FP2404", "dilution": "2", "centrifuge_id": "CF-01",
                 "g_force": "400", "spin_minutes": "30", "temperature_c": "21",
                 "brake_off": "yes", "washes": "2", "mnc_per_ul": "24000", "volume_ml": "50",
                 "viability_pct": "96.5", "cd34_pct": "1.1", "cd133_pct": "0.8",
                 "started_at": at(155), "ended_at": at(290), **COUNTED_AND_VIABILITY})
    bench.check()
    bench.witness_and_save("tech2")
    assert bench.state() == "MNC isolated", bench.flash()
    mnc = bench.print_label("MNC container")
    page.goto(lab.url + "/")
    assert "CD133 enrichment" in page.locator("main").inner_text()
    bench.shot("worklist")
    # when: the new label is scanned into the Scan box: that is its scan-back too
    bench.scan_anywhere(mnc)
    assert "Label of the MNC container confirmed by scan" in bench.flash()
    assert page.locator("h1").inner_text() == "CliniMACS CD133+ enrichment"
    bench.enter({"pre_tnc": "1.2e9", "pre_cd133_pct": "0.8", "reagent_lot": "CD133R2405",
                 "reagent_volume_ml": "7.5", "incubation_start": at(300),
                 "incubation_end": at(330), "washes": "2", "instrument_id": "MACS-01",
                 "program": "ENRICHMENT 1.1", "tubing_set_type": "TS",
                 "tubing_set_lot": "TS2406", "run_start": at(350), "run_end": at(395),
                 "alarms": "", "target_volume_ml": "6", "target_cells_per_ul": "950",
                 "target_viability_pct": "97.8", "cd133_purity_pct": "88.4",
                 "negative_volume_ml": "95", **COUNTED_AND_VIABILITY})
    bench.check()
    assert "CD133+ recovery" in page.content()
    bench.witness_and_save("tech2")
    assert bench.state() == "CD133+ enriched", bench.flash()
    # and: the target label comes out smudged: it is reprinted, with the reason
    bench.print_label("CD133+ target fraction")
    target = bench.print_label("CD133+ target fraction",
                               reason="first label smudged by a wet glove")
    bench.scan_back(target)
    bench.label_and_scan_back("CD133 negative fraction")
    assert "(reprinted)" in page.locator("table.containers").inner_text()
    return target


def formulate(bench: Bench, target: str, at: At) -> str:
    bench.scan_anywhere(target)
    bench.enter({"diluent": "0.9 % NaCl + 10 % autologous serum", "diluent_lot": "NACL2407",
                 "final_volume_ml": "5", "total_cells": "5.2e6", "viability_pct": "97.1",
                 "container_type": "syringe", "qc_samples": "2", "weight_kg": "70",
                 "started_at": at(398), "ended_at": at(412), **COUNTED_AND_VIABILITY})
    bench.check()
    assert "Dose per kg" in bench.page.content()
    bench.witness_and_save("tech2")
    assert bench.state() == "Formulated", bench.flash()
    quarantine = bench.label_and_scan_back("final product")  # in-process until release
    bench.label_and_scan_back("QC sample tube", index=0)
    bench.label_and_scan_back("QC sample tube", index=1)
    return quarantine


def enter_qc_and_send_to_qa(bench: Bench, lab: Lab, din: str) -> None:
    page = bench.page
    bench.sign_in("tech2")
    page.goto(f"{lab.url}/products/{din}/qc")
    for test, value in {"viability": "97.1", "viable_dose": "4.46e6", "cd133_purity": "88.4",
                        "endotoxin": "0.12"}.items():
        page.fill(f"#qc_{test}", value)
    page.select_option("#qc_gram_stain", "no organisms seen")
    page.select_option("#qc_sterility", "pending")
    for test in ("viability", "viable_dose", "cd133_purity", "endotoxin", "gram_stain",
                 "sterility"):
        method, instrument = data.QC_METHOD[test]
        page.select_option(f"#method_{test}", method)
        page.fill(f"#instrument_{test}", instrument)
        page.fill(f"#volume_{test}", "0.1")
    page.fill("#sample_drawn_at", "now")
    with page.expect_navigation():
        page.locator("#qc_endotoxin").press("Enter")
    bench.confirm_qc()  # the check page lists each value judged; only this saves
    assert "result(s) saved" in bench.flash()
    with page.expect_navigation():
        page.get_by_role("button", name="QC complete: send to QA review").press("Enter")
    assert bench.state() == "Awaiting release", bench.flash()
    bench.sign_out()


def release_by_qa(bench: Bench, lab: Lab, din: str) -> None:
    page = bench.page
    bench.sign_in("qa1")
    page.goto(lab.url + "/qa")
    with page.expect_navigation():
        page.get_by_role("link", name=f"Review {din}").press("Enter")
    # then: the refused scan is a near miss among the exceptions shown first
    exceptions = page.locator("table.exceptions").inner_text()
    assert "Near miss" in exceptions and "WRONG PATIENT" in exceptions
    # and: so is the reprinted label, with its reason
    assert "Label reprinted" in exceptions and "smudged by a wet glove" in exceptions
    bench.shot("qa-review")
    # when: QA closes the near miss's deviation, signed with the password
    close = page.locator("form.deviation-close")
    assert "WRONG PATIENT" in close.inner_text()
    close.locator("input[name=disposition]").fill(
        "another patient's bag was on the bench; removed, the right bag confirmed by scan")
    close.locator("input[name=impact_assessment]").fill("none: nothing was processed")
    close.locator("input[name=password]").fill("demo-qa1-pass")
    with page.expect_navigation():
        close.locator("input[name=password]").press("Enter")
    assert "closed, signed by" in bench.flash(), bench.flash()
    assert page.locator("form.deviation-close").count() == 0
    # when: QA acknowledges each exception, chooses the release and signs with user ID and
    # password (nothing is chosen for them)
    assert bench.acknowledge_exceptions() >= 2
    page.check("input[name=decision][value=release]")
    page.fill("#sign-username", "qa1")
    page.fill("#sign-password", "demo-qa1-pass")
    with page.expect_navigation():
        page.locator("#sign-password").press("Enter")
    assert bench.state() == "Released", bench.flash()
    bench.sign_out()


def issue_to_the_procedure_room(bench: Bench, lab: Lab, din: str, quarantine: str,
                                at: At) -> str:
    page = bench.page
    bench.sign_in("tech1")
    # when: the syringe still wearing its in-process label is scanned for issue
    bench.scan_anywhere(quarantine)
    # then: the issue step says the final label comes first
    assert page.locator("h1").inner_text() == "Issue to the procedure room"
    assert "print its final label" in page.locator(".error-box").inner_text()
    page.goto(f"{lab.url}/products/{din}")
    final = bench.label_and_scan_back("final product")  # the final label, after release
    bench.scan_anywhere(final)
    assert page.locator("h1").inner_text() == "Issue to the procedure room"
    # released just now by the server's clock: the issue follows it
    bench.enter({"time_issued": "now", "transport_conditions": "validated shipper, 2–8 °C",
                 "temperature_c": "6.5"})
    bench.check()
    bench.witness_and_save("tech2")
    assert bench.state() == "Issued", bench.flash()
    issued = bench.label_and_scan_back("final product")  # the issue label
    bench.sign_out()
    return issued


def administer_at_the_bedside(bench: Bench, lab: Lab, din: str, issued: str, at: At) -> None:
    page = bench.page
    bench.sign_in("doc1")
    # when: doc1 scans the product, then the patient's wristband
    bench.scan_anywhere(issued)
    assert page.locator("h1").inner_text() == "Portal-vein administration"
    bench.wait_for_focus("wristband")
    bench.scan("#wristband", encode_patient_id(lab.mrn))
    assert "wristband of this patient confirmed" in page.content()
    # the infusion follows the issue; its end a minute or two ahead, within the clock skew
    bench.enter({"infusion_start": "now", "infusion_end": clock(datetime.now(UTC))(2),
                 "volume_injected_ml": "4", "route": "portal vein",
                 "sonography_guided": "yes", "adverse_events": "none"})
    bench.check()
    # when: doc1 signs with a wrong password: refused beside the signature, nothing saved
    bench.sign_as_physician("doc1", "not-my-password")
    bench.witness_and_save("doc2")
    assert "nothing was signed" in page.locator("fieldset.signature").inner_text()
    assert state_of(lab.database_url, din) == "issued"
    # then: doc1 signs as the administering physician and doc2 witnesses the bedside
    # check; the product is administered
    bench.sign_as_physician("doc1")
    bench.witness_and_save("doc2")
    assert bench.state() == "Administered", bench.flash()
    assert state_of(lab.database_url, din) == "administered"
    page.locator("#audit-h + details summary").click()
    for record in page.locator("details.step-record summary").all()[:2]:
        record.click()
    bench.shot("product-page")
