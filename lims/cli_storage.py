"""`lims storage …`: the storage locations tree, and a location added to it (issue 16).

Adding runs as a named supervisor or administrator who signs in with a password (`--user
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
            typer.echo(f"{'  ' * line.depth}{row.code:<14} {row.kind:<8} {row.name}  "
                       f"[{line.range.words()}]{grid}")


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
