"""What a label states follows the product's facts: infectious-disease statements per
21 CFR 1271.90(c), the jurisdiction's investigational caution, the protocol's storage range."""

from __future__ import annotations

import pytest

from labels import DEFAULT_TEXTS, LabelKind, render_pdf
from labels.statements import (
    DonorTesting,
    final_statements,
    infectious_statements,
    investigational_statement,
    required_markers,
    storage_statement,
)
from tests.unit.label_support import make_label
from tests.unit.test_label_generations_render import pdf_text

REQUIRED = required_markers("HIV, HBV,HCV,syphilis,HTLV,CMV")
ALL_NEGATIVE = {m: "negative" for m in REQUIRED}
SCREENED = {"screening_1271_75": "done", "testing_1271_80": "done"}
T = DEFAULT_TEXTS


def donor(**results: str) -> DonorTesting:
    return DonorTesting(results=results, required=REQUIRED)


def test_every_marker_negative_and_the_screening_recorded_needs_no_statement():
    said, biohazard = infectious_statements(donor(**ALL_NEGATIVE, **SCREENED), T)

    assert said == () and not biohazard


@pytest.mark.parametrize("missing", ["syphilis", "HTLV", "CMV", "HIV"])
def test_a_marker_without_a_result_means_not_evaluated(missing):
    results = {**ALL_NEGATIVE, **SCREENED, missing: "pending"}

    said, biohazard = infectious_statements(donor(**results), T)

    assert said == (T.not_evaluated,) and not biohazard


@pytest.mark.parametrize("unrecorded", ["screening_1271_75", "testing_1271_80"])
def test_screening_or_testing_not_recorded_means_not_evaluated(unrecorded):
    results = {**ALL_NEGATIVE, **SCREENED}
    del results[unrecorded]

    said, _ = infectious_statements(donor(**results), T)

    assert said == (T.not_evaluated,)


def test_only_the_three_enrolment_markers_is_not_an_evaluated_donor():
    said, _ = infectious_statements(
        donor(HIV="negative", HBV="negative", HCV="negative", **SCREENED), T)

    assert T.not_evaluated in said


def test_a_reactive_result_brings_the_warning_the_reactive_markers_and_the_biohazard_legend():
    results = {**ALL_NEGATIVE, **SCREENED, "CMV": "reactive", "HBV": "positive"}

    said, biohazard = infectious_statements(donor(**results), T)

    assert biohazard
    assert said == (T.advise_patient, f"{T.reactive_results} HBV, CMV")


def test_a_reactive_result_with_incomplete_testing_says_both():
    said, biohazard = infectious_statements(donor(HIV="negative", HCV="Reactive"), T)

    assert biohazard and said[0] == T.not_evaluated and said[-1].endswith("HCV")


def test_the_statement_can_be_switched_off_but_never_the_reactive_warning():
    said, biohazard = infectious_statements(donor(HCV="reactive"), T,
                                            not_evaluated_enabled=False)

    assert T.not_evaluated not in said and T.advise_patient in said and biohazard


@pytest.mark.parametrize(("jurisdiction", "starts"), [
    ("IR", "For clinical trial use only"),
    ("ir", "For clinical trial use only"),
    ("US", "Caution: New Drug"),
])
def test_the_investigational_caution_is_the_jurisdictions_with_the_trial(jurisdiction, starts):
    said = investigational_statement(jurisdiction, "", "NCT00713934")

    assert said.startswith(starts) and said.endswith("Trial NCT00713934")


def test_a_protocol_caution_replaces_the_jurisdictions():
    said = investigational_statement("IR", "Investigational – IRCT123", "")

    assert said == "Investigational – IRCT123"


def test_an_unknown_jurisdiction_without_a_caution_is_refused():
    with pytest.raises(ValueError, match="jurisdiction 'XX'"):
        investigational_statement("XX", "", "NCT00713934")


@pytest.mark.parametrize(("low", "high", "text"), [
    (2.0, 8.0, "Store at 2–8 °C."), (15.0, 25.0, "Store at 15–25 °C."),
    (-196.0, -150.0, "Store at -196–-150 °C."),
])
def test_the_storage_statement_is_the_protocols_range(low, high, text):
    assert storage_statement(low, high, T).startswith(text)


def test_final_statements_are_in_print_order_and_printed_on_the_final_label():
    said, biohazard = final_statements(
        donor(**{**ALL_NEGATIVE, **SCREENED, "HIV": "reactive"}), T,
        investigational="For clinical trial use only. Trial NCT00713934")
    label = make_label(LabelKind.FINAL, statements=said,
                       markings=(T.biohazard,) if biohazard else (),
                       storage_temperature=storage_statement(15.0, 25.0, T))

    text = pdf_text(render_pdf(label))

    assert said == (T.advise_patient, f"{T.reactive_results} HIV",
                    "For clinical trial use only. Trial NCT00713934", T.identify_recipient)
    for line in ("WARNING: Advise patient", "Reactive test results for HIV", "BIOHAZARD",
                 "Trial NCT00713934", "Store at 15–25 °C"):
        assert line in text, line
    assert "NOT EVALUATED" not in text
