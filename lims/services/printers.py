"""Label printers as master data: where each Zebra stands, its address and its label stock.

The administrator registers a printer (a name the lab knows it by, its place, the host
name or IP address and raw TCP port it takes ZPL on, and the label stock loaded), changes
it, and takes it out of use; every change is audited with its reason. A label prints only
on a printer holding its own stock (`labels.stock`).

The legacy single printer of the settings (LIMS_PRINTER_HOST/LIMS_PRINTER_PORT) keeps
working by its address, without a stock check; registering it here is the way forward.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from labels.stock import STOCK_NAMES, LabelStock, parse_stock
from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import Printer, PrintJob, User
from lims.services.common import reason_problem, require_role
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
from workflows.roles import Role
from workflows.typed_text import free_text_problem, identifier_problem

__all__ = ["PRINTER_KEEPERS", "ConfiguredPrinter", "change_printer", "configured_printer",
           "deactivate_printer", "last_printer_of", "printer_by_id", "printer_named",
           "printers", "reactivate_printer", "register_printer"]

# Printers are infrastructure: the administrator keeps them (the lab chooses among them).
PRINTER_KEEPERS = frozenset({Role.ADMIN})
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class ConfiguredPrinter:
    """The printer of the settings (LIMS_PRINTER_HOST), named by its address."""

    name: str  # "host:port", what the print job records
    host: str
    port: int


def configured_printer() -> ConfiguredPrinter | None:
    settings = get_settings()
    host = settings.printer_host.strip()
    if not host:
        return None
    return ConfiguredPrinter(f"{host}:{settings.printer_port}", host, settings.printer_port)


def host_problem(host: str) -> str | None:
    """Why `host` is neither a host name nor an IP address, or None."""
    if not host:
        return "enter the printer's host name or IP address"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if (len(host) <= 253 and all(_LABEL.match(label) for label in labels)
            and not labels[-1].isdigit()):
        return None
    return (f"{host!r} is neither a host name (letters, digits, hyphens and dots, e.g. "
            "zebra-lab1.hospital.local) nor an IP address (e.g. 10.20.0.31)")


def _port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInput(f"port {port!r} is not a TCP port: 1 to 65535 (a Zebra takes ZPL "
                           "on 9100)")
    return port


def _stock(text: str | LabelStock) -> LabelStock:
    try:
        return parse_stock(str(text))
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def _check(*, name: str, location: str, host: str, reason: str | None = None) -> None:
    problems = []
    if not name:
        problems.append("name: enter the name the lab knows the printer by")
    elif len(name) > 60:
        problems.append(f"name: {len(name)} characters; at most 60")
    elif (problem := identifier_problem(name)) is not None:
        problems.append(f"name: {problem}")
    if len(location) > 120:
        problems.append(f"place: {len(location)} characters; at most 120")
    elif (problem := free_text_problem(location)) is not None:
        problems.append(f"place: {problem}")
    if (problem := host_problem(host)) is not None:
        problems.append(f"host: {problem}")
    if reason is not None and (problem := reason_problem(reason)) is not None:
        problems.append(f"reason: {problem}")
    if problems:
        raise InvalidInput("; ".join(problems))


def _facts(row: Printer) -> dict[str, Any]:
    return {"location": row.location, "host": row.host, "port": row.port, "stock": row.stock}


def register_printer(session: Session, *, actor: User, name: str, host: str, stock: str,
                     port: int = 9100, location: str = "") -> Printer:
    """A new label printer, in use at once."""
    require_role(actor, PRINTER_KEEPERS, "register label printers")
    name, host, location = name.strip(), host.strip(), location.strip()
    _check(name=name, location=location, host=host)
    row = Printer(name=name, location=location, host=host, port=_port(port),
                  stock=_stock(stock).value, active=True)
    if session.exec(select(Printer).where(Printer.name == name)).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"a printer called {name} is already "
                                                    "registered")
    session.add(row)
    append(session, [PendingEvent(AuditAction.PRINTER_REGISTERED, "printer", name, "printer",
                                  None, _facts(row))],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def change_printer(session: Session, *, actor: User, name: str, reason: str,
                   host: str | None = None, port: int | None = None, stock: str | None = None,
                   location: str | None = None) -> Printer:
    """Change a printer's place, address or label stock (what is given), with the reason."""
    require_role(actor, PRINTER_KEEPERS, "change label printers")
    row, reason = _locked(session, name), reason.strip()
    new_host = row.host if host is None else host.strip()
    new_location = row.location if location is None else location.strip()
    _check(name=row.name, location=new_location, host=new_host, reason=reason)
    new_port = row.port if port is None else _port(port)
    new_stock = row.stock if stock is None else _stock(stock).value
    if not reason:
        raise DomainError(ErrorCode.REASON_REQUIRED, "say why the printer changes (e.g. "
                                                     "\"tube labels loaded for QC\")")
    old = _facts(row)
    row.host, row.port, row.stock, row.location = new_host, new_port, new_stock, new_location
    new = _facts(row)
    if new == old:
        raise InvalidInput(f"nothing to change: printer {row.name} already has these settings")
    session.add(row)
    changed = sorted(key for key in new if new[key] != old[key])
    append(session, [PendingEvent(AuditAction.PRINTER_CHANGED, "printer", row.name, key,
                                  old[key], new[key], reason) for key in changed],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def deactivate_printer(session: Session, *, actor: User, name: str, reason: str) -> Printer:
    """Take a printer out of use: no longer offered; its print jobs keep its name."""
    return _set_active(session, actor, name, reason, active=False)


def reactivate_printer(session: Session, *, actor: User, name: str, reason: str) -> Printer:
    return _set_active(session, actor, name, reason, active=True)


def _set_active(session: Session, actor: User, name: str, reason: str, *,
                active: bool) -> Printer:
    verb = "put label printers back in use" if active else "take label printers out of use"
    require_role(actor, PRINTER_KEEPERS, verb)
    row, reason = _locked(session, name), reason.strip()
    _check(name=row.name, location=row.location, host=row.host, reason=reason)
    if not reason:
        raise DomainError(ErrorCode.REASON_REQUIRED, "say why (recorded in the audit trail)")
    if row.active == active:
        raise DomainError(ErrorCode.CONFLICT, f"printer {row.name} is already "
                                              f"{'in use' if active else 'out of use'}")
    row.active = active
    session.add(row)
    append(session, [PendingEvent(
        AuditAction.PRINTER_REACTIVATED if active else AuditAction.PRINTER_DEACTIVATED,
        "printer", row.name, "active", not active, active, reason)],
        user_id=actor.id, username=actor.username)
    session.commit()
    return row


def _locked(session: Session, name: str) -> Printer:
    row = session.exec(select(Printer).where(Printer.name == name.strip())
                       .with_for_update()).first()
    if row is None:
        raise NotFound(f"no printer called {name.strip()!r} is registered")
    return row


def printers(session: Session, *, active_only: bool = False) -> list[Printer]:
    """The registered printers by name (only those in use, if asked)."""
    query = select(Printer).order_by(col(Printer.name))
    if active_only:
        query = query.where(col(Printer.active).is_(True))
    return list(session.exec(query))


def printer_named(session: Session, name: str) -> Printer | None:
    return session.exec(select(Printer).where(Printer.name == name.strip())).first()


def printer_by_id(session: Session, printer_id: int) -> Printer:
    row = session.get(Printer, printer_id)
    if row is None:
        raise NotFound(f"no printer {printer_id} is registered")
    return row


def last_printer_of(session: Session, user_id: int | None) -> int | None:
    """The registered printer this person printed to last, if any."""
    if user_id is None:
        return None
    return session.exec(select(PrintJob.printer_id).where(
        PrintJob.printed_by_id == user_id, col(PrintJob.printer_id).is_not(None))
        .order_by(col(PrintJob.id).desc()).limit(1)).first()


def stock_words(stock: str) -> str:
    try:
        return STOCK_NAMES[LabelStock(stock)]
    except ValueError:
        return stock
