"""The electronic batch record PDF says everything QA needs, on the right pages, legibly."""

from __future__ import annotations

import html
import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdfium2
import pytest
from pypdf import PdfReader

from labels.batch_record import (
    BatchRecord,
    ChartSeries,
    ContainerLine,
    StepEntry,
    content_hash,
    render_batch_record,
)
from labels.batch_record_example import example_record
from labels.batch_record_model import ValueLine
from labels.batch_record_style import MARGIN_X, PAGE_WIDTH

ARMS = ("CD133", "BM-MNC")
_RECORDS = {arm: example_record(arm) for arm in ARMS}
_PDFS: dict[str, bytes] = {}


def rendered(arm: str) -> bytes:
    """The example record of `arm`, rendered once per test session."""
    if arm not in _PDFS:
        _PDFS[arm] = render_batch_record(_RECORDS[arm])
    return _PDFS[arm]


def flat(text: str) -> str:
    """Whitespace collapsed, so a value wrapped over two lines still matches."""
    return " ".join(text.split())


def page_texts(pdf: bytes) -> list[str]:
    return [flat(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def whole_text(pdf: bytes) -> str:
    return " ".join(page_texts(pdf))


def plain(markup: str) -> str:
    """Paragraph markup as the PDF's text reads: tags dropped (10<super>6</super> → 106)."""
    return flat(html.unescape(re.sub(r"<[^>]+>", "", markup)))


def utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@pytest.mark.parametrize("arm", ARMS)
def test_every_page_says_page_n_of_n_and_carries_the_content_hash(arm):
    # given
    pages = page_texts(rendered(arm))
    digest = content_hash(_RECORDS[arm])

    # then
    assert len(pages) >= 4
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert digest in text
        assert _RECORDS[arm].din_text in text  # the product is named on every page


@pytest.mark.parametrize("arm", ARMS)
def test_the_first_page_shows_the_din_check_character_subject_disposition_and_every_exception(
    arm,
):
    record = _RECORDS[arm]
    first = page_texts(rendered(arm))[0]

    assert f"DIN {record.din_text} {record.check_character}" in first
    assert record.subject_id in first
    assert record.patient_name in first
    for _, identifier in record.patient_identifiers:
        assert identifier in first
    assert flat(record.disposition) in first
    assert f"Exceptions for review ({len(record.exceptions)})" in first
    for exception in record.exceptions:
        assert exception.kind.upper() in first
        assert flat(exception.text) in first


def test_a_product_without_exceptions_says_so_on_the_first_page():
    record = replace(_RECORDS["CD133"], exceptions=())

    first = page_texts(render_batch_record(record))[0]

    assert "Exceptions for review (0)" in first
    assert "No exceptions recorded for this product." in first


@pytest.mark.parametrize("arm", ARMS)
def test_every_step_shows_its_operator_witness_times_values_and_units(arm):
    record = _RECORDS[arm]
    text = whole_text(rendered(arm))

    for number, step in enumerate(record.steps, start=1):
        assert f"Step {number} · {step.label}" in text
        assert step.operator in text
        assert (step.witness or "none") in text
        assert utc(step.performed_at) in text
        for line in (*step.values, *step.computed):
            assert flat(f"{line.label} {plain(line.value)}") in text
            if line.limit:
                assert flat(f"{plain(line.value)} {plain(line.limit)} {line.source}") in text
        for item in (*step.reagents, *step.equipment, *step.findings):
            assert flat(item) in text


def test_a_computed_value_outside_its_limit_is_flagged_in_words():
    record = _RECORDS["CD133"]
    enrich = next(s for s in record.steps if s.step == "enrich")
    purity = ValueLine("cd133_purity_pct", "CD133+ purity", "61.0 %", "%", "≥ 70.0 %", False,
                       "protocol NCT00713934: enrichment_purity_min_pct")
    low_purity = replace(enrich, computed=(purity,))
    steps = tuple(low_purity if s is enrich else s for s in record.steps)

    text = whole_text(render_batch_record(replace(record, steps=steps)))

    assert ("CD133+ purity 61.0 % ≥ 70.0 % protocol NCT00713934: enrichment_purity_min_pct "
            "✗ OUT OF LIMIT") in text


def test_a_value_within_its_limit_is_ticked_and_one_without_a_limit_is_not_judged():
    record = _RECORDS["CD133"]
    issue = next(s for s in record.steps if s.step == "issue")

    text = whole_text(rendered("CD133"))

    assert "✓ within" in text
    assert "✓ in date" in text  # the moment of issue against the expiry
    assert all(line.passed is None and not line.limit for line in issue.values
               if line.name == "transport_conditions")


def test_an_issue_after_the_expiry_says_expired_beside_the_time_and_on_the_first_page():
    record = _RECORDS["CD133"]
    issue = next(s for s in record.steps if s.step == "issue")
    late = replace(issue.values[0], passed=False, verdict="EXPIRED")
    steps = tuple(replace(s, values=(late, *s.values[1:])) if s is issue else s
                  for s in record.steps)
    checks = (replace(record.expiry_checks[0], in_date=False), *record.expiry_checks[1:])

    pages = page_texts(render_batch_record(replace(record, steps=steps, expiry_checks=checks)))

    assert "EXPIRED ✗" in pages[0] and "in date ✓" in pages[0]
    assert "✗ EXPIRED" in " ".join(pages[1:])


@pytest.mark.parametrize("arm", ARMS)
def test_every_signature_shows_printed_name_meaning_and_utc_time(arm):
    record = _RECORDS[arm]
    text = whole_text(rendered(arm))

    assert f"Electronic signatures ({len(record.signatures)})" in text
    for signature in record.signatures:
        row = f"{signature.meaning} {signature.printed_name} {utc(signature.signed_at)}"
        assert flat(row) in text
        assert signature.record_hash[:32] in text
        assert signature.record_hash[32:] in text
    assert "user ID" not in text  # people by their printed names, never a user name


def test_an_out_of_spec_qc_result_is_flagged_in_words_in_the_table_and_the_chart():
    text = whole_text(rendered("BM-MNC"))

    assert ("Endotoxin 0.620 EU/ml ≤ 0.500 EU/ml specification CD133 v3 ✗ OUT OF SPEC"
            in text)  # the QC table row
    assert text.count("OUT OF SPEC") >= 3  # + exception, chart


def test_a_failed_result_in_an_otherwise_passing_record_is_flagged():
    record = _RECORDS["CD133"]
    failed = replace(record.qc[2], result="61.0 %", passed=False)
    qc = (*record.qc[:2], failed, *record.qc[3:])

    text = whole_text(render_batch_record(replace(record, qc=qc)))

    assert "CD133+ purity 61.0 % ≥ 70.0 % specification CD133 v3 ✗ OUT OF SPEC" in text
    assert "OUT OF SPEC" not in whole_text(rendered("CD133"))


def test_late_corrected_and_pending_qc_results_are_flagged_in_words():
    text = whole_text(rendered("CD133"))

    assert "✓ PASS LATE ENTRY" in text
    assert ("CORRECTED Viability (7-AAD): was “91.7 %”, now “97.1 %”. Reason: transcription "
            "error") in text
    assert "no growth (may be pending) specification CD133 v3 PENDING" in text


def test_qc_results_show_method_analyst_and_entry_time():
    record = _RECORDS["BM-MNC"]
    text = whole_text(rendered("BM-MNC"))

    for line in record.qc:
        assert flat(line.method) in text
        assert f"{line.analyst} {line.entered_at:%Y-%m-%d %H:%M} UTC" in text


def test_containers_are_listed_each_after_its_parent():
    text = whole_text(rendered("CD133"))

    order = ["Marrow collection bag", "RBC-reduced marrow", "MNC suspension",
             "CD133+ target fraction", "Final syringe", "QC sample: endotoxin",
             "CD133− negative fraction"]
    section = text[text.index("4 Container lineage"):text.index("Labels printed")]
    positions = [section.index(name) for name in order]
    assert positions == sorted(positions)


def test_a_container_whose_parents_loop_is_still_listed():
    looped = (
        ContainerLine("Tube A", "D0003 1 00", "", "Tube B", 1.0, "held"),
        ContainerLine("Tube B", "D0003 1 00", "", "Tube A", 1.0, "held"),
    )
    record = replace(_RECORDS["CD133"], containers=looped)

    text = whole_text(render_batch_record(record))

    assert "Tube A" in text and "Tube B" in text


def test_deviations_show_every_field():
    record = _RECORDS["BM-MNC"]
    text = whole_text(rendered("BM-MNC"))

    for deviation in record.deviations:
        assert f"Deviation {deviation.number} · {deviation.classification}" in text
        for field in (deviation.description, deviation.immediate_action, deviation.impact,
                      deviation.disposition or ""):
            assert flat(field) in text


def test_identical_records_render_to_identical_bytes():
    first = render_batch_record(example_record("CD133"))
    second = render_batch_record(example_record("CD133"))

    assert first == second


def test_another_process_renders_the_same_bytes():
    # given a fresh interpreter with a different string-hash seed
    script = ("import sys; from labels.batch_record import render_batch_record; "
              "from labels.batch_record_example import example_record; "
              "sys.stdout.buffer.write(render_batch_record(example_record('BM-MNC')))")
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}

    # when
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True,
                           env=environment, cwd=Path(__file__).resolve().parents[2]).stdout

    # then
    assert other == rendered("BM-MNC")


def test_changing_one_value_changes_the_content_hash_and_every_page_shows_the_new_one():
    record = _RECORDS["CD133"]
    step = record.steps[2]
    edited_step = replace(step, values=(replace(step.values[0], value="215 ml"),
                                        *step.values[1:]))
    edited = replace(record, steps=(*record.steps[:2], edited_step, *record.steps[3:]))

    digest = content_hash(edited)

    assert digest != content_hash(record)
    assert all(digest in page for page in page_texts(render_batch_record(edited)))


def test_the_content_hash_ignores_only_when_the_record_was_generated():
    record = _RECORDS["CD133"]
    later = replace(record, generated_at=datetime(2027, 1, 1, tzinfo=UTC))

    assert content_hash(later) == content_hash(record)
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(record))


def test_the_content_hash_depends_on_the_instant_not_on_the_zone_it_is_written_in():
    record = _RECORDS["CD133"]
    signature = record.signatures[0]
    tehran = signature.signed_at.astimezone(ZoneInfo("Asia/Tehran"))
    in_tehran = replace(signature, signed_at=tehran)
    moved = replace(record, signatures=(in_tehran, *record.signatures[1:]))

    assert content_hash(moved) == content_hash(record)


def test_a_naive_datetime_is_refused():
    record = replace(_RECORDS["CD133"], harvest_end=datetime(2026, 11, 25, 8, 10))

    with pytest.raises(ValueError, match="harvest_end"):
        render_batch_record(record)


def test_markup_characters_in_values_are_printed_literally():
    # given text typed by people: a step value (escaped where the value is made), and a
    # decision's reason and a correction's reason (escaped by the renderer)
    from labels.batch_record_example_steps import line

    odd = "<0.05 & <b>not bold</b>"
    record = _RECORDS["CD133"]
    step = replace(record.steps[0], values=(line("harvest", "operating_room", odd),))
    hold = replace(record.state_changes[0], reason=odd)
    fixed = replace(record.corrections[0], reason=odd)
    record = replace(record, steps=(step,), state_changes=(hold,), corrections=(fixed,))

    text = whole_text(render_batch_record(record))

    assert text.count(odd) == 3


def _long_record() -> BatchRecord:
    record = _RECORDS["CD133"]
    long_value = " ".join(["ThisIsAVeryLongLotNumberWithoutAnySpaces0123456789"] * 3)
    step = StepEntry(
        "receive", "Transport and receipt " * 4, record.steps[1].performed_at,
        "Sara Technician", None, values=(ValueLine("remark", "Remark " * 10, long_value, "ml"),),
        computed=(),
        findings=("A finding " * 30,), reagents=(long_value,), equipment=(),
    )
    qc = replace(record.qc[0], test="Sterility " * 8, method=long_value)
    chart = ChartSeries(long_value, 4.5e6, "cells " * 12, 1e6, 12e6)
    return replace(record, steps=(step,), qc=(qc,), chart=(chart,),
                   disposition="RELEASED " * 20, product_description="HPC, MARROW " * 12)


def test_long_values_wrap_inside_the_margins_instead_of_being_clipped():
    pdf = render_batch_record(_long_record())

    document = pypdfium2.PdfDocument(pdf)
    for index in range(len(document)):
        text_page = document[index].get_textpage()
        for char in range(text_page.count_chars()):
            left, _, right, _ = text_page.get_charbox(char)
            if right > left:  # skip zero-width characters such as line ends
                assert left >= MARGIN_X - 1 and right <= PAGE_WIDTH - MARGIN_X + 1, index
    assert "ThisIsAVeryLongLotNumber" in whole_text(pdf)


def test_an_empty_record_still_renders_every_section_with_a_clear_none():
    record = replace(_RECORDS["CD133"], exceptions=(), steps=(), qc=(), deviations=(),
                     containers=(), signatures=(), chart=(), coi_events=(),
                     harvest_end=None, expires_at=None, state_changes=(), custody=(),
                     corrections=(), expiry_checks=(), label_prints=())

    text = whole_text(render_batch_record(record))

    for words in ("No process step recorded.", "No containers recorded.",
                  "No QC result recorded.", "No deviations recorded.",
                  "No signatures recorded.", "No key values to chart.",
                  "No step data corrected.", "No custody of any container recorded.",
                  "No labels printed.",
                  "Not issued: no expiry check recorded yet.",
                  "No hold, release decision, discard or expiry recorded."):
        assert words in text


@pytest.mark.parametrize("arm", ARMS)
def test_page_one_and_the_chart_page_rasterise_for_review(arm, tmp_path: Path):
    pdf = rendered(arm)
    pages = page_texts(pdf)
    chart_page = next(i for i, text in enumerate(pages) if "7 Key values against" in text)
    document = pypdfium2.PdfDocument(pdf)

    for index in (0, chart_page):
        image = document[index].render(scale=150 / 72).to_pil()
        image.save(tmp_path / f"batch-record-{arm}-page{index + 1}.png")
        assert image.getbbox() is not None
        assert image.convert("L").getextrema()[0] < 50  # there is dark ink on the page


def test_a_huge_text_and_a_long_chart_run_over_pages_instead_of_failing():
    record = _RECORDS["BM-MNC"]
    huge = replace(record.deviations[1], description="The bag was inspected. " * 600)
    many = tuple(ChartSeries(f"Value {n}", n + 1.0, "%", 2.0, 30.0) for n in range(40))
    record = replace(record, deviations=(huge,), chart=many,
                     disposition="ON HOLD pending investigation " * 150)

    text = whole_text(render_batch_record(record))

    assert "Value 39" in text
    assert text.count("inspected.") == 600  # none lost where the row splits over pages


def test_a_long_chart_name_wraps_in_full_beside_its_bar():
    name = "Viable CD133+ CD34+ CD45dim cells per kilogram of body weight " * 3
    record = replace(_RECORDS["CD133"], chart=(ChartSeries(name, 0.3, "× 10^6 cells/kg",
                                                           0.5, 5.0),))

    pdf = render_batch_record(record)

    pages = page_texts(pdf)
    chart = next(text for text in pages if "7 Key values against" in text)
    assert flat(name) in chart
    assert "OUT OF SPEC" in chart
