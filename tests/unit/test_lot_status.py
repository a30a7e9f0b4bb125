"""A reagent lot's status, as data: every (status, decision) pair against an explicit matrix,
and the words a step's refusal uses."""

from __future__ import annotations

import pytest

from workflows.materials import (
    LOT_STATUS_NAMES,
    LotStatus,
    lot_change_problem,
    lot_status_words,
    not_released,
)

Q, R, X = LotStatus.QUARANTINE, LotStatus.RELEASED, LotStatus.REJECTED
# (now, wanted): allowed
EXPECTED = {
    (Q, Q): False, (Q, R): True, (Q, X): True,
    (R, Q): False, (R, R): False, (R, X): True,  # a released lot is still rejected on a recall
    (X, Q): False, (X, R): False, (X, X): False,  # a rejection is final
}


@pytest.mark.parametrize(("now", "wanted"), list(EXPECTED))
def test_each_status_change_is_allowed_exactly_as_the_matrix_says(now, wanted):
    problem = lot_change_problem("FP2611", now.value, wanted)

    assert (problem is None) == EXPECTED[(now, wanted)], problem


def test_a_refused_change_says_where_the_lot_stands():
    assert lot_change_problem("FP2611", "rejected", R) == (
        "lot FP2611 is rejected: it cannot be released now")
    assert lot_change_problem("FP2611", "released", R) == (
        "lot FP2611 is already released for use")
    assert lot_change_problem("FP2611", "lost", R) == "lot FP2611 has an unknown status 'lost'"


def test_only_a_released_lot_goes_into_a_step():
    assert not_released("FP2611", "Ficoll-Paque", "released") is None
    assert not_released("FP2611", "Ficoll-Paque", "quarantine").startswith(
        "Ficoll-Paque lot FP2611 is in quarantine: QA has not released it for use")
    assert "was rejected by QA: it may not be used" in not_released(
        "FP2611", "Ficoll-Paque", "rejected")
    assert "unknown status" in not_released("FP2611", "Ficoll-Paque", "")


def test_every_status_has_its_words():
    assert set(LOT_STATUS_NAMES) == set(LotStatus)
    assert lot_status_words("quarantine") == "in quarantine"
    assert lot_status_words("made_up") == "made_up"
