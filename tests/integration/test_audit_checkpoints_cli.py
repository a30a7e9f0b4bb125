"""The checkpoint commands as the lab runs them: `lims init`, `demo`, `jobs run-once`,
`audit checkpoint` from two processes at once, `audit verify`, `audit keygen` and
`audit restore-checkpoint` (SQLite file databases made by the real CLI)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader

from lims.audit_checkpoints import check_lines, public_key, read_lines
from lims.config import get_settings

LIMS = Path(sys.executable).parent / "lims"


def _command(args: list[str]) -> list[str]:
    if LIMS.exists():
        return [str(LIMS), *args]
    return [sys.executable, "-c", "from lims.cli import app; app()", *args]


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{db}"}


def _lims(args: list[str], db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(args), cwd=cwd, env=_env(db), capture_output=True,
                          text=True, timeout=600, check=False)


def _ok(args: list[str], db: Path, cwd: Path) -> str:
    done = _lims(args, db, cwd)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def test_checkpoints_through_the_command_line(tmp_path: Path):
    # given the demo, run by the real CLI (its releases and batch records write checkpoints)
    db = tmp_path / "cli.db"
    for args in (["init"], ["seed", "--demo"], ["demo", "--out", str(tmp_path / "out")]):
        _ok(args, db, tmp_path)
    path = Path(get_settings().audit_checkpoint_path)
    reasons = [json.loads(line)["reason"] for line in read_lines(path)]
    assert any(r.startswith("released ") for r in reasons)
    assert any(r.startswith("batch record ") for r in reasons)

    # then every page of a batch record names the checkpoint written before it was printed
    record = next((tmp_path / "out" / "batch-records").glob("*.pdf"))
    pages = [page.extract_text() for page in PdfReader(record).pages]
    assert all("Audit checkpoint" in text and "Merkle tree head" in text for text in pages)

    # when the job runner runs once, the checkpoint `lims init` scheduled is written (beside
    # the expiry check and the sign-in back-off clean-up `lims init` scheduled too)
    assert "3 done" in _ok(["jobs", "run-once"], db, tmp_path)
    assert json.loads(read_lines(path)[-1])["reason"] == "scheduled"

    # and two processes writing checkpoints at once leave a well-formed file
    writers = [subprocess.Popen(_command(["audit", "checkpoint", "--reason", f"writer {n}"]),
                                cwd=tmp_path, env=_env(db), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for n in (1, 2, 3)]
    assert all(w.wait(120) == 0 for w in writers), [w.communicate() for w in writers]
    good, problems = check_lines(read_lines(path), public_key())
    assert problems == [] and {c.reason for c in good[-3:]} == {"writer 1", "writer 2",
                                                                  "writer 3"}
    assert "audit chain intact" in _ok(["audit", "verify"], db, tmp_path)

    # when a DBA deletes the newest events and moves the head back
    latest = good[-1]
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute("DELETE FROM audit_event WHERE seq > ?", (latest.seq - 5,))
        conn.execute("UPDATE audit_head SET last_seq = ?, last_hash = (SELECT hash FROM "
                     "audit_event WHERE seq = ?)", (latest.seq - 5, latest.seq - 5))
    conn.close()

    # then verify exits non-zero and names the checkpoint and where the database ends
    broken = _lims(["audit", "verify"], db, tmp_path)
    assert broken.returncode != 0
    assert (f"checkpoint {latest.n} at sequence {latest.seq} signed {latest.at[:19]}Z but "
            f"the database ends at {latest.seq - 5}") in broken.stdout

    # and a restore checkpoint for a sequence the database does not end at is refused
    refused = _lims(["audit", "restore-checkpoint", "--sequence", str(latest.seq),
                     "--reason", "wrong backup"], db, tmp_path)
    assert refused.returncode != 0
    assert f"the database ends at event {latest.seq - 5}, not {latest.seq}" in refused.stderr


def test_keygen_writes_a_key_pair_and_never_overwrites_one(tmp_path: Path):
    db = tmp_path / "unused.db"
    out = tmp_path / "keys" / "signing.pem"

    written = _ok(["audit", "keygen", "--out", str(out)], db, tmp_path)

    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert Path(f"{out}.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert "public key" in written
    again = _lims(["audit", "keygen", "--out", str(out)], db, tmp_path)
    assert again.returncode != 0 and "never overwritten" in again.stderr
