"""Which of a product's occasional records exist, in one round trip.

Most products never have a deviation, a refused scan, an open alert, a notification, a
stay in storage or a temperature excursion, yet a page showing them all would ask for each
in turn: a statement and a round trip per kind, each finding nothing. One statement of
EXISTS tests says which are there; the page reads only those.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, bindparam, exists, select
from sqlmodel import Session, col

from lims.models import (
    Alert,
    CoiEvent,
    ContainerStorage,
    Deviation,
    ExcursionContainer,
    Notification,
    Signature,
)
from lims.prepared import Prepared


@dataclass(frozen=True)
class RecordsPresent:
    signatures: bool
    deviations: bool
    coi_events: bool  # refused scans
    open_alerts: bool
    notifications: bool
    storage: bool  # stays in storage
    excursions: bool  # temperature excursions its containers went through


def records_present(session: Session, product_id: int) -> RecordsPresent:
    """Each kind's test is the WHERE of the read it stands for (signatures_of,
    deviations_of, coi_events_of, open_alerts, delivery_record, storage_history,
    excursions): what it says is absent, that read would have found empty."""
    session.flush()  # what the session holds unwritten counts too
    [row] = _PRESENT.rows(session.connection(), {"pid": product_id})
    return RecordsPresent(*(bool(found) for found in row))


_PID = bindparam("pid", type_=Integer())
# Prepared (lims.prepared): read at every load of the product page.
_PRESENT = Prepared(select(
    exists().where(col(Signature.product_id) == _PID),
    exists().where(col(Deviation.product_id) == _PID),
    exists().where(col(CoiEvent.product_id) == _PID),
    exists().where(col(Alert.product_id) == _PID, col(Alert.acknowledged_at).is_(None)),
    exists().where(col(Notification.product_id) == _PID),
    exists().where(col(ContainerStorage.product_id) == _PID),
    exists().where(col(ExcursionContainer.product_id) == _PID),
))
