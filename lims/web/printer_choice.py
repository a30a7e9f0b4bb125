"""The label printers a person at the bench chooses from: those in use, and the printer
of the settings (LIMS_PRINTER_HOST) when it is not registered; the one they printed to
last comes preselected."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from lims.models import User
from lims.services.printers import (
    configured_printer,
    last_printer_of,
    printers,
    stock_words,
)


@dataclass(frozen=True)
class PrinterChoices:
    options: list[tuple[str, str]]  # (what the form sends: the printer's name, what it shows)
    chosen: str


def printer_choices(db: Session, user: User) -> PrinterChoices:
    rows = printers(db, active_only=True)
    options = [(row.name, f"{row.name}{f' ({row.location})' if row.location else ''}: "
                          f"{stock_words(row.stock)}") for row in rows]
    legacy = configured_printer()
    if legacy is not None and not any((row.host, row.port) == (legacy.host, legacy.port)
                                      for row in rows):
        options.append((legacy.name, f"{legacy.name} (the configured printer; label stock "
                                     "not checked)"))
    last = last_printer_of(db, user.id)
    chosen = next((row.name for row in rows if row.id == last), options[0][0] if options else "")
    return PrinterChoices(options, chosen)
