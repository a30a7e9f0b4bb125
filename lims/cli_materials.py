"""`lims lot …`: register reagent and consumable lots with their material, and list them.

Registering master data is a controlled act: it runs as a named supervisor or admin who
signs in with a password (`--user NAME`, or LIMS_USER; the password is prompted without
echo, or read from LIMS_PASSWORD), and is recorded in the audit trail as from the API.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from lims.cli_labels import Password, User
from workflows.errors import DomainError
from workflows.materials import Material

lot_app = typer.Typer(no_args_is_help=True, help="Reagent and consumable lots (master data).")


@lot_app.command("add")
def add(lot: Annotated[str, typer.Argument(help="the lot number, e.g. FP2404")],
        reagent: Annotated[str, typer.Option(help="product name, e.g. 'Ficoll-Paque PREMIUM'")],
        material: Annotated[Material, typer.Option(help="the kind of material")],
        expires_on: Annotated[str, typer.Option("--expires", help="expiry date, YYYY-MM-DD")],
        user: User, password: Password,
        manufacturer: Annotated[str, typer.Option()] = "",
        grade: Annotated[str, typer.Option()] = "GMP") -> None:
    """Register a lot with its material and expiry (supervisor or admin)."""
    from lims.db import session_scope
    from lims.services.materials import register_reagent_lot
    from lims.services.users import authenticate

    try:
        expiry = date.fromisoformat(expires_on)
    except ValueError:
        typer.echo(f"error: invalid_input: expiry {expires_on!r} is not a YYYY-MM-DD date",
                   err=True)
        raise typer.Exit(code=1) from None
    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            row = register_reagent_lot(session, actor=actor, reagent=reagent, lot=lot,
                                       material=material.value, expires_on=expiry,
                                       manufacturer=manufacturer, grade=grade)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"registered lot {row.lot}: {row.reagent} ({row.material}), "
                   f"expires {row.expires_on.isoformat()}")


@lot_app.command("list")
def list_lots() -> None:
    """Every registered lot with its material and expiry."""
    from lims.db import session_scope
    from lims.services.materials import reagent_lots

    with session_scope() as session:
        for row in reagent_lots(session):
            typer.echo(f"{row.lot:<12} {row.material or '(no material)':<24} "
                       f"{row.expires_on.isoformat()}  {row.reagent}")
