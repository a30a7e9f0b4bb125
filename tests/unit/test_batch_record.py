"""The electronic batch record PDF says everything QA needs, on the right pages, legibly."""

from __future__ import annotations

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
from labels.batch_record_style import MARGIN_X, PAGE_WIDTH
from labels.batch_record_text import within_limit

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
        for label, value, unit in step.values:
            assert flat(f"{label} {value} {unit}") in text
        for label, value, unit, limit in step.computed:
            assert flat(f"{label} {value} {unit} {limit or '—'}") in text
        for item in (*step.reagents, *step.equipment, *step.findings):
            assert flat(item) in text


def test_a_computed_value_outside_its_limit_is_flagged_in_words():
    record = _RECORDS["CD133"]
    enrich = next(s for s in record.steps if s.step == "enrich")
    low_purity = replace(enrich, computed=(("CD133+ purity", "61.0", "%", "≥ 70 %"),))
    steps = tuple(low_purity if s is enrich else s for s in record.steps)

    text = whole_text(render_batch_record(replace(record, steps=steps)))

    assert "CD133+ purity 61.0 % ≥ 70 % OUT OF LIMIT" in text


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("97.1", "≥ 80 %", True),
        ("76.2", "≥ 80 %", False),
        ("4.5 × 10^6", "1–12 × 10^6", True),
        ("0.8 × 10^6", "1–12 × 10^6", False),
        ("0.62", "< 0.5", False),
        ("12,500", "≥ 10000", True),
        ("no growth", "≥ 1", None),
        ("1.2e6", "≥ 1", None),
        ("45", "", None),
    ],
)
def test_a_computed_value_is_judged_only_when_value_and_limit_are_plain_numbers(
    value, limit, expected
):
    assert within_limit(value, limit) is expected


@pytest.mark.parametrize("arm", ARMS)
def test_every_signature_shows_printed_name_meaning_and_utc_time(arm):
    record = _RECORDS[arm]
    text = whole_text(rendered(arm))

    assert f"Electronic signatures ({len(record.signatures)})" in text
    for signature in record.signatures:
        row = f"{signature.meaning} {signature.printed_name} user ID: {signature.username}"
        assert flat(f"{row} {utc(signature.signed_at)}") in text
        assert signature.record_hash[:32] in text
        assert signature.record_hash[32:] in text


def test_an_out_of_spec_qc_result_is_flagged_in_words_in_the_table_and_the_chart():
    text = whole_text(rendered("BM-MNC"))

    assert "Endotoxin 0.62 EU/mL ≤ 0.5 EU/mL OUT OF SPEC" in text  # the QC table row
    assert "Endotoxin 0.62 EU/mL" in text and text.count("OUT OF SPEC") >= 3  # + exception, chart


def test_a_failed_result_in_an_otherwise_passing_record_is_flagged():
    record = _RECORDS["CD133"]
    failed = replace(record.qc[2], result="61.0", passed=False)
    qc = (*record.qc[:2], failed, *record.qc[3:])

    text = whole_text(render_batch_record(replace(record, qc=qc)))

    assert "CD133+ purity 61.0 % ≥ 70 % OUT OF SPEC" in text
    assert "OUT OF SPEC" not in whole_text(rendered("CD133"))


def test_late_corrected_and_pending_qc_results_are_flagged_in_words():
    text = whole_text(rendered("CD133"))

    assert "PASS LATE ENTRY" in text
    assert ("CORRECTED Viability (7-AAD): was “91.7”, now “97.1”. Reason: transcription "
            "error") in text
    assert "no growth PENDING" in text


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
    section = text[text.index("3 Container lineage"):text.index("4 QC results")]
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
    edited_step = replace(step, values=(("Volume in", "215", "ml"), *step.values[1:]))
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
    record = _RECORDS["CD133"]
    odd = replace(record.qc[4], result="<0.05 & <b>not bold</b>")
    record = replace(record, qc=(*record.qc[:4], odd, *record.qc[5:]))

    assert "<0.05 & <b>not bold</b>" in whole_text(render_batch_record(record))


def _long_record() -> BatchRecord:
    record = _RECORDS["CD133"]
    long_value = " ".join(["ThisIsAVeryLongLotNumberWithoutAnySpaces0123456789"] * 3)
    step = StepEntry(
        "receive", "Transport and receipt " * 4, record.steps[1].performed_at,
        "Sara Technician", None, values=(("Remark " * 10, long_value, "ml"),), computed=(),
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
                     harvest_end=None, expires_at=None)

    text = whole_text(render_batch_record(record))

    for words in ("No process step recorded.", "No containers recorded.",
                  "No QC result recorded.", "No deviations recorded.",
                  "No signatures recorded.", "No key values to chart."):
        assert words in text


@pytest.mark.parametrize("arm", ARMS)
def test_page_one_and_the_chart_page_rasterise_for_review(arm, tmp_path: Path):
    pdf = rendered(arm)
    pages = page_texts(pdf)
    chart_page = next(i for i, text in enumerate(pages) if "5 Key values against" in text)
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
    chart = next(text for text in pages if "5 Key values against" in text)
    assert flat(name) in chart
    assert "OUT OF SPEC" in chart
