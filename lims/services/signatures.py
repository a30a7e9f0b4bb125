"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200).

Every signing re-enters both components (user ID and password): the web UI and
the API have no "continuous session" exemption, which satisfies §11.200(a)(1) in
both its cases. The signature stores printed name, UTC time, meaning and the hash
of the signed record's content, so it cannot be moved to another record and an
edit after signing is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.models import Signature, User
from lims.services.clock import clock_skew_minutes, refuse_future
from lims.services.common import utcnow
from lims.services.record_reads import rows_of
from lims.services.users import check_credentials
from workflows.errors import DomainError, ErrorCode

MEANINGS = frozenset({"Performed", "Witnessed", "Reviewed", "Released", "Rejected",
                      "Approved exceptional release", "Acknowledged", "Closed",
                      "Verified", "Re-released",
                      "Administered",  # the physician at the bedside, over the step record
                      "Discarded"})  # the decision to destroy a product, with its reason


def authenticate_signer(session: Session, *, actor: User | None, username: str,
                        password: str) -> User:
    """Both signature components; a failure is audited and counts toward the lockout.

    A wrong password answers SIGNATURE_NOT_AUTHENTICATED (403), not the sign-in failure
    (401): the signer's session is still good. A locked account stays ACCOUNT_LOCKED: the
    signer is the signed-in user, whose session has ended with the lock."""
    if actor is not None and username != actor.username:
        raise DomainError(ErrorCode.SIGNATURE_INVALID,
                          "a signature can only be applied by its owner: sign in as yourself")
    try:
        return check_credentials(session, username=username, password=password)
    except DomainError as error:
        if error.code != ErrorCode.AUTHENTICATION_FAILED:
            raise
        raise DomainError(ErrorCode.SIGNATURE_NOT_AUTHENTICATED,
                          "the password did not verify, so nothing was signed: re-enter the "
                          "password you sign in with") from None


def add_signature(session: Session, *, signer: User, meaning: str, product_id: int,
                  record_type: str, record_id: str, content: Any,
                  justification: str | None = None, at: datetime | None = None) -> Signature:
    """Stage a signature over `content` in the caller's transaction (never commits)."""
    if meaning not in MEANINGS:
        raise ValueError(f"unknown signature meaning {meaning!r}")
    assert signer.id is not None
    refuse_future(at or utcnow(), what="the signature time",
                  skew_minutes=clock_skew_minutes(session, product_id))
    signature = Signature(product_id=product_id, user_id=signer.id,
                          printed_name=signer.full_name, meaning=meaning,
                          record_type=record_type, record_id=record_id,
                          justification=justification, signed_at=at or utcnow(),
                          record_hash=content_hash(content))
    session.add(signature)
    session.flush()
    append(session, [signed_event(signature, signer)],
           user_id=signer.id, username=signer.username)
    return signature


def signed_event(signature: Signature, signer: User) -> PendingEvent:
    """The audit event of a signature: everything reconciliation compares the row with."""
    return PendingEvent(AuditAction.SIGNED, signature.record_type, signature.record_id,
                        "signature", None,
                        {"signature_id": signature.id, "meaning": signature.meaning,
                         "signer": f"{signer.full_name} ({signer.username})",
                         "product_id": signature.product_id},
                        reason=signature.record_hash)


def signatures_of(session: Session, product_id: int) -> list[Signature]:
    """The product's signatures in the order they were given (in no session: lims.services.
    record_reads)."""
    return rows_of(session, Signature, product_id)


def signature_status(signature: Signature, current_content: Callable[[str, str], Any]) -> str:
    """"valid", or "record changed after signing" when the content hash no longer matches."""
    content = current_content(signature.record_type, signature.record_id)
    if content is None:
        return "signed record not found"
    if content_hash(content) != signature.record_hash:
        return "record changed after signing"
    return "valid"
