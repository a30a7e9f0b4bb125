"""`lims users …`: the accounts made from the server's shell.

`lims users create-admin NAME --full-name "…"` makes the first administrator of a new
database (production has no demo accounts: `lims seed` creates none). The password is never
an argument or a variable, where it would stay in the shell history or the process list: it
is typed twice without echo at a terminal, or read as one line from standard input for
automation (`lims users create-admin … < file`). Once an active administrator exists the
command refuses, since every further account is made and audited by a signed-in
administrator; `--force` makes another one when none can sign in (recovery), and the
creation is audited like any other.
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from workflows.roles import Role

if TYPE_CHECKING:
    from sqlmodel import Session

users_app = typer.Typer(no_args_is_help=True, help="User accounts.")



class PasswordNotRead(ValueError):
    """The new password was not given, or typed differently the second time."""


@users_app.command("create-admin")
def create_admin(
        username: Annotated[str, typer.Argument(help="the administrator's user name")],
        full_name: Annotated[str, typer.Option("--full-name", help="printed name, as signed")],
        email: Annotated[str, typer.Option(help="e-mail address (optional)")] = "",
        force: Annotated[bool, typer.Option(
            "--force", help="make another administrator although an active one exists "
                            "(recovery when none can sign in)")] = False) -> None:
    """Create an administrator; the password is prompted twice (or read from stdin) and
    must meet the password policy."""
    from lims.db import session_scope
    from lims.services.users import create_user
    from workflows.errors import DomainError

    with session_scope() as session:
        existing = active_admins(session)
        if existing and not force:
            _fail(f"an active administrator already exists ({', '.join(existing)}): they "
                  "create further accounts; use --force only if none of them can sign in")
        try:
            password = read_new_password()
            user = create_user(session, actor=None, username=username, full_name=full_name,
                               role=Role.ADMIN.value, password=password, email=email)
        except PasswordNotRead as unread:
            _fail(str(unread))
        except DomainError as error:
            _fail(f"{error.code.value}: {error.detail}")
        typer.echo(f"administrator {user.username} ({user.full_name}) created")


def active_admins(session: Session) -> list[str]:
    """User names of the administrators whose accounts are active."""
    from sqlmodel import col, select

    from lims.models import User

    rows = session.exec(select(User.username).where(
        User.role == Role.ADMIN.value, col(User.active).is_(True)).order_by(col(User.username)))
    return list(rows)


def read_new_password() -> str:
    """Typed twice without echo at a terminal; else the first line of standard input."""
    if sys.stdin.isatty():
        password = getpass.getpass("new password: ")
        if getpass.getpass("the same password again: ") != password:
            raise PasswordNotRead("the two passwords differ; nothing was created")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise PasswordNotRead("no password given; nothing was created")
    return password  # the policy (workflows/passwords.py) is create_user's to apply


@users_app.command("unlock")
def unlock(username: Annotated[str, typer.Argument(help="the user name to clear")],
           reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")]
           ) -> None:
    """Clear every sign-in wait of an account (and an old lock) at once: for when the only
    administrator is the one waiting. Audited as done by "system" at the server."""
    from lims.db import session_scope
    from lims.services.users import unlock_user
    from workflows.errors import DomainError

    with session_scope() as session:
        try:
            user = unlock_user(session, actor=None, username=username, reason=reason)
        except DomainError as error:
            _fail(f"{error.code.value}: {error.detail}")
        typer.echo(f"{user.username} may sign in again at once")


@users_app.command("reset-password")
def reset_password_command(
        username: Annotated[str, typer.Argument(help="whose password")],
        reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")]
) -> None:
    """Set a temporary password (prompted twice, or read from stdin): every session of the
    account ends and the person must choose their own at the next sign-in."""
    from lims.db import session_scope
    from lims.services.passwords import reset_password
    from workflows.errors import DomainError

    with session_scope() as session:
        try:
            user = reset_password(session, actor=None, username=username,
                                  temporary_password=read_new_password(), reason=reason)
        except PasswordNotRead as unread:
            _fail(str(unread))
        except DomainError as error:
            _fail(f"{error.code.value}: {error.detail}")
        typer.echo(f"temporary password set for {user.username}: they choose their own at "
                   "the next sign-in")


@users_app.command("deactivate")
def deactivate(username: Annotated[str, typer.Argument(help="whose account")],
               reason: Annotated[str, typer.Option("--reason",
                                                   help="why (recorded in the audit)")]) -> None:
    """Deactivate an account: every session and token of it ends at once (not the last
    active administrator). Audited as done by "system" at the server."""
    _activity(username, reason, active=False)


@users_app.command("reactivate")
def reactivate(username: Annotated[str, typer.Argument(help="whose account")],
               reason: Annotated[str, typer.Option("--reason",
                                                   help="why (recorded in the audit)")]) -> None:
    """Reactivate a deactivated account; the person signs in again."""
    _activity(username, reason, active=True)


@users_app.command("set-role")
def set_role(username: Annotated[str, typer.Argument(help="whose account")],
             role: Annotated[Role, typer.Argument(help="the new role")],
             reason: Annotated[str, typer.Option("--reason",
                                                 help="why (recorded in the audit)")]) -> None:
    """Give an account another role: every session and token of it ends at once (not the
    last active administrator's). Audited as done by "system" at the server."""
    from lims.db import session_scope
    from lims.services.users import change_role
    from workflows.errors import DomainError

    with session_scope() as session:
        try:
            user = change_role(session, actor=None, username=username, role=role.value,
                               reason=reason)
        except DomainError as error:
            _fail(f"{error.code.value}: {error.detail}")
        typer.echo(f"{user.username} is now {user.role}; their sessions have ended")


def _activity(username: str, reason: str, *, active: bool) -> None:
    from lims.db import session_scope
    from lims.services.users import deactivate_user, reactivate_user
    from workflows.errors import DomainError

    change = reactivate_user if active else deactivate_user
    with session_scope() as session:
        try:
            user = change(session, actor=None, username=username, reason=reason)
        except DomainError as error:
            _fail(f"{error.code.value}: {error.detail}")
        typer.echo(f"{user.username} {'reactivated' if active else 'deactivated'}")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
