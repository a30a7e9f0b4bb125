"""The server's clock against the times a request states (invariant 6).

A step time, a QC test time or a signature time may run ahead of the server's clock by
the protocol's clock skew (bench, OR and server clocks drift), never further: a time in
the future has not happened and must not be recorded. The server's clock is read here,
never taken from the caller.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from lims.models import Product
from lims.services.common import parameters_of, utcnow
from workflows.errors import DomainError, ErrorCode


def clock_skew_minutes(session: Session, product: Product | int) -> float:
    """The clock skew the product's protocol allows."""
    if isinstance(product, int):
        found = session.get(Product, product)
        if found is None:
            return 0.0
        product = found
    return parameters_of(session, product.protocol_id).clock_skew_minutes


def refuse_future(when: datetime, *, what: str, skew_minutes: float) -> None:
    """Refuse `when` if it is ahead of the server's clock by more than the allowed skew."""
    now = utcnow()
    if when > now + timedelta(minutes=skew_minutes):
        shown = now.astimezone(when.tzinfo).isoformat(timespec="minutes")
        raise DomainError(ErrorCode.TIME_IN_FUTURE,
                          f"{what} ({when.isoformat(timespec='minutes')}) is in the future: "
                          f"the server's clock says {shown}; enter the time it happened")
