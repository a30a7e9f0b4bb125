"""`lims audit prove`: Merkle proofs of the audit trail for an inspector, as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lims.db import session_scope
from workflows.errors import DomainError


def audit_prove(
    din: Annotated[str | None, typer.Argument(
        help="the product whose events to prove included in the latest checkpoint")] = None,
    from_checkpoint: Annotated[int | None, typer.Option(
        "--from-checkpoint", help="number (n) of the earlier checkpoint")] = None,
    to_checkpoint: Annotated[int | None, typer.Option(
        "--to-checkpoint", help="number (n) of the later checkpoint")] = None,
    out: Annotated[Path | None, typer.Option(help="write the JSON here, not to stdout")] = None,
) -> None:
    """Prove a product's audit events are in the latest signed checkpoint (DIN), or that
    a later checkpoint extends an earlier one (--from-checkpoint A --to-checkpoint B).
    Check the output with scripts/verify_audit_proof.py and the public key alone."""
    from lims.services.audit_proofs import prove_checkpoints, prove_product

    pair = (from_checkpoint, to_checkpoint)
    if not ((din is not None and pair == (None, None)) or (din is None and None not in pair)):
        typer.echo("give either a DIN, or both --from-checkpoint and --to-checkpoint",
                   err=True)
        raise typer.Exit(code=2)
    try:
        with session_scope() as session:
            if din is not None:
                proof = prove_product(session, din)
            else:
                proof = prove_checkpoints(session, from_checkpoint or 0, to_checkpoint or 0)
    except DomainError as error:
        typer.echo(f"refused: {error.detail}", err=True)
        raise typer.Exit(code=1) from error
    text = json.dumps(proof, indent=1, ensure_ascii=False)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)
