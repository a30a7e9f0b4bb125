"""The batch record completes the story and states every unit truthfully: built through the
services, read back from the PDF as a QA reviewer reads it."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

from pypdf import PdfReader
from sqlmodel import select

from lims.models import User
from lims.services.batch_record import batch_record, batch_record_pdf
from lims.services.common import utcnow
from lims.services.corrections import correct_step
from lims.services.dispositions import discard_product, hold_product, resume_product
from tests.factories import PASSWORDS, make_patient, make_product, seeded
from workflows.registry import QC, entry
from workflows.specifications import QC_TESTS


def pdf_text(session, din: str) -> str:
    reader = PdfReader(BytesIO(batch_record_pdf(session, din)))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def user_names_in(session, text: str) -> list[str]:
    """User names (never printed: people are their full names) found in `text`."""
    names = [u.username for u in session.exec(select(User))]
    return [n for n in names if re.search(rf"\b{re.escape(n)}\b", text)]


def test_a_held_resumed_and_discarded_product_shows_each_decision_with_reason_who_and_when(
        session):
    # given a formulated product held, resumed and then discarded
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="formulated",
                              t0=utcnow() - timedelta(hours=8))
    now = utcnow() - timedelta(minutes=30)
    hold_product(session, actor=run.user("super1"), din=product.din,
                 reason="centrifuge alarm under investigation", now=now)
    resume_product(session, actor=run.user("super1"), din=product.din,
                   reason="door-sensor fault only; run within its settings",
                   now=now + timedelta(minutes=5))
    discard_product(session, actor=run.user("qa1"), din=product.din,
                    reason="bag punctured while sampling", password=PASSWORDS["qa1"],
                    now=now + timedelta(minutes=10))

    # when
    record = batch_record(session, product.din)
    text = pdf_text(session, product.din)

    # then every decision is on the record with its reason and the decider's printed name
    decided = [(c.event, c.reason, c.by) for c in record.state_changes if c.decision]
    supervisor, qa = run.user("super1").full_name, run.user("qa1").full_name
    assert ("Put on hold", "centrifuge alarm under investigation", supervisor) in decided
    assert ("Resumed", "door-sensor fault only; run within its settings", supervisor) in decided
    discarded = next(d for d in decided if d[0] == "Discarded")
    assert discarded[1] == "bag punctured while sampling"
    assert discarded[2].startswith(f"{qa} (e-signed ")  # a signed decision
    assert "Decisions on the product" in text
    for words in ("Put on hold", "centrifuge alarm under investigation", "Resumed",
                  "door-sensor fault only; run within its settings", "Discarded",
                  "bag punctured while sampling", "Formulated → On hold", supervisor, qa):
        assert words in text
    assert f"DISCARDED — Discarded by {qa}" in text  # the disposition, a signed decision
    # and the containers' custody ends with the discard
    ends = [line for line in record.custody if line.event.startswith("Discarded")]
    assert ends and all("bag punctured while sampling" in line.event for line in ends)
    assert user_names_in(session, text) == []


def test_every_value_is_named_and_united_by_the_registry_and_judged_against_its_limit(
        session):
    # given a CD133 product processed to administration
    run = seeded(session)
    product = run.process(make_patient(run, "CD133", 72.0), utcnow() - timedelta(hours=7))

    record = batch_record(session, product.din)
    text = pdf_text(session, product.din)

    # then every value line's label and unit are the registry's, never guessed from a name
    for step in record.steps:
        for line in (*step.values, *step.computed):
            found = entry(step.step, line.name)
            assert (line.label, line.unit) == (found.label, found.unit), (step.step, line.name)
            if found.limits and "protocol" in {ref.source for ref in found.limits}:
                assert line.limit and line.passed is not None and line.source, line.name
    by_label = {entry(QC, test).label: entry(QC, test) for test in QC_TESTS}
    for qc in record.qc:
        assert qc.unit == by_label[qc.test].unit
        assert qc.source.startswith("specification CD133 v1")
    # and what a reviewer stumbled on is gone
    assert "Concentration per ml" not in text and "Endotoxin limit 72 ml" not in text
    assert re.search(r"Dose per kg body weight [\d.,]+ × 106 cells/kg", text)
    assert re.search(r"RBC in [\d.,]+ × 106 cells", text)
    assert re.search(r"Endotoxin limit for this product [\d.]+ EU/ml", text)
    assert "Time since harvest end 35 min ≤ 2 h" in text
    assert "Temperature on receipt 19.5 °C 2–25 °C protocol NCT00713934" in text
    assert "1e+06" not in text and "10^" not in text and "e+0" not in text
    assert user_names_in(session, text) == []


def test_the_expiry_is_checked_at_issue_and_at_infusion(session):
    run = seeded(session)
    product = run.process(make_patient(run, "BM-MNC"), utcnow() - timedelta(hours=7))

    record = batch_record(session, product.din)
    text = pdf_text(session, product.din)

    assert [(c.what, c.in_date) for c in record.expiry_checks] == [
        ("Issued", True), ("Infusion started", True)]
    assert text.count("in date ✓") == 2  # the first page's expiry checks
    assert text.count("✓ in date") == 2  # beside the time issued and the infusion start


def test_a_corrected_step_shows_its_current_values_and_the_correction_old_to_new(session):
    # given a product whose sedimentation count was corrected
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="formulated",
                              t0=utcnow() - timedelta(hours=8))
    correct_step(session, actor=run.user("super1"), din=product.din, step="sediment",
                 changes={"wbc_out_per_ul": 40000.0},
                 reason="digits transposed from the analyser printout")

    record = batch_record(session, product.din)
    text = pdf_text(session, product.din)

    # then the superseded record is no step, and the steps keep the process order
    assert [s.step for s in record.steps] == ["harvest", "receive", "sediment", "isolate_mnc",
                                              "formulate"]
    sediment = record.steps[2]
    assert sediment.operator == run.user("tech1").full_name  # who performed the step
    assert run.user("super1").full_name in sediment.corrected
    assert "40,000 cells/µL" in next(v.value for v in sediment.values
                                     if v.name == "wbc_out_per_ul")
    changed = {(c.field, c.old, c.new) for c in record.corrections}
    assert ("WBC out", "41,000 cells/µL", "40,000 cells/µL") in changed
    assert "Corrections of step data" in text
    assert "WBC out 41,000 cells/µL → 40,000 cells/µL digits transposed from the analyser" \
        in text
    assert text.count("· RBC sedimentation") == 1


def test_the_chain_of_custody_follows_each_container_from_collection_to_infusion(session):
    run = seeded(session)
    product = run.process(make_patient(run, "BM-MNC"), utcnow() - timedelta(hours=7))

    record = batch_record(session, product.din)
    text = pdf_text(session, product.din)

    events = [(line.container.split(" D0")[0], line.event, line.by) for line in record.custody]
    physician, tech = run.user("doc1").full_name, run.user("tech1").full_name
    assert any(e[0] == "marrow collection bag" and e[1] == "Collected at the bone-marrow harvest"
               and e[2].startswith(f"{physician} (harvesting physician); recorded by {tech}")
               for e in events)
    assert any(e[0] == "final product" and e[1] == "Issued to the procedure room"
               and f"received by {physician}" in e[2] for e in events)
    assert any(e[0] == "final product" and e[1] == "Administered to the patient"
               and e[2].startswith(physician) for e in events)
    assert any(e[0] == "QC sample tube" and e[1].startswith("Tested in QC") for e in events)
    assert {e[0] for e in events} >= {"marrow collection bag", "RBC-reduced bag",
                                      "MNC container", "final product", "QC sample tube"}
    # each container's events follow one another in time
    for name in {line.container for line in record.custody}:
        own = [line for line in record.custody if line.container == name]
        assert [line.start for line in own] == sorted(line.start for line in own)
    assert "Chain of custody" in text and "Administered to the patient" in text
    assert user_names_in(session, text) == []
