"""`lims label …`: read an ISBT 128 scan, list, print and scan back container labels.

Printing and scanning back are controlled acts: they run as a named user who signs
in with a password (`--user NAME`, or LIMS_USER; the password is prompted without
echo, or read from LIMS_PASSWORD for scripts). Every print is recorded as a print
job and in the audit trail, exactly as from the web UI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from sqlmodel import Session

from workflows.errors import DomainError, InvalidInput
from workflows.identity import container_words
from workflows.words import label_kind_words

label_app = typer.Typer(no_args_is_help=True, help="ISBT 128 container labels.")

User = Annotated[str, typer.Option("--user", envvar="LIMS_USER",
                                   help="who prints (signs in; or LIMS_USER)")]
Password = Annotated[str, typer.Option("--password", envvar="LIMS_PASSWORD", prompt=True,
                                       hide_input=True,
                                       help="prompted when not given (or LIMS_PASSWORD)")]

# ISBT 128 ST-001 Table 3 (RT004): what the flag characters of a DIN mean.
_FLAGS = {"00": "flag not used", "01": "container 1 of a set", "02": "container 2 of a set",
          "03": "container 3 of a set", "04": "container 4 of a set",
          "05": "second (or repeated) demand-printed label", "06": "pilot tube label",
          "07": "test tube label", "08": "donor record label",
          "09": "sample tube for NAT testing", "10": "samples for bacterial testing",
          "11": "match with unit label", "12": "affixed partial label",
          "13": "attached label", **{f"{n}": f"container {n - 10} of a set" for n in range(15, 20)}}


def flag_meaning(flags: str) -> str:
    if flags in _FLAGS:
        return _FLAGS[flags]
    if flags.isdigit() and 20 <= int(flags) <= 59:
        return "locally defined (Type 2)"
    if flags.isdigit() and 60 <= int(flags) <= 96:
        return "DIN check (Type 3)"
    return "reserved"


@label_app.command("parse")
def parse(text: Annotated[str, typer.Argument(help="what the scanner typed, or a DIN")]) -> None:
    """Print the parts of an ISBT 128 scan, or the precise error (exit status 1)."""
    from workflows.isbt128 import ScanError, parse_scan

    try:
        scan = parse_scan(text)
    except ScanError as error:
        typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
        raise typer.Exit(code=1) from None
    if scan.din is not None:
        typer.echo(f"DIN           {scan.din.eye_readable()} [{scan.din.check}]  "
                   f"({scan.din.text}, check character {scan.din.check})")
    if scan.flags is not None:
        typer.echo(f"flags         {scan.flags} ({flag_meaning(scan.flags)})")
    if scan.product_code is not None:
        code = scan.product_code
        typer.echo(f"product code  {code.text} (description code {code.pdc}, collection type "
                   f"{code.collection_type}, division {code.division})")
    if scan.expiry is not None:
        typer.echo(f"expiry        {scan.expiry.isoformat(sep=' ', timespec='minutes')} "
                   f"(facility local time)")
    if scan.collection is not None:
        typer.echo(f"collection    {scan.collection.isoformat(sep=' ', timespec='minutes')} "
                   f"(facility local time)")
    if scan.patient_id is not None:
        typer.echo(f"patient ID    {scan.patient_id}")
    kind = "compound message" if scan.compound else (
        "keyboard-entered DIN" if not scan.structures else "data structures")
    typer.echo(f"read as       {kind}")
    for structure in scan.structures:
        typer.echo(f"  DS {structure.ds}  {structure.identifier}{structure.content}")


@label_app.command("list")
def list_containers(din: str) -> None:
    """A product's containers: id, stage, code/flags, status, label printed and verified."""
    from sqlmodel import col, func, select

    from lims.db import session_scope
    from lims.models import PrintJob
    from lims.services.queries import containers

    with session_scope() as session:
        found = containers(session, din)
        prints = dict(session.exec(select(PrintJob.container_id, func.count())
                                   .where(col(PrintJob.container_id).in_([c.id for c in found]))
                                   .group_by(col(PrintJob.container_id))).all())
        for c in found:
            verified = (c.label_verified_at.isoformat(timespec="minutes")
                        if c.label_verified_at else "not verified")
            typer.echo(f"{c.id:>6}  {c.kind:<15} {c.product_code}/{c.flags}  {c.status:<12} "
                       f"printed {prints.get(c.id or 0, 0)}x, label {verified}")


@label_app.command("print")
def print_(din: str,
           user: User,
           password: Password,
           container: Annotated[int | None, typer.Option(
               help="container id (see `lims label list`); default: the one awaiting a label")
           ] = None,
           format: Annotated[str, typer.Option(help="pdf or zpl")] = "pdf",
           out: Annotated[Path | None, typer.Option(
               help="file to write; default: DIN-kind-code-flags.pdf, or ZPL to stdout")
           ] = None,
           reason: Annotated[str | None, typer.Option(help="why (required for a reprint)")
                             ] = None,
           printer: Annotated[str, typer.Option(
               help="printer name; the configured Zebra (LIMS_PRINTER_HOST) gets the ZPL")
           ] = "",
           kind: Annotated[str | None, typer.Option(
               help="label kind (final product only: in_process, final, issue)")] = None,
           ) -> None:
    """Render a container's label and record the print (reprints need --reason)."""
    from lims.db import session_scope
    from lims.services.labels import print_label
    from lims.services.users import authenticate

    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            container_id = container if container is not None else _awaiting(session, din)
            result = print_label(session, actor=actor, din=din, container_id=container_id,
                                 format=cast(Literal["pdf", "zpl"], format), printer=printer,
                                 reason=reason, kind=kind)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        job, label = result.print_job, result.label
    stem = f"{label.din.text}-{label.kind}-{label.product_code.text}-{label.flags}"
    if isinstance(result.output, str) and out is None:
        sys.stdout.write(result.output)
        sys.stdout.flush()
    else:
        target = out or Path(f"{stem}.{format}")
        if isinstance(result.output, bytes):
            target.write_bytes(result.output)
        else:
            target.write_text(result.output, encoding="utf-8")
        typer.echo(f"wrote {target}")
    what = "reprint" if job.reprint else "print"
    typer.echo(f"{what} job {job.id}: {label_kind_words(label.kind)} of {stem} ({job.format}"
               f"{', sent to ' + job.printer if job.printer else ''}); scan it back with "
               f"`lims label verify {label.din.text} SCAN`", err=True)


@label_app.command("verify")
def verify(din: str,
           scan: Annotated[str, typer.Argument(help="what the scanner read from the label")],
           user: User, password: Password) -> None:
    """Scan a printed label back; a wrong label is refused and recorded (exit status 1)."""
    from lims.db import session_scope
    from lims.services.labels import verify_label
    from lims.services.users import authenticate

    with session_scope() as session:
        try:
            actor = authenticate(session, username=user, password=password)
            checked = verify_label(session, actor=actor, din=din, scan=scan)
        except DomainError as error:
            typer.echo(f"error: {error.code.value}: {error.detail}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"label of the {container_words(checked.kind)} "
                   f"{checked.product_code}/{checked.flags} "
                   f"verified at {checked.label_verified_at}")


def _awaiting(session: Session, din: str) -> int:
    """The one container whose label has not been printed yet; else ask for --container."""
    from lims.services.labels import pending_labels
    from lims.services.queries import containers

    due = [p for p in pending_labels(session, din) if not p.printed]
    if len(due) == 1 and due[0].container.id is not None:
        return due[0].container.id
    choices = ", ".join(f"{c.id} ({c.kind} {c.product_code}/{c.flags})"
                        for c in containers(session, din) if c.status == "in_use")
    raise InvalidInput(f"choose the container with --container ID: {choices or 'none in use'}")
