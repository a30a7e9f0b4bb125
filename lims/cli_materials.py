"""`lims lot …`: register reagent and consumable lots with their material, list them, and
release or reject them (QA).

Registering master data is a controlled act: it runs as a named supervisor or admin who
signs in with a password (`--user NAME`, or LIMS_USER; the password is prompted without
echo, or read from LIMS_PASSWORD), and is recorded in the audit trail as from the API. A
lot registered so is in quarantine until a QA person releases it (`lims lot release`),
signed in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

import typer

from lims.cli_labels import Password, User
from workflows.errors import DomainError
from workflows.materials import LotStatus, Material, lot_status_words

lot_app = typer.Typer(no_args_is_help=True, help="Reagent and consumable lots (master data).")


@lot_app.command("add")
def add(lot: Annotated[str, typer.Argument(help="the lot number, e.g. FP2404")],
        reagent: Annotated[str, typer.Option(help="product name, e.g. 'Ficoll-Paque PREMIUM'")],
        material: Annotated[Material, typer.Option(help="the kind of material")],
        expires_on: Annotated[str, typer.Option("--expires", help="expiry date, YYYY-MM-DD")],
        user: User, password: Password,
        manufacturer: Annotated[str, typer.Option()] = "",
        grade: Annotated[str, typer.Option()] = "GMP",
        received_on: Annotated[str, typer.Option(
            "--received", help="the day it arrived, YYYY-MM-DD (today when left out)")] = ""
        ) -> None:
    """Register a lot with its material and expiry, into quarantine (supervisor or admin)."""
    from lims.db import session_scope
    from lims.services.materials import register_reagent_lot
    from lims.services.users import authenticate

    expiry = _day("expiry", expires_on)
    received = _day("date received", received_on) if received_on else None
    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            row = register_reagent_lot(session, actor=actor, reagent=reagent, lot=lot,
                                       material=material.value, expires_on=expiry,
                                       manufacturer=manufacturer, grade=grade,
                                       received_on=received)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"registered lot {row.lot}: {row.reagent} ({row.material}), "
                   f"expires {row.expires_on.isoformat()}, {lot_status_words(row.status)}")


def _day(what: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        typer.echo(f"error: invalid_input: {what} {text!r} is not a YYYY-MM-DD date", err=True)
        raise typer.Exit(code=1) from None


Reason = Annotated[str, typer.Option(help="why (recorded in the audit trail)")]


@lot_app.command("release")
def release(lot: Annotated[str, typer.Argument(help="the lot number")], user: User,
            password: Password, reason: Reason = "") -> None:
    """Release a lot in quarantine for use after incoming inspection (QA)."""
    from lims.services.materials import release_reagent_lot

    _decide(release_reagent_lot, lot, user, password, reason)


@lot_app.command("reject")
def reject(lot: Annotated[str, typer.Argument(help="the lot number")],
           reason: Annotated[str, typer.Option(help="why it is rejected (required)")],
           user: User, password: Password) -> None:
    """Reject a lot with the reason: it is never used in a step (QA)."""
    from lims.services.materials import reject_reagent_lot

    _decide(reject_reagent_lot, lot, user, password, reason)


def _decide(decision: Callable[..., object], lot: str, user: str, password: str,
            reason: str) -> None:
    from lims.db import session_scope
    from lims.models import ReagentLot
    from lims.services.users import authenticate

    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            row = decision(session, actor=actor, lot=lot, reason=reason)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        assert isinstance(row, ReagentLot)
        typer.echo(f"lot {row.lot} ({row.reagent}) is now {lot_status_words(row.status)}")


@lot_app.command("list")
def list_lots(status: Annotated[LotStatus | None, typer.Option(
        help="only the lots of this status")] = None) -> None:
    """Every registered lot with its material, expiry and status."""
    from lims.db import session_scope
    from lims.services.materials import reagent_lots

    with session_scope() as session:
        for row in reagent_lots(session, status):
            typer.echo(f"{row.lot:<12} {row.material or '(no material)':<24} "
                       f"{row.expires_on.isoformat()}  {row.status:<10}  {row.reagent}")
