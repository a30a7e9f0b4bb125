"""The `lims` command line: init, seed, serve, demo, worklist, history, audit verify, jobs,
users, secret-key, temperature, expire-due."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lims.cli_audit_checkpoints import (
    audit_checkpoint,
    audit_keygen,
    audit_restore_checkpoint,
)
from lims.cli_audit_export import audit_export
from lims.cli_audit_proofs import audit_prove
from lims.cli_db import db_app, grant_configured_role, owner_url
from lims.cli_fhir import fhir_app
from lims.cli_follow_up import follow_up_app
from lims.cli_jobs import jobs_app
from lims.cli_labels import label_app
from lims.cli_materials import lot_app
from lims.cli_printers import printers_app
from lims.cli_storage import storage_app
from lims.cli_temperature import expire_due_command, temperature_app
from lims.cli_users import users_app
from lims.config import Settings
from lims.db import get_engine, session_scope
from workflows.words import state_words

app = typer.Typer(no_args_is_help=True, help="Cell-processing LIMS (NCT00713934).")
audit_app = typer.Typer(no_args_is_help=True, help="Audit trail.")
app.add_typer(audit_app, name="audit")
audit_app.command("export")(audit_export)
audit_app.command("prove")(audit_prove)
audit_app.command("keygen")(audit_keygen)
audit_app.command("checkpoint")(audit_checkpoint)
audit_app.command("restore-checkpoint")(audit_restore_checkpoint)
app.add_typer(label_app, name="label")
app.add_typer(lot_app, name="lot")
app.add_typer(printers_app, name="printers")
app.add_typer(storage_app, name="storage")
app.add_typer(jobs_app, name="jobs")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(temperature_app, name="temperature")
app.command("expire-due")(expire_due_command)
app.add_typer(fhir_app, name="fhir")
app.add_typer(follow_up_app, name="follow-up")

# Commands that work before (or without) a lab's configuration: making its keys, drawing the
# state machine, reading what a scanner typed. Every other command reads or writes the lab's
# records, so it refuses weak or unreal production settings as `lims serve` does.
_UNCONFIGURED = frozenset({"secret-key", "diagram", "keygen", "parse"})


def _refuse_unless_configured(ctx: typer.Context) -> None:
    if (ctx.invoked_subcommand in _UNCONFIGURED or ctx.resilient_parsing
            or "--help" in sys.argv[1:]):
        return
    if ctx.invoked_subcommand in ("audit", "label"):
        return  # their own callbacks decide (audit keygen and label parse need no lab)
    _checked_settings()


@app.callback()
def _main(ctx: typer.Context) -> None:
    """Cell-processing LIMS (NCT00713934)."""
    _refuse_unless_configured(ctx)


@audit_app.callback()
def _audit(ctx: typer.Context) -> None:
    """Audit trail."""
    _refuse_unless_configured(ctx)


@label_app.callback()
def _label(ctx: typer.Context) -> None:
    """ISBT 128 container labels."""
    _refuse_unless_configured(ctx)


@app.command()
def init() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from lims.migrate import upgrade

    _checked_settings()
    url = owner_url()
    upgrade(url)
    typer.echo(f"database at {_safe(url)} is at the latest schema")
    grant_configured_role()  # LIMS_APP_ROLE, if set, gets the application's rights only
    _schedule_checkpoints()


@app.command()
def seed(file: Annotated[Path | None, typer.Option(help="seed TOML file")] = None,
         demo: Annotated[bool, typer.Option(
             "--demo", help="also the seven demo accounts, demo reagent lots and equipment "
                            "(development only)")] = False) -> None:
    """Load the trial's reference data: protocol, arms, release specifications (idempotent).
    No accounts: make the first administrator with `lims users create-admin`."""
    from lims.services.seed import DEFAULT_SEED, SeedRefused, load_seed, refuse_demo_in_production
    from lims.services.seed import seed as run_seed

    _checked_settings()
    try:
        if demo:
            refuse_demo_in_production("`lims seed --demo`")
        data = load_seed(file or DEFAULT_SEED, demo=demo)
        with session_scope() as session:
            created = run_seed(session, data, progress=lambda m: typer.echo(f"  + {m}"))
    except SeedRefused as refused:
        typer.echo(str(refused), err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"seed complete: {created} record(s) created")


@app.command()
def demo(out: Annotated[Path, typer.Option(help="where labels and batch records go")] = Path(
        "demo-output")) -> None:
    """Run a CD133 and a BM-MNC product from enrolment to administration (development only,
    after `lims seed --demo`)."""
    from lims.demo import run_demo
    from lims.progress import progress
    from lims.services.seed import SeedRefused, refuse_demo_in_production

    try:
        refuse_demo_in_production("`lims demo`")
    except SeedRefused as refused:
        typer.echo(str(refused), err=True)
        raise typer.Exit(code=2) from None
    with session_scope() as session:
        products = run_demo(session, out, say=typer.echo, progress=progress)
        summary = ", ".join(f"{p.din} ({p.arm}, {state_words(p.state)})" for p in products)
    typer.echo(f"demo products: {summary}")


@app.command()
def products(all_states: Annotated[bool, typer.Option("--all")] = False) -> None:
    """The worklist: products waiting at each step."""
    from lims.services.queries import worklist

    with session_scope() as session:
        grouped = worklist(session, include_final=all_states)
    if not grouped:
        typer.echo("no products in process")
    for state, items in grouped.items():
        typer.echo(f"{state} ({len(items)})")
        for item in items:
            expires = item.expires_at.isoformat(timespec="minutes") if item.expires_at else "-"
            typer.echo(f"  {item.din}  {item.subject_id:<10} {item.arm:<7} expires {expires}")


@app.command()
def show(din: str) -> None:
    """A product's containers and its full history."""
    from lims.services.queries import containers, history

    with session_scope() as session:
        for container in containers(session, din):
            typer.echo(f"container {container.kind:<15} {container.product_code}/"
                       f"{container.flags} {container.status}")
        for event in history(session, din):
            change = f"{event.old_value} -> {event.new_value}" if event.field else ""
            why = f" ({event.reason})" if event.reason else ""
            typer.echo(f"{event.at.isoformat(timespec='seconds')} {event.username:<8} "
                       f"{event.action:<16} {event.field} {change}{why}"[:200])


# X-Forwarded-For and X-Forwarded-Proto are believed from these addresses only (the TLS
# proxy's): sign-in throttling counts failures per client address, which a client could
# otherwise choose for itself by sending the header.
PROXY_ADDRESSES = "127.0.0.1,::1"


@app.command()
def serve(host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
          workers: Annotated[int | None, typer.Option(
              min=1, help="server processes (default: one per CPU on PostgreSQL, one on "
                          "SQLite, which allows no more)")] = None,
          forwarded_allow_ips: Annotated[str, typer.Option(
              help="addresses (or networks) of the TLS reverse proxy whose X-Forwarded-For "
                   "names the client, comma-separated")] = PROXY_ADDRESSES) -> None:
    """Serve the REST API (/api/v1) and the web UI, and run the background jobs (unless
    LIMS_JOBS_ENABLED=false). docs/deploy.md: proxy, workers, environment."""
    import uvicorn

    from lims.config import UnsafeSettings

    settings = _checked_settings()  # refused here, before anything listens
    if workers is None:
        workers = default_workers(settings.database_url)
    try:
        _check_serving(settings.database_url, settings.environment, workers,
                       forwarded_allow_ips)
    except UnsafeSettings as unsafe:
        typer.echo(str(unsafe), err=True)
        raise typer.Exit(code=2) from None
    _schedule_checkpoints()
    typer.echo(f"serving on http://{host}:{port} with {workers} worker process"
               f"{'es' if workers > 1 else ''} (API docs: /api/v1/docs)")
    # An import string and a factory: each worker process builds its own application, and
    # create_app checks the settings again there (a worker never runs on weak settings).
    uvicorn.run("lims.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips,
                log_level="info", server_header=False)


def _checked_settings() -> Settings:
    """The settings, checked as at start-up: exit 2 naming every problem when production
    would be weak or not real (lims/config.py, check_production_ready). `lims serve`, `lims
    init` and `lims seed` refuse alike, before they touch the database."""
    from lims.config import UnsafeSettings, startup_settings

    try:
        return startup_settings()
    except UnsafeSettings as unsafe:
        typer.echo(str(unsafe), err=True)
        raise typer.Exit(code=2) from None


def default_workers(database_url: str) -> int:
    """One process per CPU on PostgreSQL (each with its own pool, prepared once: settings,
    engine, templates); one on SQLite, which lets one process write at a time."""
    return 1 if database_url.startswith("sqlite") else max(os.cpu_count() or 1, 1)


def _check_serving(database_url: str, environment: str, workers: int,
                   forwarded_allow_ips: str) -> None:
    """UnsafeSettings for a way of serving that would lose data or trust any client."""
    from lims.config import UnsafeSettings

    if workers > 1 and database_url.startswith("sqlite"):
        # SQLite has one writer at a time: several processes would queue on its lock and
        # time out under load. PostgreSQL is the production database.
        raise UnsafeSettings(
            f"--workers {workers} needs PostgreSQL: SQLite ({_safe(database_url)}) lets one "
            "process write at a time. Serve SQLite with one worker, or set "
            "LIMS_DATABASE_URL to a PostgreSQL database (docs/deploy.md).")
    if environment != "development" and "*" in [
            address.strip() for address in forwarded_allow_ips.split(",")]:
        raise UnsafeSettings(
            "--forwarded-allow-ips '*' lets any client choose the address sign-in "
            "throttling counts: name the TLS proxy's addresses instead (docs/deploy.md)")


@app.command("secret-key")
def secret_key() -> None:
    """Print a new random key of 256 bits for LIMS_SECRET_KEY or LIMS_AUDIT_KEY (one each)."""
    from lims.secret_keys import new_secret_key

    typer.echo(new_secret_key())


@app.command("batch-record")
def batch_record(din: str, out: Annotated[Path, typer.Option(help="PDF file to write")]) -> None:
    """Render a product's electronic batch record (PDF)."""
    from lims.services.batch_record import batch_record_pdf

    with session_scope() as session:
        pdf = batch_record_pdf(session, din)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    typer.echo(f"wrote {out} ({len(pdf)} bytes)")


@app.command()
def diagram(out: Annotated[Path, typer.Option()] = Path("docs/state-machine.md")) -> None:
    """Write the Mermaid diagram of the product lifecycle."""
    from workflows.diagram import markdown

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(), encoding="utf-8")
    typer.echo(f"wrote {out}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain and reconcile it with the records (progress on
    standard error: a bar on a terminal, plain lines otherwise)."""
    from lims.progress import progress
    from lims.services.verification import verify_all

    with session_scope() as session:
        report = verify_all(session, progress)
    for line in report.lines:
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(code=1)


def _schedule_checkpoints() -> None:
    """The periodic signed audit checkpoint, expiry check and sign-in back-off clean-up run
    with the background jobs (each queued once)."""
    from lims.services.checkpoints import schedule_checkpoints
    from lims.services.expiry import schedule_expiry
    from lims.services.signin_cleanup import schedule_signin_cleanup

    with session_scope() as session:
        schedule_checkpoints(session)
        schedule_expiry(session)
        schedule_signin_cleanup(session)


def _safe(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


def main() -> None:  # pragma: no cover
    app()


_ = get_engine
