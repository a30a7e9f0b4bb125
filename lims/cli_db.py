"""`lims db`: least privilege on PostgreSQL (the application's role; README "Database roles")."""

from __future__ import annotations

from typing import Annotated

import typer

from lims.config import get_settings
from lims.db import make_engine
from lims.db_roles import RoleRefused, app_role_problems, grant_app_role

db_app = typer.Typer(no_args_is_help=True, help="Database roles (PostgreSQL).")
Role = Annotated[str, typer.Argument(help="the role the application connects as")]


def owner_url() -> str:
    """Where migrations and grants connect: the owner of the tables."""
    settings = get_settings()
    return settings.migration_database_url or settings.database_url


@db_app.command("grant-app-role")
def grant(role: Role) -> None:
    """Give ROLE the application's rights only (run as the owner, after every migration)."""
    engine = make_engine(owner_url())
    try:
        with engine.begin() as conn:
            tables = grant_app_role(conn, role)
            problems = app_role_problems(conn, role)
    except RoleRefused as refused:
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"role {role} may use {len(tables)} tables; on audit_event it may only add "
               "and read events, on audit_head only move the head")
    _report(role, problems)


@db_app.command("check-app-role")
def check(role: Role) -> None:
    """Say whether ROLE could rewrite the audit trail; exits 1 if it could."""
    engine = make_engine(owner_url())
    try:
        with engine.connect() as conn:
            problems = app_role_problems(conn, role)
    except RoleRefused as refused:
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    _report(role, problems)


def grant_configured_role() -> None:
    """After migrating: grant LIMS_APP_ROLE its rights, when one is configured."""
    role = get_settings().app_role
    if role:
        grant(role)


def _report(role: str, problems: list[str]) -> None:
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo(f"role {role} cannot update, delete or truncate audit events, nor alter or "
               "drop a trigger or a table")
