"""The eligibility checklist as data: every criterion has the protocol's words, and a refusal
says which criterion failed and how."""

from __future__ import annotations

from workflows.eligibility import (
    EXCLUSION,
    INCLUSION,
    NOTES,
    PROTOCOL_WORDS,
    assess,
    complete_checklist,
)

NEGATIVE = {"HIV": "negative", "HBV": "negative", "HCV": "negative"}


def test_every_criterion_is_asked_in_the_protocols_words_and_nothing_else_is():
    assert set(PROTOCOL_WORDS) == set(INCLUSION) | set(EXCLUSION)
    assert set(NOTES) <= set(PROTOCOL_WORDS)


def test_a_complete_checklist_with_negative_markers_is_eligible():
    assert assess(complete_checklist(), NEGATIVE).eligible


def test_an_unmet_inclusion_and_a_present_exclusion_are_named_apart_from_unanswered_ones():
    answers = {**complete_checklist(), "written_consent": False, "sepsis": True}
    del answers["inr_above_2"], answers["biopsy_cirrhosis"]

    result = assess(answers, {**NEGATIVE, "HBV": "reactive"})

    assert not result.eligible
    assert result.reasons == (
        "inclusion criterion not checked: Liver biopsy showing histological cirrhosis, "
        "Child-Pugh grade B or C",
        "inclusion criterion not met: Written consent",
        "exclusion criterion present: Sepsis",
        "exclusion criterion not checked: INR > 2",
        "HBV must be tested negative (is reactive)",
    )
