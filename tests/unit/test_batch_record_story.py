"""The batch record's story pages: decisions, corrections, custody and expiry, laid out
so a QA reviewer reads the reason, who and when of each (pure rendering, no database)."""

from __future__ import annotations

import io
from dataclasses import replace

from pypdf import PdfReader

from labels.batch_record import render_batch_record
from labels.batch_record_example import example_record
from labels.batch_record_text import local_and_utc
from labels.timefmt import local_text
from workflows.registry import entry

RECORD = example_record("CD133")


def pages(record=RECORD) -> list[str]:
    reader = PdfReader(io.BytesIO(render_batch_record(record)))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def test_every_decision_is_on_the_first_page_with_its_reason_who_and_when():
    first = pages()[0]

    decisions = [c for c in RECORD.state_changes if c.decision]
    assert f"Decisions on the product ({len(decisions)})" in first
    for change in decisions:
        row = (f"{change.event} {local_and_utc(change.at, RECORD.time_zone)} "
               f"{change.old_state} → {change.new_state} {change.by}")
        assert " ".join(row.split()) in first
        assert " ".join(change.reason.split()) in first


def test_a_processing_step_is_not_listed_as_a_decision():
    step = replace(RECORD.state_changes[0], event="RBC sedimentation", reason="",
                   decision=False)
    record = replace(RECORD, state_changes=(step,))

    first = pages(record)[0]

    assert "Decisions on the product (0)" in first and "RBC sedimentation" not in first


def test_each_correction_shows_old_to_new_with_reason_who_and_when():
    text = " ".join(pages())

    for c in RECORD.corrections:
        assert f"{c.field} {c.old} → {c.new} {c.reason}" in text
        assert f"{c.corrected_by}, {local_text(c.corrected_at, RECORD.time_zone)}" in text


def test_a_corrected_step_says_so_above_its_values():
    sediment = next(s for s in RECORD.steps if s.step == "sediment")
    corrected = replace(sediment, corrected="Leila Supervisor 2026-11-25 10:30 UTC")
    record = replace(RECORD, steps=tuple(corrected if s is sediment else s
                                         for s in RECORD.steps))

    text = " ".join(pages(record))

    assert ("CORRECTED The values below are the current ones, corrected by Leila Supervisor "
            "2026-11-25 10:30 UTC") in text


def test_the_chain_of_custody_names_each_container_once_and_every_holder():
    text = " ".join(pages())
    custody = text[text.index("5 Chain of custody"):text.index("6 QC results")]

    for container in dict.fromkeys(line.container for line in RECORD.custody):
        assert custody.count(container) == 1  # grouped: the name heads its rows
    for line in RECORD.custody:
        assert f"{line.event} {local_text(line.start, RECORD.time_zone)}" in custody
        assert line.by.split(";")[0] in custody


def test_the_example_records_name_and_unit_every_value_as_the_registry_does():
    for arm in ("CD133", "BM-MNC"):
        for step in example_record(arm).steps:
            for line in (*step.values, *step.computed):
                found = entry(step.step, line.name)
                assert (line.label, line.unit) == (found.label, found.unit), line.name
