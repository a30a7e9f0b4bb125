"""The autologous product lifecycle as data: states, transition table, one shared machine.

The database column holds the state; the machine is stateless and shared by
every product (building a Machine costs ~1 ms, firing a trigger ~10 µs).
Guards are boolean facts that the service establishes before firing, so the
machine itself never touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from transitions import EventData, Machine

from workflows.errors import ErrorCode, TransitionRefused
from workflows.roles import Role
from workflows.words import action_words, state_words


class Arm(StrEnum):
    CD133 = "CD133"  # CliniMACS CD133+ enrichment after Ficoll
    BM_MNC = "BM-MNC"  # Ficoll mononuclear cells, no enrichment


class ProductState(StrEnum):
    SCHEDULED = "scheduled"  # DIN assigned, collection bag labelled, harvest not yet recorded
    COLLECTED = "collected"  # marrow harvested in the OR, on its way to the lab
    RECEIVED = "received"  # received in the lab, bag identity and condition checked
    RBC_REDUCED = "rbc_reduced"  # red cells sedimented, leukocyte-rich fraction in a new bag
    MNC_ISOLATED = "mnc_isolated"  # mononuclear cells isolated on Ficoll-Paque
    ENRICHED = "enriched"  # CD133 arm: CD133+ target fraction selected on CliniMACS
    FORMULATED = "formulated"  # final product made up, QC samples drawn, awaiting QC results
    AWAITING_RELEASE = "awaiting_release"  # QC complete, in the QA queue
    RELEASED = "released"  # released by QA, may be issued
    REJECTED = "rejected"  # rejected by QA, may only be discarded
    ISSUED = "issued"  # left the lab for the procedure room
    ADMINISTERED = "administered"  # injected into the patient's portal vein (final)
    ON_HOLD = "on_hold"  # held pending a decision; resumes to the state it was held from
    # A QC result recorded or corrected after release failed its specification: nothing may
    # be issued or administered until QA decides (re-release, exceptional release, reject).
    RELEASE_SUSPENDED = "release_suspended"
    DISCARDED = "discarded"  # destroyed with a reason (final)
    EXPIRED = "expired"  # passed its expiry before administration (final)


class Trigger(StrEnum):
    HARVEST = "harvest"
    RECEIVE = "receive"
    SEDIMENT = "sediment"
    ISOLATE_MNC = "isolate_mnc"
    ENRICH = "enrich"
    FORMULATE = "formulate"
    COMPLETE_QC = "complete_qc"
    RELEASE = "release"
    EXCEPTIONAL_RELEASE = "exceptional_release"
    REJECT = "reject"
    SUSPEND_RELEASE = "suspend_release"
    RE_RELEASE = "re_release"
    ISSUE = "issue"
    ADMINISTER = "administer"
    HOLD = "hold"
    RESUME = "resume"
    DISCARD = "discard"
    EXPIRE = "expire"


S = ProductState
T = Trigger

FINAL_STATES = frozenset({S.ADMINISTERED, S.DISCARDED, S.EXPIRED})
# A product can be held, discarded or expired from any state before administration.
ACTIVE_STATES = tuple(s for s in S if s not in FINAL_STATES and s is not S.ON_HOLD)
HOLDABLE_STATES = tuple(s for s in ACTIVE_STATES if s is not S.REJECTED)
# Where a release suspension can come from, and where a re-release returns the product.
RELEASED_STATES = (S.RELEASED, S.ISSUED)

# Guards a processing step needs, in the order they are reported when several fail.
PROCESSING = ["product_in_date", "identity_confirmed", "step_data_valid",
              "reagents_in_date", "equipment_in_calibration"]
WITNESSED = [*PROCESSING, "witness_confirmed"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": T.HARVEST, "source": S.SCHEDULED, "dest": S.COLLECTED, "conditions": WITNESSED},
    {"trigger": T.RECEIVE, "source": S.COLLECTED, "dest": S.RECEIVED, "conditions": PROCESSING},
    {"trigger": T.SEDIMENT, "source": S.RECEIVED, "dest": S.RBC_REDUCED, "conditions": WITNESSED},
    {"trigger": T.ISOLATE_MNC, "source": S.RBC_REDUCED, "dest": S.MNC_ISOLATED,
     "conditions": WITNESSED},
    {"trigger": T.ENRICH, "source": S.MNC_ISOLATED, "dest": S.ENRICHED,
     "conditions": ["is_cd133_arm", *WITNESSED]},
    {"trigger": T.FORMULATE, "source": S.MNC_ISOLATED, "dest": S.FORMULATED,
     "conditions": ["is_bm_mnc_arm", *WITNESSED]},
    {"trigger": T.FORMULATE, "source": S.ENRICHED, "dest": S.FORMULATED,
     "conditions": ["is_cd133_arm", *WITNESSED]},
    {"trigger": T.COMPLETE_QC, "source": S.FORMULATED, "dest": S.AWAITING_RELEASE,
     "conditions": ["product_in_date", "qc_complete"]},
    # Every release is signed only once QA has acknowledged each exception of the review
    # (last, so a more fundamental refusal is named first); a rejection never waits for it.
    {"trigger": T.RELEASE, "source": S.AWAITING_RELEASE, "dest": S.RELEASED,
     "conditions": ["product_in_date", "reviewer_independent", "deviations_closed",
                    "qc_passed", "exceptions_acknowledged"]},
    # FACT: a non-conforming product only with the medical director's signed approval.
    {"trigger": T.EXCEPTIONAL_RELEASE, "source": S.AWAITING_RELEASE, "dest": S.RELEASED,
     "conditions": ["product_in_date", "reviewer_independent", "deviations_closed",
                    "has_failed_criterion", "physician_approved", "reason_given",
                    "exceptions_acknowledged"]},
    {"trigger": T.REJECT, "source": S.AWAITING_RELEASE, "dest": S.REJECTED,
     "conditions": ["reviewer_independent", "reason_given"]},
    # A QC result failed after release: suspended from released or issued, or from a hold
    # of either (the hold ends: release_suspended is itself the stronger hold).
    {"trigger": T.SUSPEND_RELEASE, "source": list(RELEASED_STATES), "dest": S.RELEASE_SUSPENDED,
     "conditions": ["failed_after_release"]},
    {"trigger": T.SUSPEND_RELEASE, "source": S.ON_HOLD, "dest": S.RELEASE_SUSPENDED,
     "conditions": ["held_after_release", "failed_after_release"]},
    # Only a signed QA decision lifts a suspension; a re-release returns to the state the
    # product was suspended from, and needs every current result within specification.
    *[
        {"trigger": T.RE_RELEASE, "source": S.RELEASE_SUSPENDED, "dest": state,
         "conditions": ["suspended_from_matches", "product_in_date", "reviewer_independent",
                        "deviations_closed", "qc_passed", "exceptions_acknowledged"]}
        for state in RELEASED_STATES
    ],
    *[
        {"trigger": T.EXCEPTIONAL_RELEASE, "source": S.RELEASE_SUSPENDED, "dest": state,
         "conditions": ["suspended_from_matches", "product_in_date", "reviewer_independent",
                        "deviations_closed", "has_failed_criterion", "physician_approved",
                        "reason_given", "exceptions_acknowledged"]}
        for state in RELEASED_STATES
    ],
    {"trigger": T.REJECT, "source": S.RELEASE_SUSPENDED, "dest": S.REJECTED,
     "conditions": ["reviewer_independent", "reason_given"]},
    {"trigger": T.ISSUE, "source": S.RELEASED, "dest": S.ISSUED,
     "conditions": ["product_in_date", "identity_confirmed", "step_data_valid",
                    "witness_confirmed"]},
    {"trigger": T.ADMINISTER, "source": S.ISSUED, "dest": S.ADMINISTERED,
     "conditions": ["product_in_date", "identity_confirmed", "step_data_valid",
                    "witness_confirmed"]},
    {"trigger": T.HOLD, "source": list(HOLDABLE_STATES), "dest": S.ON_HOLD,
     "conditions": ["reason_given"]},
    *[
        {"trigger": T.RESUME, "source": S.ON_HOLD, "dest": state,
         "conditions": ["held_from_matches", "reason_given"]}
        for state in HOLDABLE_STATES
    ],
    {"trigger": T.DISCARD, "source": [*ACTIVE_STATES, S.ON_HOLD], "dest": S.DISCARDED,
     "conditions": ["reason_given"]},
    {"trigger": T.EXPIRE, "source": [*ACTIVE_STATES, S.ON_HOLD], "dest": S.EXPIRED,
     "conditions": ["expiry_reached"]},
]

# Who may fire each trigger. Segregation of duties beyond the role (QA may not release
# what they processed, a witness must be someone else) is a guard, not a role.
TRIGGER_ROLES: Mapping[Trigger, frozenset[str]] = {
    T.HARVEST: frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.PHYSICIAN}),
    T.RECEIVE: frozenset({Role.TECHNICIAN, Role.SUPERVISOR}),
    T.SEDIMENT: frozenset({Role.TECHNICIAN, Role.SUPERVISOR}),
    T.ISOLATE_MNC: frozenset({Role.TECHNICIAN, Role.SUPERVISOR}),
    T.ENRICH: frozenset({Role.TECHNICIAN, Role.SUPERVISOR}),
    T.FORMULATE: frozenset({Role.TECHNICIAN, Role.SUPERVISOR}),
    T.COMPLETE_QC: frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA}),
    T.RELEASE: frozenset({Role.QA}),
    T.EXCEPTIONAL_RELEASE: frozenset({Role.QA}),
    T.REJECT: frozenset({Role.QA}),
    # Fired by the QC service when a result recorded after release fails.
    T.SUSPEND_RELEASE: frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA}),
    T.RE_RELEASE: frozenset({Role.QA}),
    T.ISSUE: frozenset({Role.TECHNICIAN, Role.SUPERVISOR}),
    T.ADMINISTER: frozenset({Role.PHYSICIAN}),
    T.HOLD: frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA}),
    T.RESUME: frozenset({Role.SUPERVISOR, Role.QA}),
    T.DISCARD: frozenset({Role.SUPERVISOR, Role.QA}),
    # The administrator manages users and master data only: no product trigger. The
    # scheduled expiry runs as the system (no role), not as an administrator.
    T.EXPIRE: frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA, Role.PHYSICIAN}),
}

GUARD_ERRORS: Mapping[str, tuple[ErrorCode, str]] = {
    "is_cd133_arm": (ErrorCode.WRONG_ARM, "this step belongs to the CD133 arm only"),
    "is_bm_mnc_arm": (ErrorCode.WRONG_ARM,
                      "a CD133-arm product must be enriched before formulation"),
    "product_in_date": (ErrorCode.PRODUCT_EXPIRED, "the product has passed its expiry"),
    "identity_confirmed": (ErrorCode.IDENTITY_NOT_CONFIRMED,
                           "the container's identity has not been confirmed by a scan"),
    "step_data_valid": (ErrorCode.LIMIT_REFUSED, "the step data breach a protocol limit"),
    "reagents_in_date": (ErrorCode.REAGENT_EXPIRED, "a reagent lot is expired"),
    "equipment_in_calibration": (ErrorCode.EQUIPMENT_OUT_OF_CALIBRATION,
                                 "equipment is out of calibration"),
    "witness_confirmed": (ErrorCode.WITNESS_REQUIRED,
                          "this step needs a witness who is a different user"),
    "qc_complete": (ErrorCode.QC_INCOMPLETE, "required QC results are missing"),
    "qc_passed": (ErrorCode.QC_FAILED, "a QC result is out of specification"),
    "deviations_closed": (ErrorCode.DEVIATION_OPEN,
                          "a major or critical deviation is still open"),
    "has_failed_criterion": (ErrorCode.NOTHING_TO_EXCEPT,
                             "every criterion is met: use the normal release"),
    "physician_approved": (ErrorCode.PHYSICIAN_APPROVAL_REQUIRED,
                           "exceptional release needs the physician's signed approval"),
    "reviewer_independent": (ErrorCode.NOT_INDEPENDENT,
                             "the reviewer performed or witnessed a step of this product"),
    "reason_given": (ErrorCode.REASON_REQUIRED, "a reason is required"),
    "exceptions_acknowledged": (ErrorCode.EXCEPTIONS_NOT_ACKNOWLEDGED,
                                "QA has not acknowledged every exception of the review"),
    "held_from_matches": (ErrorCode.NOT_HELD_FROM, "the product was held from another state"),
    "expiry_reached": (ErrorCode.PRODUCT_NOT_EXPIRED, "the product has not reached its expiry"),
    "failed_after_release": (ErrorCode.INVALID_TRANSITION,
                             "no QC result has failed since the product was released"),
    "held_after_release": (ErrorCode.INVALID_TRANSITION,
                           "the product was put on hold before it was released"),
    "suspended_from_matches": (ErrorCode.NOT_HELD_FROM,
                               "the product's release was suspended from another state"),
}

RELEASE_SUSPENDED_TEXT = (
    "release suspended: a QC result recorded after release failed its specification. "
    "STOP: do not issue or administer this product; keep it aside and call QA, who must "
    "decide (re-release after a verified correction, exceptional release with the "
    "physician's approval, or reject)")


def not_possible(trigger: Trigger | str, state: str,
                 held_from: str | None = None) -> TransitionRefused:
    """The refusal of a trigger that has no transition out of `state`."""
    if S.RELEASE_SUSPENDED in (state, held_from) and str(trigger) in (T.ISSUE, T.ADMINISTER):
        return TransitionRefused(ErrorCode.RELEASE_SUSPENDED,
                                 f"{action_words(str(trigger))} refused: "
                                 f"{RELEASE_SUSPENDED_TEXT}")
    hint = ""
    if state == S.RELEASE_SUSPENDED and str(trigger) == T.RELEASE:
        hint = ": its release is suspended; QA re-releases it once every result passes"
    return TransitionRefused(ErrorCode.INVALID_TRANSITION,
                             f"{action_words(str(trigger))} is not possible while the product "
                             f"is at \"{state_words(state)}\"{hint}")


@dataclass
class ProductFacts:
    """What the service established about a product before firing a trigger.

    Every guard defaults to False so a fact the service forgot to check refuses.
    """

    state: str
    arm: str
    now: datetime
    expires_at: datetime | None = None
    held_from: str | None = None
    suspended_from: str | None = None
    identity_confirmed: bool = False
    step_data_valid: bool = False
    reagents_in_date: bool = False
    equipment_in_calibration: bool = False
    witness_confirmed: bool = False
    qc_complete: bool = False
    qc_passed: bool = False
    deviations_closed: bool = False
    physician_approved: bool = False
    reviewer_independent: bool = False
    reason_given: bool = False
    failed_after_release: bool = False
    exceptions_acknowledged: bool = False

    @property
    def is_cd133_arm(self) -> bool:
        return self.arm == Arm.CD133

    @property
    def is_bm_mnc_arm(self) -> bool:
        return self.arm == Arm.BM_MNC

    @property
    def product_in_date(self) -> bool:
        return self.expires_at is None or self.now < self.expires_at

    @property
    def has_failed_criterion(self) -> bool:
        return self.qc_complete and not self.qc_passed

    @property
    def expiry_reached(self) -> bool:
        return self.expires_at is not None and self.now >= self.expires_at

    @property
    def held_after_release(self) -> bool:
        return self.held_from in RELEASED_STATES

    def held_from_matches(self, event: EventData) -> bool:
        assert event.transition is not None
        return self.held_from == event.transition.dest

    def suspended_from_matches(self, event: EventData) -> bool:
        assert event.transition is not None
        return self.suspended_from == event.transition.dest


def _plain(transition: Mapping[str, Any]) -> dict[str, Any]:
    # transitions maps Enum members to their *names*; the machine works on the values.
    def value(x: Any) -> Any:
        return [str(v) for v in x] if isinstance(x, list) else str(x)

    return {k: value(v) if k in ("trigger", "source", "dest") else v
            for k, v in transition.items()}


MACHINE = Machine(
    model=None,
    states=[s.value for s in ProductState],
    transitions=[_plain(t) for t in TRANSITIONS],
    initial=S.SCHEDULED.value,
    auto_transitions=False,
    send_event=True,
)


def fire(trigger: Trigger | str, facts: ProductFacts,
         explain: Mapping[str, str] | None = None) -> ProductState:
    """Fire `trigger` on `facts`; return the new state or raise a coded refusal.

    `explain` maps a guard name to a precise reason the service found (which lot
    expired), used instead of the guard's generic message.
    """
    event = MACHINE.events.get(str(trigger))
    candidates = MACHINE.get_transitions(trigger=str(trigger), source=str(facts.state))
    if event is None or not candidates:
        raise not_possible(trigger, facts.state, facts.held_from)
    if event.trigger(facts):
        return ProductState(facts.state)
    raise _first_failed_guard(str(trigger), facts, candidates, explain or {})


def _first_failed_guard(trigger: str, facts: ProductFacts, candidates: list[Any],
                        explain: Mapping[str, str]) -> TransitionRefused:
    # Name the guard that failed on the most promising candidate (the one failing latest),
    # so a CD133 product formulated too early reports the arm, not an unrelated fact.
    best: tuple[int, str] | None = None
    for transition in candidates:
        for position, condition in enumerate(transition.conditions):
            name = str(condition.func)
            value = getattr(facts, name)
            passed = value(_FakeEvent(transition)) if callable(value) else bool(value)
            if not passed:
                if best is None or position > best[0]:
                    best = (position, name)
                break
    name = best[1] if best else "reason_given"
    code, message = GUARD_ERRORS[name]
    return TransitionRefused(code, f"{action_words(str(trigger))} refused: "
                                   f"{explain.get(name, message)}")


class _FakeEvent:
    """Just enough of an EventData for guards that look at the transition."""

    def __init__(self, transition: Any) -> None:
        self.transition = transition


def allowed_triggers(state: str) -> list[Trigger]:
    """Triggers that have at least one transition out of `state` (guards not evaluated)."""
    return [t for t in Trigger if MACHINE.get_transitions(trigger=t.value, source=str(state))]


def guards_for(trigger: Trigger | str, state: str) -> list[str]:
    """Guard names the service must establish for `trigger` from `state`."""
    names: list[str] = []
    for transition in MACHINE.get_transitions(trigger=str(trigger), source=str(state)):
        names.extend(str(c.func) for c in transition.conditions if str(c.func) not in names)
    return names


def requires_witness(trigger: Trigger | str) -> bool:
    return any("witness_confirmed" in t.get("conditions", [])
               for t in TRANSITIONS if t["trigger"] == trigger)
