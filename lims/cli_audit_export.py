"""`lims audit export`: the audit trail of a period in human-readable CSV or JSON."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from lims.audit_actions import AuditAction
from lims.db import session_scope
from lims.progress import progress, quiet, tracked
from lims.services.audit_query import (
    EXPORT_FIELDS,
    AuditFilter,
    AuditLine,
    count_events,
    export_events,
)
from workflows.errors import DomainError


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def audit_export(
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"],
                                            help="first day (YYYY-MM-DD, facility's time zone)")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"],
                                          help="last day, included (YYYY-MM-DD)")],
    format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.CSV,
    out: Annotated[Path | None, typer.Option(help="file to write (default: standard output)")
                   ] = None,
    din: Annotated[str | None, typer.Option(help="only this product's events")] = None,
    user: Annotated[str | None, typer.Option(help="only this user's events (user ID)")] = None,
    action: Annotated[AuditAction | None, typer.Option(help="only this action")] = None,
) -> None:
    """Export the audit trail of a period: times in UTC and local, user's full name, action
    in words, what changed (old → new) and why. Progress on standard error (a bar on a
    terminal, plain lines otherwise), none when the export itself scrolls on the terminal."""
    filters = AuditFilter(din=din, username=user, action=action, start=start.date(),
                          end=end.date())
    with session_scope() as session:
        try:
            lines = export_events(session, filters)  # refuses bad filters before any output
        except DomainError as refused:
            typer.echo(f"refused: {refused.detail}", err=True)
            raise typer.Exit(code=1) from None
        write = _csv if format is ExportFormat.CSV else _json
        stdout = sys.stdout  # the real one: a bar on a terminal must not take the data
        total = count_events(session, filters)
        shown = (progress("audit export", total, unit="events", redirect=False)
                 if out is not None or not stdout.isatty() else quiet("audit export", total))
        with shown as advance:
            if out is None:
                count = write(tracked(lines, advance), stdout)
            else:
                with out.open("w", encoding="utf-8", newline="") as stream:
                    count = write(tracked(lines, advance), stream)
    typer.echo(f"exported {count} event(s) from {start.date()} to {end.date()}"
               + (f" to {out}" if out else ""), err=True)


def _csv(lines: Iterable[AuditLine], stream: TextIO) -> int:
    writer = csv.DictWriter(stream, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for line in lines:
        writer.writerow(line.as_dict())
        count += 1
    return count


def _json(lines: Iterable[AuditLine], stream: TextIO) -> int:
    # One event per line inside the array: large exports stream instead of building a list.
    stream.write("[")
    count = 0
    for line in lines:
        stream.write(("," if count else "") + "\n" + json.dumps(line.as_dict(),
                                                                ensure_ascii=False))
        count += 1
    stream.write("\n]\n")
    return count
