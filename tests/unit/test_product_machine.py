"""The transition table is the spec: every state × trigger against an explicit matrix."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workflows.diagram import markdown
from workflows.errors import ErrorCode, TransitionRefused
from workflows.product import MACHINE, ProductFacts, ProductState, Trigger, fire
from workflows.words import action_words

S, T = ProductState, Trigger
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# What each trigger does from each state when every guard holds; absent = refused.
# Resume returns to the held-from state (here: received); re-release to the suspended-from
# state (here: released). Enrich and formulate differ by arm.
COMMON: dict[S, dict[T, S]] = {
    S.SCHEDULED: {T.HARVEST: S.COLLECTED},
    S.COLLECTED: {T.RECEIVE: S.RECEIVED},
    S.RECEIVED: {T.SEDIMENT: S.RBC_REDUCED},
    S.RBC_REDUCED: {T.ISOLATE_MNC: S.MNC_ISOLATED},
    S.MNC_ISOLATED: {},
    S.ENRICHED: {},
    S.FORMULATED: {T.COMPLETE_QC: S.AWAITING_RELEASE},
    S.AWAITING_RELEASE: {T.RELEASE: S.RELEASED, T.REJECT: S.REJECTED},
    S.RELEASED: {T.ISSUE: S.ISSUED, T.SUSPEND_RELEASE: S.RELEASE_SUSPENDED},
    S.REJECTED: {},
    S.ISSUED: {T.ADMINISTER: S.ADMINISTERED, T.SUSPEND_RELEASE: S.RELEASE_SUSPENDED},
    S.RELEASE_SUSPENDED: {T.RE_RELEASE: S.RELEASED, T.REJECT: S.REJECTED},
    S.ADMINISTERED: {},
    S.ON_HOLD: {T.RESUME: S.RECEIVED},
    S.DISCARDED: {},
    S.EXPIRED: {},
}
PRE_ADMINISTRATION = [s for s in S if s not in (S.ADMINISTERED, S.DISCARDED, S.EXPIRED)]
for _state in PRE_ADMINISTRATION:
    COMMON[_state][T.DISCARD] = S.DISCARDED
    if _state not in (S.ON_HOLD, S.REJECTED):
        COMMON[_state][T.HOLD] = S.ON_HOLD

EXPECTED: dict[str, dict[S, dict[T, S]]] = {
    "CD133": {**COMMON, S.MNC_ISOLATED: {**COMMON[S.MNC_ISOLATED], T.ENRICH: S.ENRICHED},
              S.ENRICHED: {**COMMON[S.ENRICHED], T.FORMULATE: S.FORMULATED}},
    "BM-MNC": {**COMMON, S.MNC_ISOLATED: {**COMMON[S.MNC_ISOLATED], T.FORMULATE: S.FORMULATED},
               S.ENRICHED: {**COMMON[S.ENRICHED]}},
}


def all_guards_hold(state: S, arm: str) -> ProductFacts:
    return ProductFacts(state=state.value, arm=arm, now=NOW, expires_at=NOW + timedelta(hours=6),
                        held_from=S.RECEIVED.value, identity_confirmed=True, step_data_valid=True,
                        reagents_in_date=True, equipment_in_calibration=True,
                        witness_confirmed=True, qc_complete=True, qc_passed=True,
                        reviewer_independent=True, reason_given=True,
                        deviations_closed=True, physician_approved=True,
                        suspended_from=S.RELEASED.value, failed_after_release=True,
                        exceptions_acknowledged=True)


@pytest.mark.parametrize("arm", ["CD133", "BM-MNC"])
@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("trigger", [t for t in T if t is not T.EXPIRE])
def test_every_state_and_trigger_matches_the_expected_matrix(arm, state, trigger):
    facts = all_guards_hold(state, arm)
    expected = EXPECTED[arm][state].get(trigger)
    if expected is None:
        with pytest.raises(TransitionRefused) as refused:
            fire(trigger, facts)
        expected_code = ErrorCode.INVALID_TRANSITION
        if trigger is T.EXCEPTIONAL_RELEASE and state in (S.AWAITING_RELEASE,
                                                           S.RELEASE_SUSPENDED):
            expected_code = ErrorCode.NOTHING_TO_EXCEPT  # all criteria met: normal release
        elif state is S.RELEASE_SUSPENDED and trigger in (T.ISSUE, T.ADMINISTER):
            expected_code = ErrorCode.RELEASE_SUSPENDED
        elif (trigger in (T.ENRICH, T.FORMULATE) and state is S.MNC_ISOLATED) or (
                trigger is T.FORMULATE and state is S.ENRICHED):
            expected_code = ErrorCode.WRONG_ARM
        assert refused.value.code == expected_code
        assert facts.state == state.value
    else:
        assert fire(trigger, facts) == expected


@pytest.mark.parametrize("state", list(S))
def test_expiry_is_possible_from_every_state_before_administration_once_due(state):
    facts = replace(all_guards_hold(state, "CD133"), expires_at=NOW - timedelta(minutes=1))
    if state in (S.ADMINISTERED, S.DISCARDED, S.EXPIRED):
        with pytest.raises(TransitionRefused):
            fire(T.EXPIRE, facts)
    else:
        assert fire(T.EXPIRE, facts) == S.EXPIRED


def test_expiry_is_refused_before_the_product_expires():
    with pytest.raises(TransitionRefused) as refused:
        fire(T.EXPIRE, all_guards_hold(S.RECEIVED, "CD133"))
    assert refused.value.code == ErrorCode.PRODUCT_NOT_EXPIRED


@pytest.mark.parametrize(("guard", "code"), [
    ("identity_confirmed", ErrorCode.IDENTITY_NOT_CONFIRMED),
    ("step_data_valid", ErrorCode.LIMIT_REFUSED),
    ("reagents_in_date", ErrorCode.REAGENT_EXPIRED),
    ("equipment_in_calibration", ErrorCode.EQUIPMENT_OUT_OF_CALIBRATION),
    ("witness_confirmed", ErrorCode.WITNESS_REQUIRED),
])
def test_a_processing_step_names_the_guard_that_failed(guard, code):
    facts = replace(all_guards_hold(S.RECEIVED, "CD133"), **{guard: False})
    with pytest.raises(TransitionRefused) as refused:
        fire(T.SEDIMENT, facts)
    assert refused.value.code == code
    assert facts.state == S.RECEIVED.value


def test_an_expired_product_cannot_be_issued_or_administered():
    for state, trigger in ((S.RELEASED, T.ISSUE), (S.ISSUED, T.ADMINISTER)):
        facts = replace(all_guards_hold(state, "CD133"), expires_at=NOW)
        with pytest.raises(TransitionRefused) as refused:
            fire(trigger, facts)
        assert refused.value.code == ErrorCode.PRODUCT_EXPIRED


def test_a_cd133_product_cannot_skip_enrichment():
    with pytest.raises(TransitionRefused) as refused:
        fire(T.FORMULATE, all_guards_hold(S.MNC_ISOLATED, "CD133"))
    assert refused.value.code == ErrorCode.WRONG_ARM


def test_a_bm_mnc_product_cannot_be_enriched():
    with pytest.raises(TransitionRefused) as refused:
        fire(T.ENRICH, all_guards_hold(S.MNC_ISOLATED, "BM-MNC"))
    assert refused.value.code == ErrorCode.WRONG_ARM


def test_release_needs_an_independent_reviewer_and_passing_qc():
    for guard, code in (("reviewer_independent", ErrorCode.NOT_INDEPENDENT),
                        ("deviations_closed", ErrorCode.DEVIATION_OPEN),
                        ("qc_passed", ErrorCode.QC_FAILED)):
        facts = replace(all_guards_hold(S.AWAITING_RELEASE, "CD133"), **{guard: False})
        with pytest.raises(TransitionRefused) as refused:
            fire(T.RELEASE, facts)
        assert refused.value.code == code


def test_every_release_waits_for_each_exception_acknowledged_and_a_rejection_never_does():
    for state, trigger, failed in ((S.AWAITING_RELEASE, T.RELEASE, {}),
                                   (S.AWAITING_RELEASE, T.EXCEPTIONAL_RELEASE,
                                    {"qc_passed": False}),
                                   (S.RELEASE_SUSPENDED, T.RE_RELEASE, {}),
                                   (S.RELEASE_SUSPENDED, T.EXCEPTIONAL_RELEASE,
                                    {"qc_passed": False})):
        facts = replace(all_guards_hold(state, "CD133"), exceptions_acknowledged=False,
                        **failed)
        with pytest.raises(TransitionRefused) as refused:
            fire(trigger, facts)
        assert refused.value.code == ErrorCode.EXCEPTIONS_NOT_ACKNOWLEDGED
        assert fire(T.REJECT, facts) == S.REJECTED
    # named last: a more fundamental refusal comes first
    with pytest.raises(TransitionRefused) as refused:
        fire(T.RELEASE, replace(all_guards_hold(S.AWAITING_RELEASE, "CD133"),
                                exceptions_acknowledged=False, qc_passed=False))
    assert refused.value.code == ErrorCode.QC_FAILED


def test_exceptional_release_needs_a_failed_criterion_and_the_physicians_approval():
    failed = replace(all_guards_hold(S.AWAITING_RELEASE, "CD133"), qc_passed=False)
    assert fire(T.EXCEPTIONAL_RELEASE, replace(failed)) == S.RELEASED
    with pytest.raises(TransitionRefused) as refused:
        fire(T.EXCEPTIONAL_RELEASE, replace(failed, physician_approved=False))
    assert refused.value.code == ErrorCode.PHYSICIAN_APPROVAL_REQUIRED
    with pytest.raises(TransitionRefused) as refused:
        fire(T.EXCEPTIONAL_RELEASE, all_guards_hold(S.AWAITING_RELEASE, "CD133"))
    assert refused.value.code == ErrorCode.NOTHING_TO_EXCEPT


def test_resume_returns_only_to_the_state_the_product_was_held_from():
    facts = replace(all_guards_hold(S.ON_HOLD, "CD133"), held_from=S.FORMULATED.value)
    assert fire(T.RESUME, facts) == S.FORMULATED


def test_the_machine_has_no_auto_transitions_backdoor():
    assert not [t for t in MACHINE.events if t.startswith("to_")]


def test_the_committed_diagram_matches_the_transition_table():
    committed = Path(__file__).resolve().parents[2] / "docs" / "state-machine.md"
    assert committed.read_text(encoding="utf-8") == markdown(), "run `lims diagram`"


def test_a_failure_after_release_suspends_a_product_held_after_release_and_ends_the_hold():
    for held_from in (S.RELEASED, S.ISSUED):
        facts = replace(all_guards_hold(S.ON_HOLD, "CD133"), held_from=held_from.value)
        assert fire(T.SUSPEND_RELEASE, facts) == S.RELEASE_SUSPENDED


def test_a_product_held_before_release_is_not_suspended():
    with pytest.raises(TransitionRefused) as refused:
        fire(T.SUSPEND_RELEASE, all_guards_hold(S.ON_HOLD, "CD133"))  # held from received
    assert refused.value.code == ErrorCode.INVALID_TRANSITION


def test_suspension_needs_a_failed_result():
    with pytest.raises(TransitionRefused):
        fire(T.SUSPEND_RELEASE, replace(all_guards_hold(S.RELEASED, "CD133"),
                                        failed_after_release=False))


def test_resuming_a_hold_of_a_suspended_product_never_leaves_the_suspension():
    facts = replace(all_guards_hold(S.ON_HOLD, "CD133"), held_from=S.RELEASE_SUSPENDED.value)
    assert fire(T.RESUME, facts) == S.RELEASE_SUSPENDED
    with pytest.raises(TransitionRefused) as refused:
        fire(T.ISSUE, facts)
    assert refused.value.code == ErrorCode.RELEASE_SUSPENDED


def test_re_release_returns_to_the_state_the_release_was_suspended_from():
    facts = replace(all_guards_hold(S.RELEASE_SUSPENDED, "CD133"), suspended_from=S.ISSUED.value)
    assert fire(T.RE_RELEASE, facts) == S.ISSUED


@pytest.mark.parametrize(("guard", "code"), [
    ("qc_passed", ErrorCode.QC_FAILED),
    ("reviewer_independent", ErrorCode.NOT_INDEPENDENT),
    ("deviations_closed", ErrorCode.DEVIATION_OPEN),
])
def test_re_release_needs_passing_results_an_independent_reviewer_and_closed_deviations(
        guard, code):
    facts = replace(all_guards_hold(S.RELEASE_SUSPENDED, "CD133"), **{guard: False})
    with pytest.raises(TransitionRefused) as refused:
        fire(T.RE_RELEASE, facts)
    assert refused.value.code == code


def test_a_suspended_product_may_be_released_exceptionally_with_the_physicians_approval():
    failed = replace(all_guards_hold(S.RELEASE_SUSPENDED, "CD133"), qc_passed=False,
                     suspended_from=S.ISSUED.value)
    assert fire(T.EXCEPTIONAL_RELEASE, replace(failed)) == S.ISSUED
    with pytest.raises(TransitionRefused) as refused:
        fire(T.EXCEPTIONAL_RELEASE, replace(failed, physician_approved=False))
    assert refused.value.code == ErrorCode.PHYSICIAN_APPROVAL_REQUIRED


def test_issue_and_administration_of_a_suspended_product_say_release_suspended():
    facts = all_guards_hold(S.RELEASE_SUSPENDED, "CD133")
    for trigger in (T.ISSUE, T.ADMINISTER):
        with pytest.raises(TransitionRefused) as refused:
            fire(trigger, facts)
        # the step in words, never its code ('issue')
        assert refused.value.detail.startswith(
            f"{action_words(trigger)} refused: release suspended")
