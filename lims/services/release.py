"""QA release, rejection, exceptional release and re-release, each by electronic signature.

Release rests on the figures computed from the step records (the viable dose of the
formulation) as well as the QC results; nobody decides on a product whose steps they
performed or witnessed, or whose QC results they entered or corrected.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from lims.audit import content_hash
from lims.models import Product, User
from lims.services.checkpoints import checkpoint_after_commit
from lims.services.common import aware, product_by_din, require_trigger_role
from lims.services.deviations import open_blocking
from lims.services.independence import independence_problem
from lims.services.product_records import ProductRecords, by, load_records
from lims.services.qc import qc_status
from lims.services.qc_consequences import formulation_figures
from lims.services.review_acknowledgements import unacknowledged
from lims.services.signatures import add_signature, authenticate_signer
from lims.services.specifications import specification_of
from lims.services.transitions import advance
from lims.services.users import check_second_person
from workflows.errors import DomainError, ErrorCode
from workflows.product import Trigger
from workflows.qc_figures import computed_dose_problem
from workflows.review_acknowledgements import remaining_words
from workflows.roles import Role

# Decisions after which a signed audit checkpoint is written (invariant 7).
_RELEASES = (Trigger.RELEASE, Trigger.EXCEPTIONAL_RELEASE, Trigger.RE_RELEASE)
# Steps a release decision covers; issue and administration come after it.
_PROCESSING = ("harvest", "receive", "sediment", "isolate_mnc", "enrich", "formulate")


def product_content(session: Session, product: Product,
                    as_of: datetime | None = None) -> dict[str, object]:
    """What a reviewer signs: identity, the processing records, the QC results known
    at signing time and QA's acknowledgement of each exception of the review (kind, text,
    comment, who and when). A later correction of one of those results (it becomes superseded)
    changes this content; completing a culture that was pending does not. The processing
    records are all of them, corrections included (each keeps its content hash): a step
    corrected after signing adds a record the signature does not cover, and suspends the
    release (lims.services.corrections)."""
    key = product.id or 0  # a product not yet written has no records
    return content_from(product, load_records(session, [key])[key], as_of)


def content_from(product: Product, records: ProductRecords,
                 as_of: datetime | None = None) -> dict[str, object]:
    """`product_content` from the product's records already read (lims audit verify)."""
    content: dict[str, object] = {
        "din": product.din, "arm": product.arm,
        "steps": [row.content_hash for row in records.steps
                  if row.step in _PROCESSING and by(row.performed_at, as_of)],
        "qc": [(row.content_hash, row.superseded) for row in records.qc
               if row.value != "pending" and by(row.entered_at, as_of)]}
    acknowledged = [[row.kind, row.text, row.comment, row.user_id, row.printed_name,
                     aware(row.acknowledged_at).isoformat()]
                    for row in records.acknowledgements if by(row.acknowledged_at, as_of)]
    if acknowledged:  # absent, not empty, before QA acknowledged: older signatures still match
        content["acknowledgements"] = acknowledged
    return content


def record_hash(session: Session, product: Product) -> str:
    return content_hash(product_content(session, product))


def release_problems(session: Session, product: Product) -> tuple[list[str], list[str]]:
    """(missing, failing) criteria of the release decision: the QC results (a correction
    awaiting verification is failing) and the dose computed from the formulation counts."""
    missing, failed = qc_status(session, product)
    spec, _ = specification_of(session, product)
    dose = computed_dose_problem(formulation_figures(session, product), spec)
    return missing, [*failed, *([dose] if dose else [])]


def release_product(session: Session, *, actor: User, din: str, password: str,
                    username: str | None = None, now: datetime | None = None) -> Product:
    """Release ("Released"): all specifications met (culture may be pending)."""
    return _decide(session, actor=actor, din=din, username=username or actor.username,
                   password=password, trigger=Trigger.RELEASE, meaning="Released",
                   reason=None, now=aware(now))


def reject_product(session: Session, *, actor: User, din: str, password: str, reason: str,
                   username: str | None = None, now: datetime | None = None) -> Product:
    return _decide(session, actor=actor, din=din, username=username or actor.username,
                   password=password, trigger=Trigger.REJECT, meaning="Rejected",
                   reason=reason, now=aware(now))


def re_release_product(session: Session, *, actor: User, din: str, password: str,
                       note: str = "", username: str | None = None,
                       now: datetime | None = None) -> Product:
    """Lift a release suspension ("Re-released"): every current result passes again, a
    correction verified by a second person. The product returns to where it was."""
    return _decide(session, actor=actor, din=din, username=username or actor.username,
                   password=password, trigger=Trigger.RE_RELEASE, meaning="Re-released",
                   reason=note.strip() or None, now=aware(now))


def exceptional_release(session: Session, *, actor: User, din: str, password: str,
                        justification: str, physician: str, physician_password: str,
                        username: str | None = None, now: datetime | None = None) -> Product:
    """Release a non-conforming product with the physician's signed approval (FACT)."""
    require_trigger_role(actor, Trigger.EXCEPTIONAL_RELEASE)
    approver = check_second_person(session, username=physician, password=physician_password,
                                   refusal=ErrorCode.SIGNATURE_NOT_AUTHENTICATED,
                                   who="the approving physician")
    if approver.role != Role.PHYSICIAN:
        raise DomainError(ErrorCode.PHYSICIAN_APPROVAL_REQUIRED,
                          f"{approver.full_name} is not a physician / medical director")
    return _decide(session, actor=actor, din=din, username=username or actor.username,
                   password=password, trigger=Trigger.EXCEPTIONAL_RELEASE, meaning="Released",
                   reason=justification, now=aware(now), approver=approver)


def _decide(session: Session, *, actor: User, din: str, username: str, password: str,
            trigger: Trigger, meaning: str, reason: str | None, now: datetime,
            approver: User | None = None) -> Product:
    require_trigger_role(actor, trigger)
    product = product_by_din(session, din)
    signer = authenticate_signer(session, actor=actor, username=username, password=password)
    missing, failed = release_problems(session, product)
    blocking = open_blocking(session, product)
    assert product.id is not None
    conflict = independence_problem(session, product, signer)
    waiting = unacknowledged(session, product) if trigger in _RELEASES else []
    content = product_content(session, product, as_of=now)
    justification = reason if trigger == Trigger.EXCEPTIONAL_RELEASE else None
    if approver is not None:
        add_signature(session, signer=approver, meaning="Approved exceptional release",
                      product_id=product.id, record_type="product", record_id=product.din,
                      content=content, justification=justification, at=now)
    add_signature(session, signer=signer, meaning=meaning, product_id=product.id,
                  record_type="product", record_id=product.din, content=content,
                  justification=reason, at=now)
    decided = advance(
        session, product=product, trigger=trigger, actor=actor, now=now, reason=reason,
        facts={"reviewer_independent": conflict is None,
               "qc_complete": not missing, "qc_passed": not missing and not failed,
               "deviations_closed": not blocking,
               "physician_approved": approver is not None,
               "reason_given": bool(reason and reason.strip()),
               "exceptions_acknowledged": not waiting},
        explain={"reviewer_independent": conflict or "",
                 "qc_passed": "out of specification, awaiting verification or missing: "
                              + ", ".join(failed + missing),
                 "deviations_closed": "open: " + ", ".join(
                     f"deviation {d.id} ({d.classification})" for d in blocking),
                 "exceptions_acknowledged": f"{remaining_words(len(waiting))} in the QA "
                 "review; acknowledge each one (with a comment where it needs one), then "
                 "sign"})
    if trigger in _RELEASES:  # committed: anchor the trail outside the database
        checkpoint_after_commit(session, reason=f"{meaning.lower()} {decided.din}")
        session.refresh(decided)
    return decided
