"""`lims temperature …` (the monitoring system's file, probes) and `lims expire-due`.

Importing runs as a named user who signs in (`--user NAME`, or LIMS_USER; the password is
prompted without echo, or read from LIMS_PASSWORD), so the readings and the audit event
name who imported them. `lims expire-due` is for cron where the job runner is not used:
it expires, as the system, every product past its expiry and notifies as the job does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lims.cli_labels import Password, User
from workflows.errors import DomainError

temperature_app = typer.Typer(no_args_is_help=True,
                              help="Storage temperatures: monitoring file, probes.")


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
    raise typer.Exit(code=1)


@temperature_app.command("import")
def import_file(file: Annotated[Path, typer.Argument(help="the monitoring system's CSV "
                                                          "(device,time,celsius)")],
                user: User, password: Password) -> None:
    """Import a monitoring file: all of it or nothing; readings imported before are
    skipped; excursions are raised and notified."""
    from lims.db import session_scope
    from lims.services.temperature import import_readings
    from lims.services.users import authenticate

    try:
        content = file.read_bytes()
    except OSError as error:
        typer.echo(f"error: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(code=1) from None
    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            result = import_readings(session, actor=actor, content=content)
        except DomainError as error:
            _fail(error)
            return
        typer.echo(f"imported {file.name} (sha256 {result.sha256}): {result.recorded} new "
                   f"reading(s), {result.already} imported before")
        for excursion_id in result.excursions:
            typer.echo(f"  excursion {excursion_id} raised or changed: QA is notified")


@temperature_app.command("device")
def add_device(device: Annotated[str, typer.Argument(help="the probe as the export names it")],
               location: Annotated[str, typer.Option(help="the storage location's code")],
               user: User, password: Password) -> None:
    """Assign a monitoring probe to a storage location (supervisor/admin)."""
    from lims.db import session_scope
    from lims.services.temperature import register_device
    from lims.services.users import authenticate

    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            row = register_device(session, actor=actor, device=device, location_code=location)
        except DomainError as error:
            _fail(error)
            return
        typer.echo(f"probe {row.device} assigned to {location.strip().upper()}")


def expire_due_command() -> None:
    """Expire every product past its expiry and notify QA and the physician (for cron)."""
    from lims.db import session_scope
    from lims.services.dispositions import expire_due

    with session_scope() as session:
        expired = expire_due(session, actor=None)
    for din in expired:
        typer.echo(f"expired {din}")
    typer.echo(f"{len(expired)} product(s) expired")
