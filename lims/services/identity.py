"""Chain-of-identity checks against the database, and the record of every refusal."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import CoiEvent, Container, Patient, Product, User
from lims.services.deviations import open_automatic_deviation
from workflows.errors import ErrorCode, IdentityMismatch
from workflows.identity import ContainerKind, DinOwner, ExpectedContainer, check_container_scan
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
    session.add(CoiEvent(product_id=product.id if product else None, step=step,
                         code=error.code.value, detail=error.detail[:500],
                         scanned=error.scanned, expected=error.expected[:200],
                         user_id=actor.id, at=at))
    append(session, [PendingEvent(AuditAction.COI_MISMATCH, "product",
                                  product.din if product else "-",
                                  "scan", error.expected, error.scanned,
                                  reason=f"{error.code.value}: {error.detail}")],
           user_id=actor.id, username=actor.username)
    if product is not None and error.code in NEAR_MISS_CODES:
        open_automatic_deviation(session, product=product, kind="near_miss", step=step,
                                 description=near_miss_description(error, step),
                                 user_id=actor.id, username=actor.username, now=at)
    session.commit()


def near_miss_description(error: IdentityMismatch, step: str) -> str:
    """What QA investigates: what was refused, where, what was scanned and expected."""
    return (f"Near miss at {step.replace('_', ' ')}: {error.detail}. Scanned "
            f"{error.scanned!r} where the {error.expected} was expected. Investigate how it "
            "came to be there and record the corrective action.")
