"""`lims storage …`: the storage locations tree, a location added to it (issue 16), and
one taken out of use or put back in use with the reason.

Each change runs as a named supervisor or administrator who signs in with a password (`--user
NAME`, or LIMS_USER; the password is prompted without echo, or read from LIMS_PASSWORD), and
is recorded in the audit trail as from the API or the locations page.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lims.cli_labels import Password, User
from workflows.errors import DomainError
from workflows.storage import LocationKind

storage_app = typer.Typer(no_args_is_help=True, help="Storage locations (master data).")


@storage_app.command("locations")
def locations() -> None:
    """Every location but the positions, as a tree, with the range it must hold."""
    from lims.db import session_scope
    from lims.services.storage_locations import location_tree

    with session_scope() as session:
        for line in location_tree(session):
            row = line.location
            grid = (f"  {line.occupied} of {(row.rows or 0) * (row.columns or 0)} occupied"
                    if row.kind == LocationKind.BOX else "")
            retired = "" if row.active else "  (out of use)"
            typer.echo(f"{'  ' * line.depth}{row.code:<14} {row.kind:<8} {row.name}  "
                       f"[{line.range.words()}]{grid}{retired}")


@storage_app.command("add-location")
def add_location(
        kind: Annotated[LocationKind, typer.Argument(help="site, room, freezer, fridge, rack "
                                                          "or box")],
        code: Annotated[str, typer.Argument(help="the scannable code on its label")],
        name: Annotated[str, typer.Option(help="the name the lab knows it by")],
        user: User, password: Password,
        parent: Annotated[str | None, typer.Option(help="the code of its parent")] = None,
        min_c: Annotated[float | None, typer.Option(help="lowest temperature, °C")] = None,
        max_c: Annotated[float | None, typer.Option(help="highest temperature, °C")] = None,
        rows: Annotated[int | None, typer.Option(help="a box: rows (A..)")] = None,
        columns: Annotated[int | None, typer.Option(help="a box: columns")] = None) -> None:
    """Add a storage location (a box with its positions); supervisor or administrator."""
    from lims.db import session_scope
    from lims.services.storage_locations import create_location
    from lims.services.users import authenticate

    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            row = create_location(session, actor=actor, kind=kind.value, name=name, code=code,
                                  parent_code=parent, temperature_min_c=min_c,
                                  temperature_max_c=max_c, rows=rows, columns=columns)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"created {row.kind} {row.code} ({row.name})")


Reason = Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")]
Code = Annotated[str, typer.Argument(help="the location's code")]


@storage_app.command("deactivate-location")
def deactivate_location(code: Code, reason: Reason, user: User, password: Password) -> None:
    """Take an empty location out of use, with everything under it; supervisor or
    administrator."""
    _set_use(code, reason, user, password, active=False)


@storage_app.command("reactivate-location")
def reactivate_location(code: Code, reason: Reason, user: User, password: Password) -> None:
    """Put a location back in use (a box with its positions) under a parent in use."""
    _set_use(code, reason, user, password, active=True)


def _set_use(code: str, reason: str, user: str, password: str, *, active: bool) -> None:
    from lims.db import session_scope
    from lims.services import storage_locations
    from lims.services.users import authenticate

    change = (storage_locations.reactivate_location if active
              else storage_locations.deactivate_location)
    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            row = change(session, actor=actor, code=code, reason=reason)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"{row.kind} {row.code} ({row.name}) is now "
                   f"{'in use' if active else 'out of use, with everything under it'}")
