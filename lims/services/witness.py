"""The second person: a different, authenticated user confirms identity-critical steps;
and the administering physician's own signature at the bedside."""

from __future__ import annotations

from sqlmodel import Session

from lims.models import User
from lims.services.signatures import authenticate_signer
from lims.services.users import check_second_person
from workflows.errors import DomainError, ErrorCode
from workflows.roles import Role

WITNESS_ROLES = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA, Role.PHYSICIAN})


def confirm_witness(session: Session, *, actor: User, witness: str | None,
                    password: str | None) -> User:
    """The witness re-enters their own credentials; the operator cannot witness themself."""
    if not witness or not password:
        raise DomainError(ErrorCode.WITNESS_REQUIRED,
                          "this step needs a witness: the second person signs in on this screen")
    if witness == actor.username:
        raise DomainError(ErrorCode.WITNESS_SAME_USER,
                          "the witness must be a different person from the operator")
    user = check_second_person(session, username=witness, password=password,
                               refusal=ErrorCode.WITNESS_NOT_AUTHENTICATED, who="the witness")
    if user.role not in WITNESS_ROLES:
        raise DomainError(ErrorCode.FORBIDDEN, f"a {user.role} cannot act as witness")
    return user


# Steps the administering physician signs at the bedside, beside the witness (Part 11 §11.50).
PHYSICIAN_SIGNED_STEPS = frozenset({"administer"})


def confirm_physician(session: Session, *, actor: User, physician: str | None,
                      password: str | None) -> User:
    """The administering physician's own e-signature: user name and password re-entered on
    the bedside screen even though they are signed in, and only by themself."""
    if not physician or not password:
        raise DomainError(ErrorCode.SIGNATURE_REQUIRED,
                          "the administration needs the administering physician's signature: "
                          "enter your user name and password at the bedside")
    if physician.strip() != actor.username:
        raise DomainError(ErrorCode.SIGNATURE_INVALID,
                          "the administering physician signs for themself only: the physician "
                          "signed in on this screen enters their own user name and password")
    signer = authenticate_signer(session, actor=actor, username=actor.username,
                                 password=password)
    if signer.role != Role.PHYSICIAN:
        raise DomainError(ErrorCode.FORBIDDEN,
                          f"a {signer.role} cannot sign an administration: a physician does")
    return signer
