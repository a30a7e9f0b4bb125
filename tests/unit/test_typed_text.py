"""Identifiers in printable ASCII, free text in any script without control characters; the
step forms, the registry's units and the words for where a scan was refused."""

from __future__ import annotations

import pytest

from workflows.registry import QC, entry, format_any
from workflows.specifications import QC_TESTS
from workflows.step_cleaning import clean_values
from workflows.step_model import Field, StepDataError
from workflows.steps import STEPS
from workflows.typed_text import free_text_problem, identifier_problem
from workflows.words import action_words


def test_an_identifier_with_a_cyrillic_letter_names_the_letter_and_where_it_is():
    problem = identifier_problem("FP24О4")

    assert problem is not None
    assert problem.startswith("it has Cyrillic capital letter O ‘О’ (U+041E, looks like O) "
                              "at position 5")


def test_an_identifier_with_a_control_character_names_it():
    assert "a TAB control character (U+0009) at position 3" in (
        identifier_problem("OR\t3") or "")


def test_a_plain_identifier_has_no_problem():
    assert identifier_problem("HEP-2401/B 7") is None


def test_a_persian_name_with_its_zero_width_non_joiner_is_free_text():
    assert free_text_problem("زهرا محمدی\u200cنژاد") is None


def test_free_text_refuses_a_nul_and_a_direction_override():
    assert "a NUL control character (U+0000) at position 2" in (free_text_problem("a\x00b") or "")
    assert "U+202E" in (free_text_problem("lot \u202e1042") or "")


def test_free_text_keeps_line_breaks_only_where_it_has_lines():
    assert free_text_problem("fever\r\nrigors\t38.5", lines=True) is None
    assert "a LF control character (U+000A)" in (free_text_problem("fever\nrigors") or "")


def test_lot_equipment_and_sample_fields_are_identifiers_and_free_text_fields_are_not():
    harvest = STEPS["harvest"]
    identifiers = {f.name for f in harvest.fields if f.identifier}

    assert {"anticoagulant_lot", "collection_set_lot", "filter_lot", "bag_sample_id",
            "operating_room"} <= identifiers
    for spec in STEPS.values():
        for f in spec.fields:
            if f.reagent or f.equipment:
                assert f.identifier, (spec.step, f.name)
    assert not STEPS["administer"].field("adverse_events").identifier


def test_only_a_text_field_may_be_an_identifier():
    with pytest.raises(ValueError, match="only a text field is an identifier"):
        Field("volume_ml", "Volume", "number", "ml", identifier=True)


def _clean(step: str, **values: object) -> dict[str, object]:
    spec = STEPS[step]
    return clean_values(spec, {f.name: values.get(f.name) for f in spec.fields
                               if f.name in values})


def _errors(step: str, **values: object) -> dict[str, str]:
    with pytest.raises(StepDataError) as refused:
        _clean(step, **values)
    return refused.value.errors


def test_a_step_lot_number_with_a_look_alike_is_refused_naming_it():
    errors = _errors("sediment", agent_lot="HЕS2401")

    assert errors["agent_lot"].startswith(
        "it has Cyrillic capital letter Ie ‘Е’ (U+0415, looks like E) at position 2")


def test_adverse_events_keep_their_lines_and_refuse_an_escape():
    errors = _errors("administer", adverse_events="fever\nrigors\x1b")

    assert errors["adverse_events"].startswith("it has a ESC control character (U+001B) at "
                                               "position 13")
    assert "adverse_events" not in _errors("administer", adverse_events="fever\nrigors")


def test_formulation_total_cells_and_concentration_cannot_be_zero():
    errors = _errors("formulate", total_cells=0, cells_per_ul=0)

    assert errors["total_cells"] == "must be above 0 cells (a container holds something), got 0"
    assert errors["cells_per_ul"].startswith("must be above 0 cells/µL")
    assert STEPS["formulate"].field("total_cells").above_min


def test_endotoxin_is_in_eu_per_ml_as_every_other_ml_and_old_rows_read_the_same():
    assert QC_TESTS["endotoxin"].unit == "EU/ml"
    assert entry(QC, "endotoxin").unit == "EU/ml"
    # a result stored before the rename kept "EU/mL" in its own row
    assert format_any(0.25, "EU/mL") == format_any(0.25, "EU/ml") == "0.250 EU/ml"


def test_a_scan_refused_by_the_scan_box_is_named_in_words():
    assert action_words("scan_box") == "the scan box (opening a product by its label)"
