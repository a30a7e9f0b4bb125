"""The second person: a different, authenticated user confirms identity-critical steps."""

from __future__ import annotations

from sqlmodel import Session

from lims.models import User
from lims.services.users import check_credentials
from workflows.errors import DomainError, ErrorCode

WITNESS_ROLES = frozenset({"technician", "supervisor", "qa", "physician"})


def confirm_witness(session: Session, *, actor: User, witness: str | None,
                    password: str | None) -> User:
    """The witness re-enters their own credentials; the operator cannot witness themself."""
    if not witness or not password:
        raise DomainError(ErrorCode.WITNESS_REQUIRED,
                          "this step needs a witness: the second person signs in on this screen")
    if witness == actor.username:
        raise DomainError(ErrorCode.WITNESS_SAME_USER,
                          "the witness must be a different person from the operator")
    user = check_credentials(session, username=witness, password=password)
    if user.role not in WITNESS_ROLES:
        raise DomainError(ErrorCode.FORBIDDEN, f"a {user.role} cannot act as witness")
    return user
