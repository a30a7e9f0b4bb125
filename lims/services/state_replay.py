"""Each product's history replayed through the state machine, from its audit events.

The replay starts where every product starts (scheduled) and takes its `state_changed`
events in chain order: each must leave the state the previous one reached, by a
transition the process allows. Where a hold or a release suspension came from is
tracked as the services track it, so the replayed state, `held_from` and
`suspended_from` are what the product row must say. QA decisions (release, exceptional
release, re-release, rejection) are collected with the signatures made just before
them, for the signature checks in `release_signatures`; so is a discard (a signed
decision since issue 11). Administrations are collected for the physician's signature
check in `bedside_signatures`, and where each signature meaning first appears in the
trail (before it, the system made no such signature: old data, not tampering).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lims.audit_actions import AuditAction as A
from lims.models import Product
from lims.services.audit_trail_index import Event, Trail
from lims.services.transitions import _bookkeeping
from lims.services.verdicts import Problem
from workflows.product import MACHINE, ProductState, Trigger

# The signature meaning a QA decision rests on (Part 11 §11.50: the meaning of signing).
DECISION_MEANINGS = {Trigger.RELEASE: "Released", Trigger.EXCEPTIONAL_RELEASE: "Released",
                     Trigger.RE_RELEASE: "Re-released", Trigger.REJECT: "Rejected",
                     Trigger.DISCARD: "Discarded"}
_STATE_GUARDS = ("held_from_matches", "suspended_from_matches", "held_after_release")


@dataclass
class Replayed:
    """Where a product's history leaves it."""

    state: str
    held_from: str | None = None
    suspended_from: str | None = None


@dataclass(frozen=True)
class Decision:
    """A QA decision in a product's history and the product signatures made for it."""

    din: str
    event: Event
    meanings: frozenset[str]  # any of these is the decision's own signature
    signed: tuple[Event, ...]


@dataclass
class Replay:
    products: dict[str, Replayed] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    administrations: list[Event] = field(default_factory=list)  # their state changes
    # Signature meaning -> seq of the first signature of that meaning anywhere in the trail.
    first_signed: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def signed_before(self, meaning: str, seq: int) -> bool:
        """Had the system made any signature of `meaning` before event `seq`?"""
        return self.first_signed.get(meaning, seq) < seq


def replay_histories(trail: Trail) -> Replay:
    replay = Replay()
    for din, created in trail.first(A.PRODUCT_CREATED, field="state").items():
        if created.new != ProductState.SCHEDULED:
            replay.problems.append(Problem(f"event {created.seq} (product {din} created)",
                                           "first state", ProductState.SCHEDULED.value,
                                           str(created.new)))
        replay.products[din] = Replayed(created.new or "")
    signed: dict[str, list[Event]] = {}
    for event in trail.each(A.STATE_CHANGED, A.SIGNED):  # streamed: never all held
        if event.action == A.SIGNED:
            replay.first_signed.setdefault(str(event.new_json().get("meaning")), event.seq)
            if event.entity == "product":
                signed.setdefault(event.entity_id, []).append(event)
            continue
        _step(replay, event, tuple(signed.pop(event.entity_id, [])))
    return replay


def _step(replay: Replay, event: Event, signed: tuple[Event, ...]) -> None:
    din, old, new = event.entity_id, event.old or "", event.new or ""
    where = f"event {event.seq} (product {din}: {old} → {new})"
    now = replay.products.get(din)
    if now is None:
        replay.problems.append(Problem(where, "product history",
                                       "a product_created event before its first state change",
                                       "none: the product has no recorded creation"))
        now = replay.products[din] = Replayed(old)
    if old != now.state:
        replay.problems.append(Problem(where, "state before the change",
                                       f"{now.state} (where its history left it)", old))
        now.state = old
    triggers = _triggers(now, old, new)
    if not triggers:
        allowed = ", ".join(sorted({f"{t.dest}" for t in MACHINE.get_transitions(source=old)}))
        replay.problems.append(Problem(where, "transition",
                                       f"a move the process allows from {old} ({allowed})",
                                       f"{old} → {new}, which no step or decision allows"))
    else:
        _keep_books(now, triggers[0])
        meanings = frozenset(DECISION_MEANINGS[t] for t in triggers if t in DECISION_MEANINGS)
        if meanings:
            replay.decisions.append(Decision(din, event, meanings, signed))
        if Trigger.ADMINISTER in triggers:
            replay.administrations.append(event)
    now.state = new


def _triggers(now: Replayed, old: str, new: str) -> tuple[Trigger, ...]:
    """The triggers that take `old` to `new`, given where a hold or suspension came from."""
    return _triggers_from(old, new, now.held_from, now.suspended_from)


# A handful of distinct moves, asked once per state change (a million of them); bounded
# all the same, as the states come from the trail.
@lru_cache(maxsize=4096)
def _triggers_from(old: str, new: str, held_from: str | None,
                   suspended_from: str | None) -> tuple[Trigger, ...]:
    now = Replayed(old, held_from, suspended_from)
    found = []
    for trigger in Trigger:
        for transition in MACHINE.get_transitions(trigger=trigger.value, source=old, dest=new):
            names = [str(c.func) for c in transition.conditions if str(c.func) in _STATE_GUARDS]
            if all(_holds(name, now, new) for name in names):
                found.append(trigger)
                break
    return tuple(found)


def _holds(guard: str, now: Replayed, dest: str) -> bool:
    if guard == "held_from_matches":
        return now.held_from == dest
    if guard == "suspended_from_matches":
        return now.suspended_from == dest
    return now.held_from in (ProductState.RELEASED, ProductState.ISSUED)


def _keep_books(now: Replayed, trigger: Trigger) -> None:
    """Track held_from and suspended_from exactly as the transition service does."""
    for name, value in _books(trigger, now.state, now.held_from, now.suspended_from):
        setattr(now, name, value)


@lru_cache(maxsize=4096)  # as _triggers_from: a product row built once per case, not per move
def _books(trigger: Trigger, state: str, held_from: str | None,
           suspended_from: str | None) -> tuple[tuple[str, Any], ...]:
    shadow = Product(din="", patient_id=0, protocol_id=0, arm="", state=state,
                     held_from=held_from, suspended_from=suspended_from)
    return tuple(_bookkeeping(shadow, trigger).items())
