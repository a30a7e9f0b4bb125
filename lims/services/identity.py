"""Chain-of-identity checks against the database, and the record of every refusal."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.models import CoiEvent, Container, Patient, Product, User
from workflows.errors import IdentityMismatch
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


def record_mismatch(session: Session, *, error: IdentityMismatch, product: Product | None,
                    step: str, actor: User, at: datetime) -> None:
    """Store a refused scan (COI event + audit event) and commit; the product is untouched."""
    session.rollback()  # nothing the refused step may have staged survives
    session.add(CoiEvent(product_id=product.id if product else None, step=step,
                         code=error.code.value, detail=error.detail[:500],
                         scanned=error.scanned, expected=error.expected[:200],
                         user_id=actor.id, at=at))
    append(session, [PendingEvent("coi_mismatch", "product", product.din if product else "-",
                                  "scan", error.expected, error.scanned,
                                  reason=f"{error.code.value}: {error.detail}")],
           user_id=actor.id, username=actor.username)
    session.commit()
