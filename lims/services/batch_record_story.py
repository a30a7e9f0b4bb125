"""The batch record's story beyond the step data: decisions on the product, corrections of
step records, and the chain of custody of each container.

Decisions (hold, resume, discard, release suspension, re-release, rejection, expiry,
release) are read from the state-change audit events, the one history of the product's
state (lims.services.suspensions reads the same); people are printed by their full names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlmodel import Session, col, select

import labels.batch_record as br
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Product, Signature, StepRecord, User
from lims.services.batch_record_parts import Context, computed_lines, value_lines
from workflows.product import ProductState, Trigger
from workflows.steps import STEPS
from workflows.words import STATES

S = ProductState
Names = Mapping[int | None, User]


def full_name(users: Names, user_id: int | None) -> str:
    user = users.get(user_id)
    return user.full_name if user else "unknown user"


def state_words(state: str | None) -> str:
    """A state as the lab says it ("RBC reduced", "On hold"); an unknown code as it is."""
    return STATES.get(state or "", state or "—")


def _decision(old: str | None, new: str | None) -> str:
    """What a state change was, from where it went."""
    if new == S.ON_HOLD:
        return "Put on hold"
    if new == S.RELEASE_SUSPENDED:
        return "Release suspended"
    if old == S.ON_HOLD:
        return "Resumed"
    if old == S.RELEASE_SUSPENDED:
        return "Rejected after suspension" if new == S.REJECTED else "Re-released"
    return _DECIDED.get(new or "", "")


# Where a decision took the product, and what the decision was called.
_DECIDED: Mapping[str, str] = {
    S.DISCARDED.value: "Discarded", S.EXPIRED.value: "Expired", S.REJECTED.value: "Rejected",
    S.RELEASED.value: "Released", S.AWAITING_RELEASE.value: "QC complete, to QA review",
    S.SCHEDULED.value: "Harvest scheduled",
}


def _signed_decisions(session: Session, product: Product) -> dict[int, Signature]:
    """The signature each signed decision was made with, by the sequence number of the
    state change it belongs to: a signed decision writes its signature's audit event, then
    the state change, in one transaction (lims.services.release, dispositions)."""
    signatures = {s.id: s for s in session.exec(select(Signature).where(
        Signature.product_id == product.id))}
    found = {}
    for event in session.exec(select(AuditEvent).where(
            AuditEvent.action == AuditAction.SIGNED, AuditEvent.entity == "product",
            AuditEvent.entity_id == product.din)):
        try:
            signature_id = json.loads(event.new_value or "{}").get("signature_id")
        except (ValueError, AttributeError):
            continue
        if signature_id in signatures:
            found[event.seq + 1] = signatures[signature_id]
    return found


def state_changes(session: Session, product: Product, users: Names) -> tuple[br.StateChange, ...]:
    """Every state change the audit trail holds; processing steps are marked as such (the
    steps section has their data), decisions carry their reason and who decided. The time
    is when the audit trail recorded it; a signed decision also shows its signature's time."""
    events = session.exec(select(AuditEvent).where(
        col(AuditEvent.action).in_((AuditAction.STATE_CHANGED, AuditAction.PRODUCT_CREATED)),
        AuditEvent.entity == "product", AuditEvent.entity_id == product.din,
        AuditEvent.field == "state",
    ).order_by(col(AuditEvent.seq)))
    signed = _signed_decisions(session, product)
    triggers = {t.value for t in Trigger}
    lines = []
    for event in events:
        step = STEPS.get(event.reason or "")
        decision = "" if step else _decision(event.old_value, event.new_value)
        reason = "" if step or (event.reason or "") in triggers else (event.reason or "")
        signature = signed.get(event.seq)
        by = full_name(users, event.user_id)
        if signature is not None:
            by = (f"{signature.printed_name} (e-signed "
                  f"{signature.signed_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")
        lines.append(br.StateChange(
            at=event.at,
            event=step.label if step else (decision or "State changed"),
            old_state=state_words(event.old_value) if event.old_value else "—",
            new_state=state_words(event.new_value),
            by=by,
            reason=reason, decision=step is None))
    return tuple(lines)


def corrections(records: list[StepRecord], users: Names,
                context: Context) -> tuple[br.CorrectionLine, ...]:
    """Each value a step correction changed, and each figure recomputed with it: old → new
    as printed, why, who and when."""
    by_id = {r.id: r for r in records}
    lines = []
    for record in records:
        old = by_id.get(record.corrects_id) if record.corrects_id is not None else None
        if old is None:
            continue
        spec = STEPS[record.step]
        pairs = (
            (value_lines(spec, old.values, {}, context),
             value_lines(spec, record.values, {}, context), ""),
            (computed_lines(spec, old.computed, {}), computed_lines(spec, record.computed, {}),
             " (recomputed)"),
        )
        for before_lines, after_lines, note in pairs:
            before = {v.name: v for v in before_lines}
            after = {v.name: v for v in after_lines}
            for name in dict.fromkeys([*before, *after]):
                was, now = before.get(name), after.get(name)
                if (was.value if was else None) == (now.value if now else None):
                    continue
                shown = now or was
                assert shown is not None
                lines.append(br.CorrectionLine(
                    step=spec.label, field=shown.label + note, old=was.value if was else "—",
                    new=now.value if now else "—", reason=record.reason or "no reason recorded",
                    corrected_by=full_name(users, record.operator_id),
                    corrected_at=_recorded_at(record)))
    return tuple(lines)


def _recorded_at(record: StepRecord) -> datetime:
    """When the correction was made: a correcting record's own time (services.corrections
    writes the time of the correction there; the step's time stays on the first record)."""
    return record.performed_at


def first_record(record: StepRecord, by_id: Mapping[int | None, StepRecord]) -> StepRecord:
    """The record a chain of corrections started from: who performed the step, and when."""
    seen = {record.id}
    while record.corrects_id is not None and record.corrects_id in by_id:
        record = by_id[record.corrects_id]
        if record.id in seen:  # bad data looping: stop rather than spin
            break
        seen.add(record.id)
    return record
