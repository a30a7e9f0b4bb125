"""`lims audit keygen | checkpoint | restore-checkpoint`: the signed checkpoints of the
audit trail kept outside the database (README, "Audit keys and checkpoints")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lims.audit_checkpoints import Checkpoint, CheckpointError


def audit_keygen(out: Annotated[Path | None, typer.Option(
        help="private key file (default: LIMS_AUDIT_SIGNING_KEY_FILE)")] = None) -> None:
    """Make the Ed25519 key pair that signs checkpoints (private key, and .pub beside it)."""
    from lims.audit_checkpoints import generate_signing_key, public_key_path
    from lims.config import get_settings

    settings = get_settings()
    private = out or Path(settings.audit_signing_key_file)
    public = Path(f"{private}.pub") if out else public_key_path(settings)
    try:
        generate_signing_key(private, public)
    except CheckpointError as refused:
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"wrote the private key {private} (keep it from the database's readers) "
               f"and the public key {public} (give it to inspectors)")


def audit_checkpoint(reason: Annotated[str, typer.Option(help="why now")] = "by hand") -> None:
    """Sign and append a checkpoint of the audit trail as it stands now."""
    from lims.db import session_scope
    from lims.services.checkpoints import write_checkpoint

    with session_scope() as session:
        _done(lambda: write_checkpoint(session, reason=reason))


def audit_restore_checkpoint(
        sequence: Annotated[int, typer.Option(help="the last event of the restored database")],
        reason: Annotated[str, typer.Option(help="which backup was restored, and why")],
) -> None:
    """After a restore from backup: sign "restored at sequence N", so the events lost with
    the restore are not reported as deleted (the restored trail must verify)."""
    from lims.db import session_scope
    from lims.services.checkpoints import restore_checkpoint

    with session_scope() as session:
        _done(lambda: restore_checkpoint(session, sequence=sequence, reason=reason))


def _done(write: object) -> None:
    assert callable(write)
    try:
        checkpoint: Checkpoint = write()
    except CheckpointError as refused:
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"wrote {checkpoint.describe()}: Merkle tree head {checkpoint.tree_head}")
