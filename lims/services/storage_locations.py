"""Storage locations as master data: the tree, each place's temperature range, box maps.

A supervisor or the administrator creates locations (site → room → freezer/fridge → rack →
box → position); a box comes with its positions (A1..), each a scannable code of its own.
Locations are never deleted: a place taken out of use is kept for the history it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Container, ContainerStorage, Product, StorageLocation, User
from lims.services.common import require_role
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
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
