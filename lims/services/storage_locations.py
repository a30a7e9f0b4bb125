"""Storage locations as master data: the tree, each place's temperature range, box maps.

A supervisor or the administrator creates locations (site → room → freezer/fridge → rack →
box → position); a box comes with its positions (A1..), each a scannable code of its own.
Locations are never deleted: a place taken out of use (a freezer broken or decommissioned, a
rack or box moved away) is kept for the history it holds, and can be put back in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Container, ContainerStorage, Product, StorageLocation, User
from lims.services.common import require_role, required_reason
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
from workflows.identity import container_words
from workflows.roles import Role
from workflows.storage import (
    LocationKind,
    Range,
    box_positions,
    check_box_size,
    check_code,
    check_parent,
    check_range,
    effective_range,
    position_code,
)
from workflows.typed_text import free_text_problem

# Where things are kept is master data: the supervisor who runs the lab or the administrator.
LOCATION_KEEPERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def create_location(session: Session, *, actor: User, kind: str, name: str, code: str,
                    parent_code: str | None = None, temperature_min_c: float | None = None,
                    temperature_max_c: float | None = None, rows: int | None = None,
                    columns: int | None = None) -> StorageLocation:
    """A new location in the tree; a box gets its positions (code "BOX-A1") at once."""
    require_role(actor, LOCATION_KEEPERS, "create storage locations")
    name, code = name.strip(), check_code(code)
    if not name or len(name) > 120:
        raise InvalidInput("name: 1 to 120 characters")
    if (problem := free_text_problem(name)) is not None:
        raise InvalidInput(f"name: {problem}")
    parent = location_by_code(session, parent_code) if parent_code else None
    if parent is not None and not parent.active:
        raise InvalidInput(f"{parent.name} ({parent.code}) is out of use")
    own = check_parent(kind, parent.kind if parent else None)
    if own is LocationKind.POSITION:
        raise InvalidInput("positions come with their box: create the box with its rows and "
                           "columns")
    check_range(temperature_min_c, temperature_max_c)
    if own is LocationKind.BOX:
        rows, columns = check_box_size(rows, columns)
    elif rows is not None or columns is not None:
        raise InvalidInput("only a box has rows and columns")
    row = StorageLocation(parent_id=parent.id if parent else None, kind=own.value, name=name,
                          code=code, temperature_min_c=temperature_min_c,
                          temperature_max_c=temperature_max_c, rows=rows, columns=columns,
                          created_by_id=actor.id)
    positions = []
    if own is LocationKind.BOX and rows and columns:
        positions = [(r, c, label, position_code(code, r, c))
                     for r, c, label in box_positions(rows, columns)]
    taken = [code, *(p[3] for p in positions)]
    if session.exec(select(StorageLocation.code).where(
            col(StorageLocation.code).in_(taken))).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"a location with code {code} (or one of "
                                                    "its positions' codes) already exists")
    session.add(row)
    try:
        session.flush()
        session.add_all([StorageLocation(parent_id=row.id, kind=LocationKind.POSITION.value,
                                         name=label, code=p_code, grid_row=r, grid_column=c,
                                         created_by_id=actor.id)
                         for r, c, label, p_code in positions])
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DomainError(ErrorCode.ALREADY_EXISTS,
                          f"a location with code {code} already exists") from None
    append(session, [PendingEvent(AuditAction.STORAGE_LOCATION_CREATED, "storage_location",
                                  code, "location", None, _facts(row, parent))],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def deactivate_location(session: Session, *, actor: User, code: str,
                        reason: str) -> StorageLocation:
    """Take an empty location out of use, and every place under it with it.

    Everything under it goes too, rather than the retirement being refused while anything
    under it is in use: the lab retires a freezer as a whole (nothing may be stored anywhere
    in it afterwards), and each position then says so itself, so the store scan, the box
    list and a new child's parent check need no walk up the tree. Refused, nothing written,
    while a container is stored in it or anywhere under it: those are named."""
    require_role(actor, LOCATION_KEEPERS, "take storage locations out of use")
    reason = required_reason(reason, "compressor failed, freezer decommissioned")
    row = _changeable(session, code)
    if not row.active:
        raise DomainError(ErrorCode.CONFLICT, f"{_named(row)} is already out of use")
    assert row.id is not None
    # Locked before the occupancy check: a store scan into one of these positions waits for
    # this transaction (then finds the position out of use), or this one sees its stay.
    places = list(session.exec(select(StorageLocation).where(
        col(StorageLocation.id).in_(descendant_ids(session, row.id)))
        .order_by(col(StorageLocation.id)).with_for_update()))
    held = _held(session, [p.id for p in places if p.id is not None])
    if held:
        raise DomainError(ErrorCode.CONFLICT, f"{_named(row)} still holds containers: "
                          f"{'; '.join(held)}. Take them out of storage first")
    going = [row, *sorted((p for p in places if p.active and p.id != row.id),
                          key=lambda p: p.code)]
    return _set_active(session, actor, going, reason, active=False)


def reactivate_location(session: Session, *, actor: User, code: str,
                        reason: str) -> StorageLocation:
    """Put a location back in use (a box with its positions), under a parent in use.

    Only this location comes back (and a box's positions, which come and go with it), not
    the racks and boxes under it: each is put back by its own decision, so a box retired on
    its own before its freezer was does not return with the freezer unnoticed."""
    require_role(actor, LOCATION_KEEPERS, "put storage locations back in use")
    reason = required_reason(reason, "freezer repaired and qualified")
    row = _changeable(session, code)
    if row.active:
        raise DomainError(ErrorCode.CONFLICT, f"{_named(row)} is already in use")
    if (retired := out_of_use(session, row, itself=False)) is not None:
        raise InvalidInput(f"{_named(row)} is inside {_named(retired)}, which is out of use: "
                           "put that back in use first")
    coming = [row]
    if row.kind == LocationKind.BOX.value:
        coming += session.exec(select(StorageLocation).where(
            StorageLocation.parent_id == row.id,
            StorageLocation.kind == LocationKind.POSITION.value,
            col(StorageLocation.active).is_(False))
            .order_by(col(StorageLocation.code)).with_for_update()).all()
    return _set_active(session, actor, coming, reason, active=True)


def _changeable(session: Session, code: str) -> StorageLocation:
    """The location, locked; a position is never taken out of (or back into) use alone."""
    found = location_by_code(session, code)
    if found.kind == LocationKind.POSITION.value:
        raise InvalidInput(f"{_named(found)} is a position: positions go out of use and come "
                           "back with their box")
    row = session.exec(select(StorageLocation).where(StorageLocation.id == found.id)
                       .with_for_update()).one()
    return row


def _held(session: Session, location_ids: list[int], shown: int = 5) -> list[str]:
    """What is stored now in these locations ("retention sample of DIN … in BOX1-A1"), the
    first `shown` by position code and how many more."""
    rows = session.exec(select(Product.din, Container.kind, StorageLocation.code)
                        .join(ContainerStorage, col(ContainerStorage.product_id) == col(Product.id))
                        .join(Container, col(Container.id) == col(ContainerStorage.container_id))
                        .join(StorageLocation,
                              col(StorageLocation.id) == col(ContainerStorage.location_id))
                        .where(col(ContainerStorage.location_id).in_(location_ids),
                               col(ContainerStorage.removed_at).is_(None))
                        .order_by(col(StorageLocation.code))).all()
    named = [f"{container_words(kind)} of DIN {din} in {place}"
             for din, kind, place in rows[:shown]]
    return named + ([f"and {len(rows) - shown} more"] if len(rows) > shown else [])


def _set_active(session: Session, actor: User, rows: list[StorageLocation], reason: str, *,
                active: bool) -> StorageLocation:
    """Every row to `active`, one audit event each (old and new value, the reason); commits.
    The first row is the one asked for; the others change with it and say so."""
    first = rows[0]
    action = (AuditAction.STORAGE_LOCATION_REACTIVATED if active
              else AuditAction.STORAGE_LOCATION_DEACTIVATED)
    events = []
    for row in rows:
        row.active = active
        session.add(row)
        why = reason if row is first else f"with {first.code}: {reason}"
        events.append(PendingEvent(action, "storage_location", row.code, "active", not active,
                                   active, why))
    append(session, events, user_id=actor.id, username=actor.username)
    session.commit()
    return first


def out_of_use(session: Session, location: StorageLocation, *,
               itself: bool = True) -> StorageLocation | None:
    """The nearest location out of use among this one (unless not `itself`) and those above
    it, or None when all are in use."""
    chain = chain_of(session, location)
    return next((p for p in (chain if itself else chain[1:]) if not p.active), None)


def _named(row: StorageLocation) -> str:
    return f"{row.kind} {row.name} ({row.code})"


def _facts(row: StorageLocation, parent: StorageLocation | None) -> dict[str, Any]:
    return {"kind": row.kind, "name": row.name, "parent": parent.code if parent else None,
            "temperature_min_c": row.temperature_min_c,
            "temperature_max_c": row.temperature_max_c, "rows": row.rows,
            "columns": row.columns}


def location_by_code(session: Session, code: str) -> StorageLocation:
    text = code.strip().upper()
    row = session.exec(select(StorageLocation).where(StorageLocation.code == text)).first()
    if row is None:
        raise NotFound(f"no storage location has the code {text!r}")
    return row


def chain_of(session: Session, location: StorageLocation) -> list[StorageLocation]:
    """The location and its ancestors, nearest first (the tree is a few levels deep)."""
    chain, seen = [location], {location.id}
    while chain[-1].parent_id is not None and chain[-1].parent_id not in seen:
        parent = session.get(StorageLocation, chain[-1].parent_id)
        if parent is None:
            break
        seen.add(parent.id)
        chain.append(parent)
    return chain


def range_of(session: Session, location: StorageLocation) -> Range:
    """The temperature range the location must hold (its own, else inherited)."""
    return effective_range([(p.temperature_min_c, p.temperature_max_c)
                            for p in chain_of(session, location)])


def path_of(session: Session, location: StorageLocation) -> str:
    """"Site › Room › Freezer › Rack › Box › A1": where a container is, as people say it."""
    return " › ".join(p.name for p in reversed(chain_of(session, location)))


def descendant_ids(session: Session, location_id: int) -> set[int]:
    """The location and every location under it (level by level: a handful of queries)."""
    found, level = {location_id}, [location_id]
    while level:
        level = [i for i in session.exec(select(StorageLocation.id).where(
            col(StorageLocation.parent_id).in_(level))) if i is not None and i not in found]
        found.update(level)
    return found


@dataclass(frozen=True)
class TreeLine:
    location: StorageLocation
    depth: int
    range: Range
    occupied: int = 0  # a box: how many of its positions hold a container


def location_tree(session: Session) -> list[TreeLine]:
    """Every location but the positions, depth first, with its effective range."""
    rows = list(session.exec(select(StorageLocation).where(
        StorageLocation.kind != LocationKind.POSITION.value).order_by(col(StorageLocation.code))))
    children: dict[int | None, list[StorageLocation]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    counts = _occupied_by_box(session)
    out: list[TreeLine] = []

    def walk(parent: int | None, depth: int, chain: list[tuple[float | None, float | None]]) \
            -> None:
        for row in children.get(parent, []):
            own = [(row.temperature_min_c, row.temperature_max_c), *chain]
            out.append(TreeLine(row, depth, effective_range(own), counts.get(row.id or 0, 0)))
            walk(row.id, depth + 1, own)

    walk(None, 0, [])
    return out


def _occupied_by_box(session: Session) -> dict[int, int]:
    counts: dict[int, int] = {}
    for parent_id in session.exec(select(StorageLocation.parent_id).join(
            ContainerStorage, col(ContainerStorage.location_id) == col(StorageLocation.id))
            .where(col(ContainerStorage.removed_at).is_(None))):
        if parent_id is not None:
            counts[parent_id] = counts.get(parent_id, 0) + 1
    return counts


@dataclass(frozen=True)
class Cell:
    position: StorageLocation
    container: Container | None
    din: str | None


@dataclass(frozen=True)
class BoxMap:
    box: StorageLocation
    path: str
    range: Range
    grid: list[list[Cell]]  # row by row

    @property
    def occupied(self) -> int:
        return sum(1 for line in self.grid for cell in line if cell.container is not None)


def box_map(session: Session, code: str) -> BoxMap:
    """The box's grid: each position with the container it holds now (or none)."""
    box = location_by_code(session, code)
    if box.kind != LocationKind.BOX.value:
        raise InvalidInput(f"{box.name} ({box.code}) is a {box.kind}, not a box")
    positions = list(session.exec(select(StorageLocation).where(
        StorageLocation.parent_id == box.id, StorageLocation.kind == LocationKind.POSITION.value)))
    held = {stay.location_id: (container, product.din) for stay, container, product in session.exec(
        select(ContainerStorage, Container, Product)
        .join(Container, col(Container.id) == col(ContainerStorage.container_id))
        .join(Product, col(Product.id) == col(ContainerStorage.product_id))
        .where(col(ContainerStorage.location_id).in_([p.id for p in positions]),
               col(ContainerStorage.removed_at).is_(None)))}
    by_place = {(p.grid_row, p.grid_column): p for p in positions}
    grid = []
    for r in range(1, (box.rows or 0) + 1):
        line = []
        for c in range(1, (box.columns or 0) + 1):
            position = by_place.get((r, c))
            if position is None:
                continue
            found = held.get(position.id or 0)
            line.append(Cell(position, found[0] if found else None, found[1] if found else None))
        grid.append(line)
    return BoxMap(box, path_of(session, box), range_of(session, box), grid)


def boxes(session: Session) -> list[StorageLocation]:
    return list(session.exec(select(StorageLocation).where(
        StorageLocation.kind == LocationKind.BOX.value, col(StorageLocation.active))
        .order_by(col(StorageLocation.code))))
