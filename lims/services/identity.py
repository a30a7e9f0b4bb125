"""Chain-of-identity checks against the database, and the record of every refusal."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import CoiEvent, Container, Patient, Product, User
from lims.services.common import din_text, utcnow
from lims.services.deviations import open_automatic_deviation
from workflows.characters import for_the_record
from workflows.errors import DomainError, ErrorCode, IdentityMismatch
from workflows.identity import (
    KIND_LABELS,
    ContainerKind,
    DinOwner,
    ExpectedContainer,
    check_container_scan,
    input_kind,
)
from workflows.isbt128 import Scan


def check_scan(session: Session, *, product: Product, subject_id: str, container: Container,
               raw: str) -> Scan:
    """Parse `raw` and confirm it is exactly `container`; raise IdentityMismatch otherwise."""
    expected = ExpectedContainer(din=product.din, subject_id=subject_id,
                                 kind=ContainerKind(container.kind),
                                 product_code=container.product_code, flags=container.flags)

    def owner_of(din: str) -> DinOwner | None:
        row = session.exec(select(Product.din, Patient.subject_id).join(
            Patient, col(Patient.id) == col(Product.patient_id)).where(Product.din == din)).first()
        return DinOwner(din=row[0], subject_id=row[1]) if row else None

    def kind_of(product_code: str, flags: str) -> ContainerKind | None:
        kind = session.exec(select(Container.kind).where(
            Container.product_id == product.id, Container.product_code == product_code,
            Container.flags == flags)).first()
        return ContainerKind(kind) if kind else None

    return check_container_scan(raw, expected, owner_of=owner_of, kind_of=kind_of)


SCAN_BOX = "scan_box"  # the CoiEvent step of a scan refused by the scan box on every page


def record_refused_entry(session: Session, *, din: str, step: str, field: str, value: object,
                         detail: str, actor: User, at: datetime | None = None,
                         code: ErrorCode = ErrorCode.COI_BAD_SCAN) -> None:
    """A scan refused outside the identity check: by the request's own checks before it
    could be read (too long, a NUL, not text at all), or by the scan box that opens what
    was scanned. Recorded and committed like any refused scan; unreadable or unknown is
    not a near miss (it named nothing). `field` is "scan" or "wristband"; `din` is as the
    request named it (none or an unreadable one: the scan is recorded without a product)."""
    raw = value if isinstance(value, str) else json.dumps(value, default=str)[:10_000]
    try:
        product = session.exec(select(Product).where(Product.din == din_text(din))).first()
    except DomainError:
        product = None
    want = _wanted(session, product, step, field)
    error = IdentityMismatch(code, detail, scanned=raw, expected=want)
    record_mismatch(session, error=error, product=product, step=step, actor=actor,
                    at=at or utcnow())


def _wanted(session: Session, product: Product | None, step: str, field: str) -> str:
    """What the step expected in that field, as a refused scan of it would say."""
    if product is None:
        return "a label of this laboratory" if step == SCAN_BOX else f"{field} of step {step}"
    if field == "wristband":
        patient = session.get(Patient, product.patient_id)
        return f"wristband of subject {patient.subject_id if patient else '?'}"
    kind = input_kind(step, product.arm)
    what = KIND_LABELS[kind] if kind is not None else "printed label"
    return f"{what} of DIN {product.din}"


# A scan that names another patient or another product (or another container or stage of
# this one) is a near miss: the scanner caught what could have reached a patient. An
# unreadable scan or an unknown DIN is not (nothing identified the wrong thing).
NEAR_MISS_CODES = frozenset({ErrorCode.COI_WRONG_PATIENT, ErrorCode.COI_WRONG_DIN,
                             ErrorCode.COI_WRONG_STAGE, ErrorCode.COI_WRONG_CONTAINER})


def record_mismatch(session: Session, *, error: IdentityMismatch, product: Product | None,
                    step: str, actor: User, at: datetime) -> None:
    """Store a refused scan (COI event + audit event) and commit; the product is untouched.

    A near miss also opens a major deviation on the product, in the same transaction, for
    QA to investigate (it blocks release until closed).
    """
    session.rollback()  # nothing the refused step may have staged survives
    # Stored escaped and bounded: a NUL (which PostgreSQL cannot store), a look-alike or a
    # 10,000-character scan is kept as what was sent, visibly, with its length.
    scanned = for_the_record(error.scanned, limit=500)
    session.add(CoiEvent(product_id=product.id if product else None, step=step,
                         code=error.code.value, detail=for_the_record(error.detail, limit=500),
                         scanned=scanned, expected=for_the_record(error.expected, limit=200),
                         user_id=actor.id, at=at))
    append(session, [PendingEvent(AuditAction.COI_MISMATCH, "product",
                                  product.din if product else "-",
                                  "scan", error.expected, scanned,
                                  reason=f"{error.code.value}: "
                                         f"{for_the_record(error.detail, limit=1000)}")],
           user_id=actor.id, username=actor.username)
    if product is not None and error.code in NEAR_MISS_CODES:
        open_automatic_deviation(session, product=product, kind="near_miss", step=step,
                                 description=near_miss_description(error, step),
                                 user_id=actor.id, username=actor.username, now=at)
    session.commit()


def near_miss_description(error: IdentityMismatch, step: str) -> str:
    """What QA investigates: what was refused, where, what was scanned and expected."""
    return (f"Near miss at {step.replace('_', ' ')}: {error.detail}. Scanned "
            f"'{for_the_record(error.scanned, limit=300)}' where the {error.expected} was "
            "expected. Investigate how it came to be there and record the corrective action.")
