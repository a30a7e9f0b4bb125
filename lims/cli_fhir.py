"""`lims fhir export DIN`: a product's FHIR R5 transaction Bundle, as GET /fhir/Bundle/{DIN}
serves it.

Pseudonymised by default (trial subject ID, sex, year of birth). `--identified` adds the
name, MRN and date of birth; it signs in a physician, supervisor or QA user (`--user`,
or LIMS_USER; the password is prompted without echo, or read from LIMS_PASSWORD), and is
recorded in the audit trail (who, which patient and DIN, through the command line) before
the bundle is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workflows.errors import DomainError

fhir_app = typer.Typer(no_args_is_help=True, help="FHIR R5 interface (read-only exports).")


@fhir_app.command("export")
def export(din: Annotated[str, typer.Argument(help="the product's DIN")],
           out: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")]
           = None,
           identified: Annotated[bool, typer.Option(
               "--identified", help="include name, MRN and date of birth (physician, "
                                    "supervisor or QA; signs in)")] = False,
           user: Annotated[str | None, typer.Option(
               "--user", envvar="LIMS_USER", help="who exports (with --identified)")] = None,
           password: Annotated[str | None, typer.Option(
               "--password", envvar="LIMS_PASSWORD", hidden=True)] = None) -> None:
    """Write a product's FHIR R5 transaction Bundle (JSON)."""
    from lims.db import session_scope
    from lims.services.fhir_bundle import dumps, product_bundle
    from lims.services.fhir_disclosure import Interface
    from lims.services.users import authenticate

    if identified and not user:
        typer.echo("error: --identified names who exports: give --user (or LIMS_USER)", err=True)
        raise typer.Exit(code=1)
    with session_scope() as session:
        try:
            reader = None
            if identified:
                secret = password or typer.prompt("Password", hide_input=True)
                reader = authenticate(session, username=str(user), password=secret)
            bundle = product_bundle(session, din, reader=reader, identified=identified,
                                    interface=Interface.CLI)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
    text = dumps(bundle)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}: {len(bundle.get('entry', []))} resources for DIN "
               f"{bundle['identifier']['value']}", err=True)
