"""Every QA decision in a product's history rests on a valid signature of its meaning.

Valid: a signature row that still matches the event that recorded it, of the decision's
meaning ("Released", "Re-released", "Rejected"), by a QA reviewer who performed or
witnessed none of the product's steps and entered none of the QC results it relied on,
over the product's content as it was at signing.

A discard (issue 11) rests likewise on a "Discarded" signature, by the person who discarded
it, of a role that may discard (a supervisor or QA; no independence rule: the supervisor
who processed the product may destroy it). A discard made before the system ever signed
one (old data, before migration c3e91f07ab52) is told as not signed, not as tampering.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.audit import content_hash
from lims.models import Product, QcResult, Signature, StepRecord, User
from lims.services.audit_trail_index import Event
from lims.services.release import product_content
from lims.services.state_replay import Decision, Replay
from lims.services.verdicts import Problem
from workflows.product import TRIGGER_ROLES, Trigger
from workflows.roles import Role

DISCARDED = "Discarded"
DISCARD_ROLES = TRIGGER_ROLES[Trigger.DISCARD]
UNSIGNED_OLD_DISCARD = ("not signed (discarded before discards were signed decisions: "
                        "recorded before e-signatures of discards)")


def check_decisions(session: Session, replay: Replay) -> list[Problem]:
    if not replay.decisions:
        return []
    products = {p.din: p for p in session.exec(select(Product))}
    problems = []
    for decision in replay.decisions:
        event = decision.event
        where = f"event {event.seq} (product {decision.din}: {event.old} → {event.new})"
        discard = DISCARDED in decision.meanings
        expected = (f"a valid '{DISCARDED}' signature by the {' or '.join(sorted(DISCARD_ROLES))}"
                    " who discarded it" if discard else
                    f"a valid '{' or '.join(sorted(decision.meanings))}' signature by an "
                    "independent QA reviewer")
        if discard and not _own(decision) and not replay.signed_before(DISCARDED, event.seq):
            problems.append(Problem(where, "signature of the discard", expected,
                                    UNSIGNED_OLD_DISCARD, before_rule=True))
            continue
        found = _problem(session, decision, products.get(decision.din))
        if found is not None:
            what = "signature of the discard" if discard else "signature of the decision"
            problems.append(Problem(where, what, expected, found))
    return problems


def _own(decision: Decision) -> list[Event]:
    return [e for e in decision.signed if e.new_json().get("meaning") in decision.meanings]


def _problem(session: Session, decision: Decision, product: Product | None) -> str | None:
    own = _own(decision)
    if not own:
        return "no such signature was recorded before it"
    event = own[-1]
    signature = session.get(Signature, event.new_json().get("signature_id") or 0)
    if signature is None:
        return f"the signature recorded by event {event.seq} no longer exists"
    if product is None:
        return "the product no longer exists"
    signer = (_discarder_problem(session, signature, decision.event)
              if DISCARDED in decision.meanings
              else _signer_problem(session, signature, product))
    return (_row_problem(signature, event, product) or signer
            or _content_problem(session, signature, product))


def _discarder_problem(session: Session, signature: Signature, decided: Event) -> str | None:
    """The discard is signed by the person who discarded, of a role that may discard."""
    signer = session.get(User, signature.user_id)
    if signer is None or signer.role not in DISCARD_ROLES:
        role = signer.role if signer else "no user"
        return f"signature {signature.id} was made by a {role}, who may not discard"
    if decided.user_id != signature.user_id:
        who = session.get(User, decided.user_id or 0)
        return (f"signature {signature.id} is {signer.full_name}'s, but "
                f"{who.full_name if who else 'another user'} discarded the product")
    return None


def _row_problem(signature: Signature, event: Event, product: Product) -> str | None:
    recorded = event.new_json()
    if signature.meaning != recorded.get("meaning"):
        return f"signature {signature.id} now means '{signature.meaning}'"
    if signature.user_id != event.user_id:
        return f"signature {signature.id} now names user {signature.user_id} as signer"
    if signature.record_hash != event.reason:
        return f"signature {signature.id} now covers another record hash"
    if (signature.record_type, signature.record_id, signature.product_id) != (
            "product", product.din, product.id):
        return f"signature {signature.id} now belongs to another record"
    return None


def _signer_problem(session: Session, signature: Signature, product: Product) -> str | None:
    signer = session.get(User, signature.user_id)
    if signer is None or signer.role != Role.QA:
        role = signer.role if signer else "no user"
        return f"signature {signature.id} was made by a {role}, not QA"
    step = session.exec(select(StepRecord.step).where(
        StepRecord.product_id == product.id, col(StepRecord.performed_at) <= signature.signed_at,
        (col(StepRecord.operator_id) == signer.id) | (col(StepRecord.witness_id) == signer.id),
    )).first()
    if step is not None:
        return (f"signature {signature.id}: {signer.username} performed or witnessed the "
                f"{step} step of this product")
    test = session.exec(select(QcResult.test).where(
        QcResult.product_id == product.id, QcResult.analyst_id == signer.id,
        col(QcResult.superseded).is_(False), col(QcResult.entered_at) <= signature.signed_at,
    )).first()
    if test is not None:
        return f"signature {signature.id}: {signer.username} entered the {test} result"
    return None


def _content_problem(session: Session, signature: Signature, product: Product) -> str | None:
    now = content_hash(product_content(session, product, as_of=signature.signed_at))
    if now == signature.record_hash:
        return None
    corrected_later = session.exec(select(QcResult.id).where(
        QcResult.product_id == product.id, col(QcResult.entered_at) > signature.signed_at,
        col(QcResult.reason).is_not(None))).first()
    if corrected_later is not None:
        return None  # a later QC correction changes the signed content legitimately
    return (f"signature {signature.id}: the product's records no longer match what was "
            "signed")
