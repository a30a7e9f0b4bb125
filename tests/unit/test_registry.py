"""The one registry: every field, computed figure, QC test and label figure has one name,
unit, number format and limits with their source."""

from __future__ import annotations

import pytest

from workflows.fields import QUANTITY_OF_UNIT, Quantity
from workflows.numbers import MILLION_UNITS
from workflows.protocol import ProtocolParameters
from workflows.registry import (
    LABEL,
    QC,
    REGISTRY,
    entry,
    figure_entry,
    format_figure,
    qc_limit_text,
)
from workflows.specifications import QC_TESTS, default_specification
from workflows.step_limits import LIMITS, Checks, Limit, bound_text, range_text
from workflows.steps import STEPS

# Units workflows.numbers writes in a format of their own, plus the plain ones it writes
# with the unit after the number.
KNOWN_UNITS = {*MILLION_UNITS, *QUANTITY_OF_UNIT, ""}
EVERY_STEP_ITEM = [(step, item.name) for step, spec in STEPS.items()
                   for item in (*spec.fields, *spec.figures)]


@pytest.mark.parametrize(("step", "name"), EVERY_STEP_ITEM)
def test_every_field_and_computed_figure_of_every_step_has_an_entry_in_a_known_unit(step, name):
    found = entry(step, name)
    assert found.label and found.unit in KNOWN_UNITS


@pytest.mark.parametrize("test", list(QC_TESTS))
def test_every_qc_test_has_an_entry_in_a_known_unit(test):
    found = entry(QC, test)
    assert found.label == QC_TESTS[test].label and found.unit in KNOWN_UNITS


def test_a_name_never_carries_two_units_and_a_figure_name_never_two_labels():
    units: dict[str, set[str]] = {}
    figure_labels: dict[str, set[str]] = {}
    for (step, name), found in REGISTRY.items():
        units.setdefault(name, set()).add(found.unit)
        if found.kind == "figure" and step not in (QC, LABEL):
            figure_labels.setdefault(name, set()).add(found.label)
    assert {n: u for n, u in units.items() if len(u) > 1} == {}
    assert {n: t for n, t in figure_labels.items() if len(t) > 1} == {}


def test_a_field_and_the_figure_that_repeats_it_in_a_step_agree_on_label_and_unit():
    for spec in STEPS.values():
        for figure in spec.figures:
            if figure.name in {f.name for f in spec.fields}:
                field = spec.field(figure.name)
                assert (field.label, field.unit or "") == (figure.label, figure.unit)


def test_every_protocol_limit_is_on_the_entry_it_judges_in_the_limit_unit():
    for step, limits in LIMITS.items():
        for lim in limits:
            found = entry(step, lim.field)
            assert lim.unit == found.unit, (step, lim.field)
            assert lim.code in {ref.code for ref in found.limits}


def test_limits_name_their_source_and_resolve_against_the_protocol():
    params = ProtocolParameters()
    viability = entry("isolate_mnc", "viability_pct")
    assert [(r.code, r.source) for r in viability.limits] == [
        ("ficoll_viability_min", "protocol")]
    assert viability.limit_texts(params) == ("≥ 80.0 %",)
    dose = entry("formulate", "viable_dose")
    assert dose.limit_texts(params, "CD133") == ("≥ 1.00 × 10⁶ cells", "≤ 12.0 × 10⁶ cells")
    assert entry("issue", "hours_since_harvest").limit_texts(params) == ("≤ 12 h",)


def test_the_physical_range_comes_from_the_field():
    assert entry("sediment", "volume_out_ml").physical_text() == "> 0 ml, ≤ 2,000 ml"
    assert entry("isolate_mnc", "viability_pct").physical_text() == "0.0–100.0 %"


def test_qc_limits_come_from_the_specification_in_the_one_format():
    spec = default_specification(ProtocolParameters(), "CD133")
    kw = {"weight_kg": 70.0, "volume_ml": 10.0}
    assert qc_limit_text("viable_dose", spec, **kw) == "1.00–12.0 × 10⁶ cells"
    assert qc_limit_text("viability", spec, **kw) == "≥ 70.0 %"
    assert qc_limit_text("endotoxin", spec, **kw) == "≤ 35.0 EU/ml"
    assert qc_limit_text("sterility", spec, **kw) == "no growth (may be pending)"
    html = qc_limit_text("viable_dose", spec, style="html", **kw)
    assert html == "1.00–12.0 × 10<sup>6</sup> cells"


def test_figures_print_one_way_for_text_html_and_pdf():
    assert format_figure("formulate", "viable_dose", 4.2e6) == "4.20 × 10⁶ cells"
    assert format_figure("formulate", "viable_dose", 4.2e6, "html") == "4.20 × 10<sup>6</sup> cells"
    assert format_figure("formulate", "dose_per_kg", 6.0e4, "pdf") == (
        "0.0600 × 10<super>6</super> cells/kg")
    assert format_figure("receive", "hours_since_harvest", 1.227) == "1 h 14 min"
    assert format_figure("receive", "bag_intact", True) == "yes"
    assert format_figure(QC, "endotoxin", 0.05) == "0.0500 EU/ml"
    assert format_figure("formulate", "qc_samples", None) == "—"


def test_the_mnc_yield_is_named_for_the_populations_it_divides():
    found = entry("isolate_mnc", "mnc_yield_pct")
    assert found.label == "MNC yield (MNC out / nucleated cells in)"
    assert found.quantity is Quantity.YIELD
    assert entry("isolate_mnc", "mnc_recovery_pct") is found  # records stored before the rename
    assert "recovery_above_100" in {ref.code for ref in found.limits}


def test_a_computed_figure_is_found_by_its_name_alone():
    found = figure_entry("hours_since_harvest")
    assert found is not None and (found.label, found.unit) == ("Time since harvest end", "h")


def test_the_label_figures_are_the_formulation_figures():
    assert entry(LABEL, "viable_dose") is entry("formulate", "viable_dose")
    assert entry(LABEL, "volume_ml").unit == "ml"


def test_api_descriptions_carry_label_unit_and_limits_with_their_source():
    text = entry("isolate_mnc", "viability_pct").describe()
    assert text == ("Viability, in %; possible range 0.0–100.0 %; protocol limit "
                    "ficoll_viability_min (ficoll_viability_min_pct; default ≥ 80.0 %)")


def test_bounds_and_ranges_print_in_the_unit_format():
    assert range_text(2, 25, "°C") == "2–25 °C"
    assert range_text(1e6, 12e6, "cells") == "1.00–12.0 × 10⁶ cells"
    assert bound_text(None, 10, "ml") == "≤ 10 ml"
    assert bound_text(0, None, "ml", above_min=True) == "> 0 ml"


def test_a_finding_names_the_value_by_its_registry_label():
    checks = Checks(ProtocolParameters(), {"viability_pct": "Viability"})
    checks.apply((Limit("viability_release_min", "viability_pct", "%",
                        low="viability_release_min_pct"),), {"viability_pct": 65.0})
    [finding] = checks.found
    assert finding.message == "Viability 65.0 % is below the protocol minimum of 70.0 %"


def test_a_computed_dose_outside_the_specification_is_stated_in_the_one_format():
    from workflows.qc_figures import computed_dose_problem

    spec = default_specification(ProtocolParameters(), "CD133")

    problem = computed_dose_problem({"viable_dose": 0.7e6}, spec)

    assert problem == ("computed viable dose 0.700 × 10⁶ cells is below the minimum "
                       "1.00 × 10⁶ cells (specification)")
