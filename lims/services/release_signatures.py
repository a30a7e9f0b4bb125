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

from dataclasses import dataclass

from sqlmodel import Session, col, select

from lims.audit import content_hash
from lims.models import Product, Signature, User
from lims.services.audit_trail_index import Event
from lims.services.common import rows_by_id
from lims.services.product_records import ProductRecords, load_records
from lims.services.release import content_from
from lims.services.state_replay import Decision, Replay
from lims.services.verdicts import Problem
from lims.sql_lists import one_of
from workflows.product import TRIGGER_ROLES, Trigger
from workflows.roles import Role

DISCARDED = "Discarded"
# Decisions whose facts are read together: every record of their products (a few hundred
# rows a product), so fewer than the rows other checks compare at once.
DECISIONS = 2000
DISCARD_ROLES = TRIGGER_ROLES[Trigger.DISCARD]
UNSIGNED_OLD_DISCARD = ("not signed (discarded before discards were signed decisions: "
                        "recorded before e-signatures of discards)")


def check_decisions(session: Session, replay: Replay, chunk: int = DECISIONS) -> list[Problem]:
    if not replay.decisions:
        return []
    users = {u.id: u for u in session.exec(select(User))}
    problems = []
    # A chunk of decisions at a time: their products, signatures and records in a few
    # statements (a product's are read again when its decisions span chunks).
    for start in range(0, len(replay.decisions), chunk):
        decisions = replay.decisions[start:start + chunk]
        products = {p.din: p for p in session.exec(select(Product).where(
            one_of(col(Product.din), sorted({d.din for d in decisions}))))}
        facts = _Facts.load(session, decisions, products, users)
        for decision in decisions:
            problem = _decision_problem(facts, replay, decision)
            if problem is not None:
                problems.append(problem)
    return problems


@dataclass(frozen=True)
class _Facts:
    products: dict[str, Product]
    users: dict[int | None, User]
    signatures: dict[int, Signature]
    records: dict[int, ProductRecords]

    @classmethod
    def load(cls, session: Session, decisions: list[Decision], products: dict[str, Product],
             users: dict[int | None, User]) -> _Facts:
        signatures = rows_by_id(session, Signature,
                                {e.signature_id() for d in decisions for e in _own(d)})
        owners = {products[d.din].id or 0 for d in decisions if d.din in products}
        return cls(products, users, signatures, load_records(session, owners))


def _decision_problem(facts: _Facts, replay: Replay, decision: Decision) -> Problem | None:
    event = decision.event
    where = f"event {event.seq} (product {decision.din}: {event.old} → {event.new})"
    discard = DISCARDED in decision.meanings
    expected = (f"a valid '{DISCARDED}' signature by the {' or '.join(sorted(DISCARD_ROLES))}"
                " who discarded it" if discard else
                f"a valid '{' or '.join(sorted(decision.meanings))}' signature by an "
                "independent QA reviewer")
    if discard and not _own(decision) and not replay.signed_before(DISCARDED, event.seq):
        return Problem(where, "signature of the discard", expected, UNSIGNED_OLD_DISCARD,
                       before_rule=True)
    found = _problem(facts, decision, facts.products.get(decision.din))
    if found is None:
        return None
    what = "signature of the discard" if discard else "signature of the decision"
    return Problem(where, what, expected, found)


def _own(decision: Decision) -> list[Event]:
    return [e for e in decision.signed if e.new_json().get("meaning") in decision.meanings]


def _problem(facts: _Facts, decision: Decision, product: Product | None) -> str | None:
    own = _own(decision)
    if not own:
        return "no such signature was recorded before it"
    event = own[-1]
    signature = facts.signatures.get(event.signature_id())
    if signature is None:
        return f"the signature recorded by event {event.seq} no longer exists"
    if product is None:
        return "the product no longer exists"
    records = facts.records.get(product.id or 0, ProductRecords())
    signer = (_discarder_problem(facts, signature, decision.event)
              if DISCARDED in decision.meanings
              else _signer_problem(facts, signature, records))
    return (_row_problem(signature, event, product) or signer
            or _content_problem(signature, product, records))


def _discarder_problem(facts: _Facts, signature: Signature, decided: Event) -> str | None:
    """The discard is signed by the person who discarded, of a role that may discard."""
    signer = facts.users.get(signature.user_id)
    if signer is None or signer.role not in DISCARD_ROLES:
        role = signer.role if signer else "no user"
        return f"signature {signature.id} was made by a {role}, who may not discard"
    if decided.user_id != signature.user_id:
        who = facts.users.get(decided.user_id or 0)
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


def _signer_problem(facts: _Facts, signature: Signature,
                    records: ProductRecords) -> str | None:
    signer = facts.users.get(signature.user_id)
    if signer is None or signer.role != Role.QA:
        role = signer.role if signer else "no user"
        return f"signature {signature.id} was made by a {role}, not QA"
    signed_at = signature.signed_at
    step = next((row.step for row in records.steps if row.performed_at <= signed_at
                 and signer.id in (row.operator_id, row.witness_id)), None)
    if step is not None:
        return (f"signature {signature.id}: {signer.username} performed or witnessed the "
                f"{step} step of this product")
    test = next((row.test for row in records.qc if row.analyst_id == signer.id
                 and not row.superseded and row.entered_at <= signed_at), None)
    if test is not None:
        return f"signature {signature.id}: {signer.username} entered the {test} result"
    return None


def _content_problem(signature: Signature, product: Product,
                     records: ProductRecords) -> str | None:
    now = content_hash(content_from(product, records, as_of=signature.signed_at))
    if now == signature.record_hash:
        return None
    if any(row.entered_at > signature.signed_at and row.reason is not None
           for row in records.qc):
        return None  # a later QC correction changes the signed content legitimately
    return (f"signature {signature.id}: the product's records no longer match what was "
            "signed")
