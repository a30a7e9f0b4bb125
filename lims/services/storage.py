"""Containers scanned into a storage position and out again, and where they have been.

Storing takes two scans: the container's label, then the position's code. Each refusal
(an unreadable or unknown label, a container that is not kept in storage, a code that is
not a free position) is recorded like every refused scan (lims.services.identity) and
nothing is stored. Taking a container out says why: for testing, to discard it, or to
return it to the bench; its disposition (container.status) follows in the same
transaction as the audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from labels import batch_record_model as br
from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Container, ContainerStorage, Product, StorageLocation, User
from lims.services.common import require_role, utcnow
from lims.services.identity import record_mismatch
from lims.services.storage_locations import descendant_ids, out_of_use, path_of
from lims.sql_lists import one_of
from workflows.errors import DomainError, ErrorCode, IdentityMismatch, InvalidInput, NotFound
from workflows.identity import container_words
from workflows.isbt128 import ScanError, parse_scan
from workflows.roles import Role
from workflows.storage import (
    REMOVAL_OUTCOME,
    REMOVAL_WORDS,
    Disposition,
    LocationKind,
    RemovalReason,
    can_become,
    storable_refusal,
)
from workflows.typed_text import free_text_problem

STORAGE_STEP = "storage"  # the CoiEvent step of a scan refused at storage
STORERS = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA})
E = ErrorCode


def store_container(session: Session, *, actor: User, container_scan: str,
                    position_scan: str, now: datetime | None = None) -> ContainerStorage:
    """Put the scanned container into the scanned position; refusals are recorded."""
    require_role(actor, STORERS, "store containers")
    container, product = storable_container(session, actor, container_scan)
    position = _scanned_position(session, actor, product, position_scan)
    assert container.id and product.id and position.id and actor.id
    stay = ContainerStorage(container_id=container.id, product_id=product.id,
                            location_id=position.id, stored_at=now or utcnow(),
                            stored_by_id=actor.id)
    old = container.status
    container.status = Disposition.STORED.value
    session.add_all([stay, container])
    try:
        session.flush()
    except IntegrityError:  # another scanner filled the position (or stored it) just now
        _refuse(session, actor, product, E.COI_BAD_SCAN,
                f"position {position.code} was filled a moment ago: scan another",
                position_scan, "a free storage position")
    where = path_of(session, position)
    append(session, [
        PendingEvent(AuditAction.CONTAINER_STORED, "container", _entity(product, container),
                     "location", None, where),
        # The disposition changes with it (not a product state change: state_changed
        # events are the products' history, replayed by the audit reconciliation).
        PendingEvent(AuditAction.CONTAINER_STORED, "container", _entity(product, container),
                     "status", old, container.status)],
        user_id=actor.id, username=actor.username)
    session.commit()
    return stay


def remove_container(session: Session, *, actor: User, container_scan: str, reason: str,
                     note: str = "", now: datetime | None = None) -> ContainerStorage:
    """Take the scanned container out of its position, saying why."""
    require_role(actor, STORERS, "take containers out of storage")
    try:
        why = RemovalReason(reason.strip().lower())
    except ValueError:
        raise DomainError(E.REASON_REQUIRED, "say why it comes out: testing, discard or "
                                             "return") from None
    note = note.strip()
    if len(note) > 500 or (problem := free_text_problem(note)) is not None:
        raise InvalidInput(f"note: {problem if len(note) <= 500 else 'at most 500 characters'}")
    container, product = scanned_container(session, actor, container_scan)
    stay = session.exec(select(ContainerStorage).where(
        ContainerStorage.container_id == container.id,
        col(ContainerStorage.removed_at).is_(None)).with_for_update()).first()
    if stay is None:
        _refuse(session, actor, product, E.COI_BAD_SCAN,
                f"the {container_words(container.kind)} is not in storage", container_scan,
                "a stored container")
    target = REMOVAL_OUTCOME[why]
    if not can_become(container.status, target):  # a direct write left it inconsistent
        raise DomainError(E.CONFLICT, f"the container is {container.status}: it cannot be "
                                      f"{target.value}")
    old = container.status
    stay.removed_at, stay.removed_by_id = now or utcnow(), actor.id
    stay.removal_reason, stay.removal_note = why.value, note
    container.status = target.value
    session.add_all([stay, container])
    position = session.get(StorageLocation, stay.location_id)
    where = path_of(session, position) if position else str(stay.location_id)
    append(session, [
        PendingEvent(AuditAction.CONTAINER_REMOVED_FROM_STORAGE, "container",
                     _entity(product, container), "location", where, None,
                     f"{why.value}: {note}" if note else why.value),
        PendingEvent(AuditAction.CONTAINER_REMOVED_FROM_STORAGE, "container",
                     _entity(product, container), "status", old, container.status,
                     f"{why.value}: {note}" if note else why.value)],
        user_id=actor.id, username=actor.username)
    session.commit()
    return stay


def storable_container(session: Session, actor: User,
                       raw: str) -> tuple[Container, Product]:
    """The scanned container, if it may go into storage now; else a recorded refusal (the
    store page checks the container's scan before the position is scanned)."""
    require_role(actor, STORERS, "store containers")
    container, product = scanned_container(session, actor, raw)
    if (why := storable_refusal(container.kind, container.status)) is not None:
        _refuse(session, actor, product, E.COI_BAD_SCAN, why, raw, "a container to store")
    return container, product


def _entity(product: Product, container: Container) -> str:
    # Container events are found by the DIN prefix of their id (the product history).
    return f"{product.din}/{container.product_code}/{container.flags}"


def scanned_container(session: Session, actor: User, raw: str) -> tuple[Container, Product]:
    """The container a label scan names, else a recorded refusal."""
    want = "a container label of this laboratory"
    try:
        read = parse_scan(raw)
    except ScanError as error:
        _refuse(session, actor, None, E.COI_BAD_SCAN, f"unreadable scan: {error.detail}", raw,
                want)
    if read.din is None or read.product_code is None:
        _refuse(session, actor, None, E.COI_BAD_SCAN, "scan the container's label (its 2-D "
                "code or its DIN and product code), not a DIN or wristband alone", raw, want)
    product = session.exec(select(Product).where(Product.din == read.din.text)).first()
    if product is None:
        _refuse(session, actor, None, E.COI_UNKNOWN_DIN,
                f"DIN {read.din.text} is not known to this laboratory", raw, want)
    flags = read.flags or "00"
    flags = "00" if flags.isdigit() and 60 <= int(flags) <= 96 else flags  # Type 3 check
    container = session.exec(select(Container).where(
        Container.product_id == product.id, Container.product_code == read.product_code.text,
        Container.flags == flags).with_for_update()).first()
    if container is None:
        _refuse(session, actor, product, E.COI_BAD_SCAN,
                f"DIN {product.din} has no container with product code "
                f"{read.product_code.text} and flags {flags}", raw, want)
    if read.print_serial is not None and container.label_serial not in (None, read.print_serial):
        _refuse(session, actor, product, E.COI_SUPERSEDED_LABEL,
                "this label has been replaced by a later print: scan the label the container "
                "wears now", raw, want)
    return container, product


def _scanned_position(session: Session, actor: User, product: Product,
                      raw: str) -> StorageLocation:
    want = "a free storage position"
    code = raw.strip().upper()
    # Locked: a retirement of its box or freezer (storage_locations.deactivate_location)
    # either waits for this store, or this store waits and finds the position out of use.
    position = session.exec(select(StorageLocation).where(
        StorageLocation.code == code).with_for_update()).first() if code else None
    if position is None:
        _refuse(session, actor, product, E.COI_BAD_SCAN,
                f"{code or 'nothing'} is not a storage location code", raw, want)
    if position.kind != LocationKind.POSITION.value:
        _refuse(session, actor, product, E.COI_BAD_SCAN,
                f"{position.code} is a {position.kind} ({position.name}), not a position in a "
                "box: scan the position's code", raw, want)
    if (retired := out_of_use(session, position)) is not None:
        inside = "" if retired is position else f" (inside {retired.name}, {retired.code})"
        _refuse(session, actor, product, E.COI_BAD_SCAN,
                f"position {position.code} is out of use{inside}: scan another", raw, want)
    held = session.exec(select(ContainerStorage).where(
        ContainerStorage.location_id == position.id,
        col(ContainerStorage.removed_at).is_(None))).first()
    if held is not None:
        _refuse(session, actor, product, E.COI_BAD_SCAN,
                f"position {position.code} already holds a container: scan a free one",
                raw, want)
    return position


def _refuse(session: Session, actor: User, product: Product | None, code: ErrorCode,
            detail: str, raw: str, want: str) -> NoReturn:
    """Record the refused scan (committed on its own) and raise it."""
    error = IdentityMismatch(code, detail, scanned=raw, expected=want)
    record_mismatch(session, error=error, product=product, step=STORAGE_STEP, actor=actor,
                    at=utcnow())
    raise error


@dataclass(frozen=True)
class StorageStay:
    """One stay of one container in one position, as the history shows it."""

    container_id: int
    container: str  # "retention sample D0006 00/21"
    where: str
    stored_at: datetime
    stored_by: str
    removed_at: datetime | None
    removed_by: str | None
    reason: str | None
    note: str


def storage_history(session: Session, product: Product) -> list[StorageStay]:
    """Every stay of the product's containers in storage, oldest first."""
    rows = session.exec(select(ContainerStorage, Container, StorageLocation)
                        .join(Container, col(Container.id) == col(ContainerStorage.container_id))
                        .join(StorageLocation,
                              col(StorageLocation.id) == col(ContainerStorage.location_id))
                        .where(ContainerStorage.product_id == product.id)
                        .order_by(col(ContainerStorage.stored_at), col(ContainerStorage.id))).all()
    if not rows:  # most products: nothing stored, no names to read
        return []
    people = {stay.stored_by_id for stay, _, _ in rows} | {
        stay.removed_by_id for stay, _, _ in rows if stay.removed_by_id}
    names = {u.id: u.full_name or u.username
             for u in session.exec(select(User).where(one_of(col(User.id), people)))}
    return [StorageStay(container.id or 0,
                        f"{container_words(container.kind)} {container.product_code} "
                        f"{container.flags}", path_of(session, place), stay.stored_at,
                        names.get(stay.stored_by_id, "?"), stay.removed_at,
                        names.get(stay.removed_by_id) if stay.removed_by_id else None,
                        stay.removal_reason, stay.removal_note)
            for stay, container, place in rows]


def storage_lines(session: Session, product: Product) -> tuple[br.StorageLine, ...]:
    """The storage history as the batch record prints it."""
    return tuple(br.StorageLine(s.container, s.where, s.stored_at, s.stored_by, s.removed_at,
                                s.removed_by, REMOVAL_WORDS.get(s.reason or "", s.reason),
                                s.note) for s in storage_history(session, product))


def stored_during(session: Session, location_id: int, start: datetime,
                  end: datetime) -> list[tuple[Container, Product]]:
    """Containers that were in the location, or anywhere under it, at some time in
    [start, end]: those an excursion there may have touched. One pair per container."""
    if session.get(StorageLocation, location_id) is None:
        raise NotFound(f"storage location {location_id} not found")
    places = descendant_ids(session, location_id)
    rows = session.exec(select(Container, Product)
                        .join(ContainerStorage,
                              col(ContainerStorage.container_id) == col(Container.id))
                        .join(Product, col(Product.id) == col(Container.product_id))
                        .where(col(ContainerStorage.location_id).in_(places),
                               col(ContainerStorage.stored_at) <= end,
                               (col(ContainerStorage.removed_at).is_(None))
                               | (col(ContainerStorage.removed_at) >= start))
                        .order_by(col(Product.din), col(Container.id)))
    seen: set[int | None] = set()
    found = []
    for container, product in rows:
        if container.id not in seen:
            seen.add(container.id)
            found.append((container, product))
    return found


def open_stay(session: Session, container_id: int) -> ContainerStorage | None:
    return session.exec(select(ContainerStorage).where(
        ContainerStorage.container_id == container_id,
        col(ContainerStorage.removed_at).is_(None))).first()
