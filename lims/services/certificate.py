"""The certificate of analysis of a released product, from its records; `labels` renders it.

Only a product QA released (and not since suspended, held, rejected or discarded) has one:
released, issued or administered, with every release signature still matching the records
it signed. A refusal is itself recorded (CERTIFICATE_REFUSED), in a transaction of its own.
Each certificate generated is recorded (table `certificate`: who, when, its content hash
and the specification version) with its audit event, in one transaction, and the batch
record lists them. Identity comes from the final container's label (`label_content`), so
the certificate says what the label says (a blinded arm stays blinded); the QC results,
limits and methods from the batch record's own gathering (`batch_record_qc`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Final

from sqlmodel import Session, col, select

import labels.batch_record as br
from labels import LabelKind
from labels.batch_record_text import utc_stamp
from labels.certificate import (
    Certificate,
    CertificateOverflow,
    CertificateResult,
    ReleaseSignature,
    certificate_hash,
    render_certificate,
)
from labels.certificate_model import verdict_of
from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import Certificate as CertificateRow
from lims.models import Container, Product, Signature, SpecificationSet, User
from lims.services.batch_record_qc import qc_lines
from lims.services.batch_record_story import Names, full_name, state_words
from lims.services.common import aware, get_or_404, product_by_din, require_role
from lims.services.label_content import RELEASED_STATES, label_of, load_subject
from lims.services.qc_sample import dose_weight_kg
from lims.services.signature_check import signature_state
from lims.services.specifications import current_specification_set, version_name
from workflows.errors import DomainError, ErrorCode
from workflows.identity import ContainerKind
from workflows.product import ProductState
from workflows.roles import LAB_ROLES
from workflows.specifications import Specification

# The signatures of a release decision, in the order they were given.
RELEASE_MEANINGS: Final = ("Approved exceptional release", "Released", "Re-released")
EXCEPTIONAL_MEANING: Final = "Approved exceptional release"
ENTITY: Final = "product"
# Refusals of the product's state (recorded); a wrong role or DIN is refused as elsewhere.
_RECORDED_REFUSALS: Final = frozenset({ErrorCode.CERTIFICATE_REQUIRES_RELEASE,
                                       ErrorCode.PRODUCT_EXPIRED})


def _refuse_unless_released(session: Session, product: Product,
                            signatures: list[Signature]) -> None:
    """Released, issued or administered, and its release signatures still valid."""
    if product.state not in RELEASED_STATES:
        raise DomainError(ErrorCode.CERTIFICATE_REQUIRES_RELEASE,
                          f"no certificate of analysis: product {product.din} is at "
                          f"\"{state_words(product.state)}\"; it needs QA release first")
    if not any(s.meaning in ("Released", "Re-released") for s in signatures):
        raise DomainError(ErrorCode.CERTIFICATE_REQUIRES_RELEASE,
                          f"no certificate of analysis: product {product.din} has no release "
                          "signature")
    for signature in signatures:
        state = signature_state(session, signature)
        if state != "valid":
            raise DomainError(ErrorCode.CERTIFICATE_REQUIRES_RELEASE,
                              f"no certificate of analysis: the \"{signature.meaning}\" "
                              f"signature of {signature.printed_name} is not valid ({state})")


def _refuse_if_expired(product: Product, now: datetime) -> None:
    """A product past its expiry travels nowhere, even before the expiry job marks it."""
    if (product.state != ProductState.ADMINISTERED and product.expires_at is not None
            and now > product.expires_at):
        raise DomainError(ErrorCode.PRODUCT_EXPIRED,
                          f"no certificate of analysis: product {product.din} expired at "
                          f"{utc_stamp(product.expires_at)}")


def _release_signatures(session: Session, product: Product) -> list[Signature]:
    return list(session.exec(select(Signature).where(
        Signature.product_id == product.id, Signature.record_type == "product",
        col(Signature.meaning).in_(RELEASE_MEANINGS)).order_by(col(Signature.id))))


def _specification_set(session: Session, product: Product) -> SpecificationSet:
    """The version the product was judged against (as `specifications.specification_of`)."""
    if product.specification_set_id is not None:
        return get_or_404(session, SpecificationSet, product.specification_set_id,
                          "specification set")
    return current_specification_set(session, product.protocol_id, product.arm)


def _approval(row: SpecificationSet) -> str:
    if row.approved_at is None:
        return f"{row.status}; no approval recorded"
    text = f"approved by {row.approved_printed_name} {utc_stamp(row.approved_at)}"
    if row.effective_from is not None:
        text += f"; in force from {utc_stamp(row.effective_from)}"
    return text


def _final_container(session: Session, product: Product) -> Container:
    container = session.exec(select(Container).where(
        Container.product_id == product.id,
        Container.kind == ContainerKind.FINAL_PRODUCT.value).order_by(col(Container.id))).first()
    if container is None or container.id is None:
        raise DomainError(ErrorCode.CERTIFICATE_REQUIRES_RELEASE,
                          f"no certificate of analysis: product {product.din} has no final "
                          "container")
    return container


def certificate_of(session: Session, din: str, now: datetime | None = None) -> Certificate:
    """What the certificate says (read-only); refused unless the product is released, and
    (not yet administered) in date at `now`."""
    product = product_by_din(session, din)
    signatures = _release_signatures(session, product)
    _refuse_unless_released(session, product, signatures)
    _refuse_if_expired(product, aware(now))
    container = _final_container(session, product)
    assert container.id is not None
    label = label_of(load_subject(session, din=product.din, container_id=container.id),
                     LabelKind.FINAL)
    users: Names = {u.id: u for u in session.exec(select(User))}
    spec_row = _specification_set(session, product)
    version = version_name(spec_row)
    spec = Specification.from_mapping(spec_row.limits)
    results = tuple(
        CertificateResult(test=line.test, result=line.result, unit=line.unit,
                          limit=line.specification, method=line.method,
                          verdict=verdict_of(line.passed))
        for line in qc_lines(session, product, users, spec, version,
                             dose_weight_kg(session, product)))
    code = label.product_code
    return Certificate(
        din_text=label.din.eye_readable(), check_character=label.din.check,
        din_barcode=label.din_data,
        product_code=f"{code.pdc} {code.collection_type} {code.division}",
        product_description=label.product_description, patient_name=label.patient_name,
        subject_id=label.subject_id, patient_identifiers=label.patient_identifiers,
        collected_at=label.collection_at, expires_at=label.expires_at,
        time_zone=label.time_zone, processing_facility=", ".join(label.processing_facility),
        collection_facility=label.collection_facility, protocol=get_settings().protocol_code,
        specification_version=version, specification_approval=_approval(spec_row),
        results=results,
        release=tuple(ReleaseSignature(s.printed_name, s.meaning, s.signed_at,
                                       s.justification or "") for s in signatures),
        exceptional=any(s.meaning == EXCEPTIONAL_MEANING for s in signatures),
        placeholder_codes=label.placeholder_codes)


def issue_certificate(session: Session, *, actor: User, din: str,
                      now: datetime | None = None) -> tuple[bytes, CertificateRow]:
    """Generate the certificate (PDF bytes), record it and its audit event, commit.

    A refusal (not released, suspended, a release signature no longer valid) is audited
    and committed on its own, then raised: nothing else is written.
    """
    require_role(actor, LAB_ROLES, "print a certificate of analysis")
    now = aware(now)
    try:
        certificate = certificate_of(session, din, now)
    except DomainError as error:
        if error.code in _RECORDED_REFUSALS:
            _record_refusal(session, actor=actor, din=din, detail=error.detail)
        raise
    product = product_by_din(session, din)
    spec_row = _specification_set(session, product)
    assert product.id is not None and actor.id is not None
    printed = replace(certificate, generated_at=now, generated_by=actor.full_name)
    try:  # before anything is written: a failure leaves nothing
        pdf = render_certificate(printed)
    except CertificateOverflow as error:
        raise DomainError(ErrorCode.CONFLICT, f"{error}: print the batch record instead, "
                          "and tell the system administrator") from None
    digest = certificate_hash(printed)
    row = CertificateRow(product_id=product.id, content_hash=digest, generated_by_id=actor.id,
                         generated_at=now, specification_set_id=spec_row.id)
    session.add(row)
    session.flush()  # its id, for the event that records it (reconcile_certificates)
    append(session, [PendingEvent(AuditAction.CERTIFICATE_ISSUED, ENTITY, product.din,
                                  "certificate", None,
                                  {"certificate": row.id, "content_hash": digest,
                                   "specification_set_id": spec_row.id},
                                  reason=f"specification {certificate.specification_version}")],
           user_id=actor.id, username=actor.username)
    session.commit()
    session.refresh(row)
    return pdf, row


def _record_refusal(session: Session, *, actor: User, din: str, detail: str) -> None:
    session.rollback()  # nothing the refused request read or staged is kept
    product = product_by_din(session, din)
    append(session, [PendingEvent(AuditAction.CERTIFICATE_REFUSED, ENTITY, product.din,
                                  "certificate", None, None, reason=detail)],
           user_id=actor.id, username=actor.username)
    session.commit()


def certificate_lines(session: Session, product: Product,
                      users: Names) -> tuple[br.CertificateLine, ...]:
    """Every certificate generated for the product, for its batch record."""
    rows = session.exec(select(CertificateRow).where(CertificateRow.product_id == product.id)
                        .order_by(col(CertificateRow.id)))
    versions = {s.id: version_name(s) for s in session.exec(select(SpecificationSet))}
    return tuple(br.CertificateLine(generated_at=r.generated_at,
                                    generated_by=full_name(users, r.generated_by_id),
                                    content_hash=r.content_hash,
                                    specification=versions.get(r.specification_set_id, "—"))
                 for r in rows)
