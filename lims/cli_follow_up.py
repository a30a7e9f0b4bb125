"""`lims follow-up overdue`: the visits whose window closed without the visit (issue 15).

It reads clinical records, so it runs as a named physician or QA user who signs in
(`--user NAME`, or LIMS_USER; the password is prompted without echo, or read from
LIMS_PASSWORD), like the other commands that touch the lab's records.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lims.cli_labels import Password, User
from workflows.errors import DomainError

follow_up_app = typer.Typer(no_args_is_help=True, help="Clinical follow-up after "
                                                       "administration.")


@follow_up_app.command("overdue")
def overdue(user: User, password: Password,
            mine: Annotated[bool, typer.Option(
                "--mine", help="only the patients I am the treating physician of")] = False
            ) -> None:
    """List the overdue follow-up visits, most overdue first (physician, QA)."""
    from lims.db import session_scope
    from lims.services.follow_up import overdue_visits
    from lims.services.users import authenticate

    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            rows = overdue_visits(session, actor=actor, mine_only=mine)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        if not rows:
            typer.echo("no follow-up visit is overdue")
        for row in rows:
            typer.echo(f"{row.subject_id}\t{row.code}\t{row.label}\tdue "
                       f"{row.due_on.isoformat()} ±{row.window_days} d\t"
                       f"{row.days_overdue} d overdue\tproduct {row.din}")
