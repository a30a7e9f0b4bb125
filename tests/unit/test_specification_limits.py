"""The limits of a release specification in the registry's words, and as typed on the page."""

from __future__ import annotations

import pytest

from workflows.protocol import ProtocolParameters
from workflows.specification_limits import limit_rows, read_changes, read_limit, typed_value
from workflows.specifications import (
    Specification,
    SpecificationStatus,
    changed_limits,
    default_specification,
)

V1 = default_specification(ProtocolParameters(), "CD133").to_mapping()


def test_each_limit_reads_with_the_registrys_label_and_unit():
    rows = {row.label: row.text for row in limit_rows(V1)}
    assert rows["Viability (7-AAD): minimum"] == "≥ 70.0 %"
    assert rows["Viable dose: maximum"] == "≤ 12.0 × 10⁶ cells"
    assert rows["Endotoxin: basis of the limit"] == "K × body weight ÷ product volume"
    assert rows["Mycoplasma: required for release"] == "no"


def test_a_limit_that_differs_from_the_version_in_force_is_marked():
    v2 = {**V1, "viability_min_pct": 80.0}
    assert changed_limits(V1, v2) == ("viability_min_pct",)
    assert [r.name for r in limit_rows(v2, V1) if r.changed] == ["viability_min_pct"]


def test_only_limits_typed_differently_are_changes_and_bad_ones_are_named():
    typed = {name: typed_value(name, value) for name, value in V1.items() if name != "arm"}
    changes, errors = read_changes({**typed, "dose_max_cells": "1e7",
                                    "viability_min_pct": "7O"}, V1)
    assert changes == {"dose_max_cells": 1e7}
    assert errors == {"viability_min_pct": "'7O' is not a number of %"}


@pytest.mark.parametrize(("name", "text"), [("viability_min_pct", "-1"),
                                            ("dose_min_cells", "inf"),
                                            ("endotoxin_basis", "per_litre"),
                                            ("mycoplasma_required", "maybe"),
                                            ("viability_min_pct", "７０")])
def test_an_impossible_limit_is_refused(name, text):
    with pytest.raises(ValueError):
        read_limit(name, text)


def test_a_specification_with_a_non_number_or_an_infinite_limit_is_refused():
    for bad in ({"dose_max_cells": float("inf")}, {"viability_min_pct": "70"},
                {"mycoplasma_required": 1}):
        with pytest.raises(ValueError):
            Specification.from_mapping({**V1, **bad})


def test_every_status_has_its_words():
    assert {s.value for s in SpecificationStatus} == {"draft", "approved", "withdrawn"}
    assert all(s.words for s in SpecificationStatus)
