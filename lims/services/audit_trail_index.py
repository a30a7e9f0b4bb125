"""The audit trail, read a group of actions or a chunk of rows' events at a time, for reconciling
every record row against it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from sys import intern
from typing import Any, TypeVar

from sqlalchemy import Table, select
from sqlmodel import Session

from lims.audit_actions import AuditAction
from lims.models import AuditEvent
from lims.progress import Advance, tracked
from lims.sql_lists import one_of


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    user_id: int | None
    action: str
    entity: str
    entity_id: str
    field: str
    old: str | None
    new: str | None
    reason: str | None

    def new_json(self) -> dict[str, Any]:
        """The new value written as a mapping (canonical JSON); {} if it is not one."""
        try:
            value = json.loads(self.new or "")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def signature_id(self) -> int:
        """The signature row a 'signed' event recorded (0 when it names none)."""
        value = self.new_json().get("signature_id")
        return value if isinstance(value, int) else 0


_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
A = AuditAction
# The events that write, change or name a record row reconciliation compares (only these
# are read).
RECORD_ACTIONS = (A.PRODUCT_CREATED, A.STATE_CHANGED, A.CONTAINER_CREATED, A.STEP_RECORDED,
                  A.STEP_CORRECTED,
                  A.QC_RESULT, A.QC_CORRECTED, A.QC_REJUDGED, A.QC_VERIFIED, A.SIGNED,
                  A.LABEL_PRINTED,
                  A.LABEL_REPRINTED, A.DEVIATION_RAISED, A.DEVIATION_CLOSED, A.ALERT_RAISED,
                  A.USER_CREATED, A.USER_UPDATED, A.ACCOUNT_LOCKED, A.ACCOUNT_UNLOCKED,
                  A.ACCOUNT_DEACTIVATED, A.ACCOUNT_REACTIVATED, A.USER_ROLE_CHANGED,
                  A.SPECIFICATION_CREATED, A.SPECIFICATION_CHANGED, A.SPECIFICATION_DRAFTED,
                  A.SPECIFICATION_APPROVED, A.SPECIFICATION_WITHDRAWN,
                  A.REVIEW_EXCEPTION_ACKNOWLEDGED, A.CERTIFICATE_ISSUED,
                  A.PATIENT_IDENTITY_DISCLOSED, A.STORAGE_LOCATION_DEACTIVATED,
                  A.STORAGE_LOCATION_REACTIVATED)
_READ = select(_EVENTS.c.seq, _EVENTS.c.user_id, _EVENTS.c.action, _EVENTS.c.entity,
               _EVENTS.c.entity_id, _EVENTS.c.field, _EVENTS.c.old_value, _EVENTS.c.new_value,
               _EVENTS.c.reason).where(_EVENTS.c.action.in_([a.value for a in RECORD_ACTIONS])
                                       ).order_by(_EVENTS.c.seq)

# The action compared as an expression, not the column: a chunk's events are found by their
# entity ids or seqs alone. Given the column, PostgreSQL also scans the (action, seq) index
# over every event of the action for each chunk (2,000 rows): quadratic in the trail.
_BY_ACTION_ONLY = _EVENTS.c.action.concat("")


class Trail:
    """Events grouped by action, each group in chain order.

    Read from the database (`Trail.reader`), a group is read when a check asks for it and
    not kept: reconciliation holds one check's events at a time, never the whole trail
    (7.2 GB at ten million events when it did). Checks that compare a table row by row ask
    for the events of one chunk of rows (`first_for`, `at`) and hold only those."""

    def __init__(self, events: Iterable[Event] = (), session: Session | None = None,
                 batch: int = 20000) -> None:
        self._by_action: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            self._by_action[event.action].append(event)
        self._session = session
        self._batch = batch
        self.chunk = CHUNK  # rows a check compares together (read here, so a test can set it)

    @classmethod
    def reader(cls, session: Session, batch: int = 20000) -> Trail:
        """The trail as the database holds it, read a group at a time (`batch` rows a fetch)."""
        return cls(session=session, batch=batch)

    @classmethod
    def load(cls, session: Session, batch: int = 20000, advance: Advance | None = None
             ) -> Trail:
        """Every record event read at once and kept (a small trail, or a test's)."""
        rows = session.connection().execute(_READ.execution_options(yield_per=batch))
        if advance is not None:  # progress, counted a batch at a time
            return cls(_event(row) for row in tracked(rows, advance, batch))
        return cls(_event(row) for row in rows)

    def each(self, *actions: str, field: str | None = None) -> Iterator[Event]:
        """The events of `actions` (optionally of one field) in chain order, streamed."""
        if self._session is None:
            kept = self.of_kept(*actions)
            yield from (e for e in kept if field is None or e.field == field)
            return
        query = _READ.where(_EVENTS.c.action.in_(actions))
        if field is not None:
            query = query.where(_EVENTS.c.field == field)
        rows = self._session.connection().execute(
            query.execution_options(yield_per=self._batch))
        yield from (_event(row) for row in rows)

    def of_kept(self, *actions: str) -> list[Event]:
        if len(actions) == 1:
            return self._by_action.get(actions[0], [])
        return sorted((e for a in actions for e in self._by_action.get(a, [])),
                      key=lambda e: e.seq)

    def of(self, *actions: str) -> list[Event]:
        return list(self.each(*actions))

    def latest(self, *actions: str, field: str | None = None) -> dict[str, Event]:
        """The last event per entity id among `actions` (optionally of one field)."""
        return {event.entity_id: event for event in self.each(*actions, field=field)}

    def first(self, *actions: str, field: str | None = None) -> dict[str, Event]:
        found: dict[str, Event] = {}
        for event in self.each(*actions, field=field):
            found.setdefault(event.entity_id, event)
        return found

    def first_for(self, keys: Collection[str], *actions: str,
                  field: str | None = None) -> dict[str, Event]:
        """`first(*actions, field=)` of these entity ids only (one chunk of rows' events)."""
        found: dict[str, Event] = {}
        for event in self._for(keys, actions):
            if field is None or event.field == field:
                found.setdefault(event.entity_id, event)
        return found

    def _for(self, keys: Collection[str], actions: tuple[str, ...]) -> Iterator[Event]:
        if not keys:
            return
        if self._session is None:
            yield from (e for e in self.of_kept(*actions) if e.entity_id in keys)
            return
        query = _READ.where(_BY_ACTION_ONLY.in_(actions),
                            one_of(_EVENTS.c.entity_id, sorted(keys)))
        yield from (_event(row) for row in self._session.connection().execute(query))

    def at(self, seqs: Collection[int], *actions: str) -> dict[int, Event]:
        """The events of `actions` with these sequence numbers, by seq."""
        if not seqs:
            return {}
        if self._session is None:
            return {e.seq: e for e in self.of_kept(*actions) if e.seq in seqs}
        query = _READ.where(one_of(_EVENTS.c.seq, sorted(seqs)), _BY_ACTION_ONLY.in_(actions))
        return {row.seq: _event(row) for row in self._session.connection().execute(query)}

    def unmatched(self, present: Present, *actions: str,
                  field: str | None = None) -> Iterator[Event]:
        """The first event per entity id among `actions` whose row is gone, in chain
        order: the 'every event's row must still exist' half, a chunk at a time."""
        if self._session is None:
            keyed = ((e.entity_id, e) for e in self.each(*actions, field=field))
            yield from (event for _key, event in absent(keyed, present, self.chunk))
            return
        # Only the seq and entity id of each event are read (a row's key is all `present`
        # needs); the few events whose row is gone are then read whole, a chunk at a time.
        query = select(_EVENTS.c.entity_id, _EVENTS.c.seq).where(
            _EVENTS.c.action.in_(actions)).order_by(_EVENTS.c.seq)
        if field is not None:
            query = query.where(_EVENTS.c.field == field)
        rows = self._session.connection().execute(query.execution_options(yield_per=self._batch))
        gone: list[int] = []
        for _key, seq in absent(((key, seq) for key, seq in rows), present, self.chunk):
            gone.append(seq)
            if len(gone) == self.chunk:
                yield from self._whole(gone, actions)
                gone = []
        yield from self._whole(gone, actions)

    def _whole(self, seqs: list[int], actions: tuple[str, ...]) -> Iterator[Event]:
        found = self.at(set(seqs), *actions)
        return (found[seq] for seq in seqs)


# Given a chunk of keys (row ids as the events write them), those whose row exists.
Present = Callable[[set[str]], set[str]]
V = TypeVar("V")  # what is kept with each key (its first event, or the event's seq)
# Rows (and their events) compared together. 10,000: a chunk's rows and events are a few MB,
# and the statements per check few (at 2,000, the step-record check took twice as long).
CHUNK = 10_000


def absent(keyed: Iterable[tuple[str, V]], present: Present,
           size: int) -> Iterator[tuple[str, V]]:
    """Each key of `keyed` whose row `present` does not find, once (with its first event), in
    the order given; asked `size` keys at a time, so no set of every row is built."""
    reported: set[str] = set()  # only the missing ones: few
    chunk: list[tuple[str, V]] = []
    for pair in keyed:
        chunk.append(pair)
        if len(chunk) == size:
            yield from _missing(chunk, present, reported)
            chunk = []
    yield from _missing(chunk, present, reported)


def _missing(chunk: list[tuple[str, V]], present: Present,
             reported: set[str]) -> Iterator[tuple[str, V]]:
    found = present({key for key, _e in chunk}) if chunk else set()
    for key, event in chunk:
        if key not in found and key not in reported:
            reported.add(key)
            yield key, event


def _event(row: Any) -> Event:
    """An event from a row, its repeated words shared (one string per action, entity and
    field name, not one per event)."""
    seq, user_id, action, entity, entity_id, field, old, new, reason = row
    return Event(seq, user_id, intern(action), intern(entity), entity_id,
                 intern(field), old, new, reason)
