"""Small helpers the use cases share (loading, role checks, clocks). None of them commits."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlmodel import Session, SQLModel, select

from lims.models import Patient, Product, Protocol, User
from lims.sql_lists import one_of
from workflows.errors import (
    DomainError,
    ErrorCode,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
)
from workflows.isbt128 import ScanError, read_din
from workflows.product import TRIGGER_ROLES, Trigger
from workflows.protocol import ProtocolParameters
from workflows.typed_text import free_text_problem

M = TypeVar("M", bound=SQLModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(when: datetime | None) -> datetime:
    if when is None:
        return utcnow()
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return when


def get_or_404(session: Session, model: type[M], key: object, what: str) -> M:
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"{what} {key} not found")
    return row


def rows_by_id(session: Session, model: type[M], ids: set[int]) -> dict[int, M]:
    """The rows of `model` with these ids, by id, in one statement (none asked: none read)."""
    if not ids:
        return {}
    key = model.id  # type: ignore[attr-defined]
    return {row.id: row  # type: ignore[attr-defined]
            for row in session.exec(select(model).where(one_of(key, sorted(ids))))}


def chunks_of(session: Session, columns: Sequence[Any],
              size: int) -> Iterator[Sequence[Row[Any]]]:
    """Every row of the table of `columns` (its id first) in id order, `size` rows at a time,
    as plain rows of those columns, from one streamed statement: a whole table is never held,
    and no ORM object is built (the checks only compare fields)."""
    query = select(*columns).order_by(columns[0]).execution_options(yield_per=size)
    yield from session.connection().execute(query).partitions(size)


def ids_present(session: Session, model: type[M]) -> Callable[[set[str]], set[str]]:
    """Given ids as text (as audit events name rows), those of rows of `model` that exist."""
    key = model.id  # type: ignore[attr-defined]

    def present(keys: set[str]) -> set[str]:
        ids = sorted({int(k) for k in keys if k.isascii() and k.isdigit()})
        if not ids:
            return set()
        return {str(found) for found in session.exec(select(key).where(one_of(key, ids)))}
    return present


def require_role(user: User, roles: frozenset[str] | set[str], action: str) -> None:
    if not user.active:
        raise Forbidden(f"user {user.username} is deactivated")
    if user.role not in roles:
        raise Forbidden(f"{user.role} {user.username} may not {action}")


REASON_MAX = 500  # characters of a reason, wherever one is asked for


def reason_problem(reason: str) -> str | None:
    """What is wrong with a reason given (trimmed, not empty), or None: longer than 500
    characters, or not readable text. The one rule of a reason's text (`required_reason`,
    and forms that gather every problem into one message)."""
    if len(reason) > REASON_MAX:
        return f"at most {REASON_MAX} characters, got {len(reason)}"
    return free_text_problem(reason)


def required_reason(reason: str, example: str = "", *, needs: str = "") -> str:
    """The reason a person gave for a change, trimmed: refused when empty (REASON_REQUIRED:
    `needs` says what needs it, else it asks with `example`) or with a `reason_problem`.
    The one check of a reason (the audit trail refuses an unreadable one again, lims.audit)."""
    reason = reason.strip()
    if not reason:
        raise DomainError(ErrorCode.REASON_REQUIRED, needs or f"say why (e.g. \"{example}\")")
    if (problem := reason_problem(reason)) is not None:
        raise InvalidInput(f"reason: {problem}")
    return reason


def require_trigger_role(user: User, trigger: Trigger) -> None:
    require_role(user, TRIGGER_ROLES[trigger], trigger.value.replace("_", " "))


def din_text(din: str) -> str:
    """The 13-character DIN of a DIN named in a URL or request, validated whole (check
    character included when given); a DIN_INVALID refusal says what is wrong."""
    try:
        return read_din(din).text
    except ScanError as error:
        raise DomainError(ErrorCode.DIN_INVALID, error.detail) from None


def product_by_din(session: Session, din: str) -> Product:
    # populate_existing: steps are written through Core (step_store), so an instance this
    # session loaded earlier may be stale; always read the row as it is now.
    product = session.exec(select(Product).where(Product.din == din_text(din))
                           .execution_options(populate_existing=True)).first()
    if product is None:
        raise NotFound(f"no product with DIN {din}")
    return product


def parameters_of(session: Session, protocol_id: int) -> ProtocolParameters:
    protocol = get_or_404(session, Protocol, protocol_id, "protocol")
    return ProtocolParameters.from_mapping(protocol.parameters)


def patient_of(session: Session, product: Product) -> Patient:
    return get_or_404(session, Patient, product.patient_id, "patient")


def user_by_name(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username}")
    return user


def refuse(code: ErrorCode, detail: str) -> TransitionRefused:
    return TransitionRefused(code, detail)
