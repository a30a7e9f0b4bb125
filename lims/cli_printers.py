"""`lims printers …`: register a label printer and list them (the administrator).

Registering runs as a named administrator who signs in with a password (`--user NAME`,
or LIMS_USER; the password is prompted without echo, or read from LIMS_PASSWORD), and is
recorded in the audit trail as from the API or the admin page.
"""

from __future__ import annotations

from typing import Annotated

import typer

from labels.stock import LabelStock
from lims.cli_labels import Password, User
from workflows.errors import DomainError

printers_app = typer.Typer(no_args_is_help=True, help="Label printers (master data).")


@printers_app.command("add")
def add(name: Annotated[str, typer.Argument(help="the name the lab knows it by")],
        host: Annotated[str, typer.Option(help="host name or IP address")],
        stock: Annotated[LabelStock, typer.Option(help="the label stock loaded")],
        user: User, password: Password,
        port: Annotated[int, typer.Option(help="raw TCP port (ZPL)")] = 9100,
        location: Annotated[str, typer.Option(help="where it stands")] = "") -> None:
    """Register a label printer with its address and label stock (admin)."""
    from lims.db import session_scope
    from lims.services.printers import register_printer
    from lims.services.users import authenticate

    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            row = register_printer(session, actor=actor, name=name, host=host,
                                   stock=stock.value, port=port, location=location)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"registered printer {row.name}: {row.host}:{row.port}, stock {row.stock}")


@printers_app.command("list")
def list_printers() -> None:
    """Every registered label printer: name, address, stock, in use or not, place."""
    from lims.db import session_scope
    from lims.services.printers import printers

    with session_scope() as session:
        for row in printers(session):
            typer.echo(f"{row.name:<16} {row.host}:{row.port:<6} {row.stock:<10} "
                       f"{'in use' if row.active else 'out of use':<10}  {row.location}")
