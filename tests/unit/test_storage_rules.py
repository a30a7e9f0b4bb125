"""Storage rules (issue 16): one disposition enumeration, the location hierarchy, box
positions and the temperature range a location inherits."""

from __future__ import annotations

import re

import pytest

from workflows.errors import InvalidInput
from workflows.storage import (
    REMOVAL_OUTCOME,
    TRANSITIONS,
    Disposition,
    RemovalReason,
    box_positions,
    can_become,
    check_box_size,
    check_code,
    check_parent,
    check_range,
    effective_range,
    position_code,
    storable_refusal,
)
from workflows.words import CONTAINER_STATUS


def test_one_enumeration_holds_the_statuses_of_today_and_the_words_of_each() -> None:
    assert {"in_use", "consumed", "discarded", "administered"} <= set(Disposition)
    assert set(CONTAINER_STATUS) == set(Disposition)
    assert set(TRANSITIONS) == set(Disposition)


def test_transitions() -> None:
    assert can_become("in_use", Disposition.STORED)
    assert can_become("stored", Disposition.OUT_FOR_TESTING)
    assert can_become("out_for_testing", Disposition.STORED)
    assert not can_become("discarded", Disposition.STORED)
    assert not can_become("consumed", Disposition.STORED)
    assert not can_become("stored", Disposition.STORED)
    for final in (Disposition.CONSUMED, Disposition.ADMINISTERED, Disposition.DISCARDED):
        assert TRANSITIONS[final] == frozenset()
    # every removal leads somewhere a stored container may go
    assert all(can_become("stored", target) for target in REMOVAL_OUTCOME.values())
    assert REMOVAL_OUTCOME[RemovalReason.DISCARD] is Disposition.DISCARDED
    with pytest.raises(InvalidInput):
        can_become("lost", Disposition.STORED)


def test_what_may_be_stored() -> None:
    assert storable_refusal("retention_sample", "in_use") is None
    assert storable_refusal("cd133_negative", "returned") is None
    assert "not kept in storage" in (storable_refusal("final_product", "in_use") or "")
    assert "already stored" in (storable_refusal("qc_sample", "stored") or "")
    assert "discarded" in (storable_refusal("qc_sample", "discarded") or "")


@pytest.mark.parametrize(("kind", "parent"), [
    ("site", None), ("room", "site"), ("freezer", "room"), ("fridge", "room"),
    ("rack", "freezer"), ("box", "rack"), ("box", "fridge"), ("position", "box")])
def test_allowed_places(kind: str, parent: str | None) -> None:
    assert check_parent(kind, parent) == kind


@pytest.mark.parametrize(("kind", "parent", "words"), [
    ("position", "rack", "a position cannot be inside a rack (only inside a box)"),
    ("box", "room", "a box cannot be inside a room"),
    ("room", None, "a room must be inside a site"),
    ("site", "room", "a site is the top"),
    ("shelf", "room", "not a kind of location")])
def test_refused_places(kind: str, parent: str | None, words: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(words)):
        check_parent(kind, parent)


def test_box_positions_and_their_codes() -> None:
    positions = box_positions(2, 3)
    assert [name for _r, _c, name in positions] == ["A1", "A2", "A3", "B1", "B2", "B3"]
    assert position_code("BOX7", 9, 9) == "BOX7-I9"
    for rows, columns in ((0, 3), (27, 1), (None, 2)):
        with pytest.raises(InvalidInput):
            check_box_size(rows, columns)


def test_codes_are_what_a_scanner_can_type() -> None:
    assert check_code(" frz-1 ") == "FRZ-1"
    for bad in ("X", "FRZ 1", "FRZ/1", "Ä1", "A" * 35):
        with pytest.raises(InvalidInput):
            check_code(bad)


def test_the_range_is_inherited_bound_by_bound() -> None:
    # a box (no range) in a rack (no range) in a freezer that sets only its highest, in a
    # room that sets both: the lowest comes from the room, the highest from the freezer
    found = effective_range([(None, None), (None, None), (None, -60.0), (15.0, 25.0)])
    assert (found.low_c, found.high_c) == (15.0, -60.0)
    assert effective_range([(2.0, 8.0)]).words() == "2 to 8 °C"
    assert effective_range([]).words() == "no range set"
    with pytest.raises(InvalidInput, match="above the highest"):
        check_range(8.0, 2.0)
    with pytest.raises(InvalidInput):
        check_range(-300.0, None)
