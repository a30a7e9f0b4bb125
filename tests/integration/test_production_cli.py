"""The command line of a production lab: reference data only, no demo accounts, the first
administrator made with a typed password, and a server that will not start on weak keys."""

from __future__ import annotations

import os
import pty
import select as fd_select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, func
from sqlmodel import select as query
from typer.testing import CliRunner

from lims.audit_checkpoints import generate_signing_key
from lims.cli import app
from lims.config import get_settings
from lims.models import AuditEvent, Protocol, ReagentLot, User
from lims.secret_keys import new_secret_key, secret_key_problem
from lims.services.users import authenticate
from lims.services.verification import verify_all
from tests.production import PRODUCTION_ENV

LIMS = [sys.executable, "-c", "from lims.cli import app; app()"]
PASSWORD = "walnut harbour lantern 1987"


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's sessions use the test database."""
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A strong production configuration, as a lab's would be."""
    signing = tmp_path / "signing.pem"
    generate_signing_key(signing, signing.with_name("signing.pem.pub"))
    env = {"LIMS_ENVIRONMENT": "production", "LIMS_SECRET_KEY": new_secret_key(),
           "LIMS_AUDIT_KEY": new_secret_key(), "LIMS_PASSWORD_HASHING": "standard",
           "LIMS_AUDIT_SIGNING_KEY_FILE": str(signing), **PRODUCTION_ENV}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return env


def lims(*args: str, stdin: str = "") -> tuple[int, str]:
    done = CliRunner().invoke(app, list(args), input=stdin)
    if done.exception and not isinstance(done.exception, SystemExit):
        raise done.exception
    return done.exit_code, done.output


def tally(session: Session, table: type) -> int:
    """Rows of `table`, read in a transaction of its own (the CLI writes between reads)."""
    session.commit()
    count = int(session.exec(query(func.count()).select_from(table)).one())
    session.commit()
    return count


# --- seed and demo --------------------------------------------------------------------------

def test_in_production_lims_seed_creates_the_trial_and_no_account(cli_db, production, session):
    code, output = lims("seed")

    assert code == 0, output
    assert tally(session, Protocol) == 1
    assert (tally(session, User), tally(session, ReagentLot)) == (0, 0)
    assert lims("seed") == (0, "seed complete: 0 record(s) created\n")
    assert verify_all(session).ok


@pytest.mark.parametrize("args", [["seed", "--demo"], ["demo", "--out", "demo-output"]],
                         ids=["lims seed --demo", "lims demo"])
def test_in_production_the_demo_is_refused_and_nothing_is_written(cli_db, production,
                                                                  session, args):
    code, output = lims(*args)

    assert code == 2
    assert "refused in production" in output and "lims users create-admin" in output
    assert tally(session, AuditEvent) == tally(session, User) == 0


def test_in_development_seed_demo_adds_the_seven_demo_accounts_once(cli_db, session):
    assert lims("seed")[0] == 0

    code, output = lims("seed", "--demo")

    assert code == 0, output
    assert "user admin (admin)" in output
    assert tally(session, User) == 7
    assert lims("seed", "--demo") == (0, "seed complete: 0 record(s) created\n")


# --- the first administrator ----------------------------------------------------------------

def test_the_first_administrator_is_made_with_a_password_read_from_stdin(cli_db, production,
                                                                         session):
    lims("seed")

    code, output = lims("users", "create-admin", "labadmin", "--full-name", "Parisa Admin",
                        stdin=PASSWORD + "\n")

    assert code == 0, output
    assert output == "administrator labadmin (Parisa Admin) created\n"
    admin = authenticate(session, username="labadmin", password=PASSWORD)
    assert (admin.role, admin.full_name, admin.active) == ("admin", "Parisa Admin", True)
    event = session.exec(query(AuditEvent).where(AuditEvent.entity_id == "labadmin")).one()
    assert (event.action, event.new_value, event.username) == ("user_created", "admin", "system")
    assert verify_all(session).ok


def test_a_second_administrator_is_refused_unless_forced(cli_db, production, session):
    lims("users", "create-admin", "labadmin", "--full-name", "Parisa Admin",
         stdin=PASSWORD + "\n")

    refused = lims("users", "create-admin", "other", "--full-name", "Omid Admin",
                   stdin=PASSWORD + "\n")
    forced = lims("users", "create-admin", "other", "--full-name", "Omid Admin", "--force",
                  stdin=PASSWORD + "\n")

    assert refused[0] == 1 and "an active administrator already exists (labadmin)" in refused[1]
    assert forced[0] == 0, forced[1]
    names = session.exec(query(User.username).order_by(col(User.username))).all()
    assert list(names) == ["labadmin", "other"]


@pytest.mark.parametrize(("stdin", "says"), [
    ("", "no password given"),
    ("short\n", "at least 12 characters"),
    ("password1234\n", "breached passwords"),
], ids=["no password", "too short", "a common password"])
def test_a_missing_or_weak_administrator_password_creates_nothing(cli_db, production, session,
                                                                 stdin, says):
    code, output = lims("users", "create-admin", "labadmin", "--full-name", "Parisa Admin",
                        stdin=stdin)

    assert code == 1 and says in output
    assert tally(session, User) == tally(session, AuditEvent) == 0


def _database_url(engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{url}?options=-csearch_path%3D{schema}"


def _at_a_terminal(args: list[str], env: dict[str, str], answers: list[str]) -> str:
    """Run `lims` at a pseudo-terminal, typing each answer after the next prompt."""
    pid, terminal = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the command
        os.execve(sys.executable, [*LIMS, *args], env)
    seen, since_answer, pending = b"", b"", list(answers)
    while fd_select.select([terminal], [], [], 60)[0]:
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        seen, since_answer = seen + chunk, since_answer + chunk
        if pending and since_answer.rstrip().endswith(b":"):
            os.write(terminal, pending.pop(0).encode() + b"\n")
            since_answer = b""
    else:
        os.kill(pid, signal.SIGKILL)  # silent for a minute: never hang the suite
    os.waitpid(pid, 0)
    os.close(terminal)
    return seen.decode(errors="replace")


@pytest.mark.parametrize(("second", "created"), [(PASSWORD, True), ("another phrase entirely",
                                                                     False)],
                         ids=["typed twice alike", "typed differently"])
def test_at_a_terminal_the_password_is_asked_twice_without_echo(engine, production, session,
                                                                second, created):
    if engine.dialect.name != "postgresql":
        pytest.skip("production runs on PostgreSQL only: on SQLite the command refuses to "
                    "start (test_every_command_refuses_production_on_sqlite)")
    env = {**os.environ, "LIMS_DATABASE_URL": _database_url(engine)}
    session.commit()

    shown = _at_a_terminal(["users", "create-admin", "labadmin", "--full-name",
                            "Parisa Admin"], env, [PASSWORD, second])

    assert "new password:" in shown and "the same password again:" in shown
    assert PASSWORD not in shown.replace("\r", "")  # never echoed
    assert tally(session, User) == (1 if created else 0)
    assert ("administrator labadmin (Parisa Admin) created" in shown) is created
    assert ("the two passwords differ" in shown) is not created


# --- start-up and keys ----------------------------------------------------------------------

def test_lims_secret_key_prints_a_new_strong_key_each_time():
    first, second = lims("secret-key"), lims("secret-key")

    assert first[0] == second[0] == 0
    assert first[1] != second[1]
    assert secret_key_problem("LIMS_SECRET_KEY", first[1].strip()) is None


@pytest.mark.parametrize("environment", [None, "production"],
                         ids=["LIMS_ENVIRONMENT forgotten", "production"])
def test_lims_serve_refuses_weak_keys_at_start_up_before_it_listens(tmp_path, environment):
    env = {name: value for name, value in os.environ.items()
           if name not in ("LIMS_ENVIRONMENT", "LIMS_SECRET_KEY", "LIMS_AUDIT_KEY")}
    env.update({"LIMS_DATABASE_URL": f"sqlite:///{tmp_path / 'lims.db'}",
                "LIMS_SECRET_KEY": "a" * 64})
    if environment:
        env["LIMS_ENVIRONMENT"] = environment

    done = subprocess.run([*LIMS, "serve", "--port", "1"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert done.stderr.startswith("the LIMS refuses to start in production")
    assert "LIMS_SECRET_KEY is not random enough" in done.stderr
    assert "lims secret-key" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "lims.db").exists()  # refused before touching the database


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["init"], ["seed"]],
                         ids=["lims serve", "lims init", "lims seed"])
def test_serve_init_and_seed_refuse_sqlite_and_the_demo_facility_number_alike(
        tmp_path, production, command):
    # given production with strong keys but the defaults' SQLite file and fictitious FIN
    database = tmp_path / "lims.db"
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{database}"}
    env.pop("LIMS_FACILITY_FIN")

    done = subprocess.run([*LIMS, *command], env=env, capture_output=True, text=True,
                          timeout=60, check=False)

    # then the command refuses, exit 2, saying what to set, before touching the database
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "the LIMS refuses to start in production (LIMS_ENVIRONMENT=production):",
        f"LIMS_DATABASE_URL is a SQLite database (sqlite:///{database}): production runs on "
        "PostgreSQL; set LIMS_DATABASE_URL=postgresql+psycopg://lims_app:PASSWORD@dbhost/lims "
        "(docs/deploy.md)",
        "LIMS_FACILITY_FIN X9999 is a fictitious placeholder, not the lab's: set it to the "
        "facility identification number (FIN) that ICCBBA assigned to the lab (5 characters, "
        "as in the lab's ICCBBA registration)"]
    assert done.stdout == ""
    assert not database.exists()


@pytest.mark.parametrize("command", [["users", "create-admin", "labadmin"], ["products"],
                                     ["jobs", "run-once"], ["lot", "list"],
                                     ["label", "list", "X999926000011"], ["audit", "verify"],
                                     ["printers", "list"], ["db", "check-app-role", "lims_app"]],
                         ids=lambda command: " ".join(command[:2]))
def test_every_command_that_touches_the_records_refuses_weak_production_settings(
        tmp_path, production, command):
    # given production on the default SQLite file
    database = tmp_path / "lims.db"
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{database}"}

    done = subprocess.run([*LIMS, *command], env=env, capture_output=True, text=True,
                          timeout=60, check=False, input="")

    # then it refuses as `lims serve` does, before touching the database
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("the LIMS refuses to start in production")
    assert "LIMS_DATABASE_URL is a SQLite database" in done.stderr
    assert not database.exists()


@pytest.mark.parametrize("command", [["secret-key"], ["label", "parse", "=X99992600001100"],
                                     ["diagram", "--out", "{tmp}/diagram.md"]],
                         ids=lambda command: " ".join(command[:2]))
def test_commands_that_need_no_lab_work_before_it_is_configured(tmp_path, command):
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIMS_")}
    env["LIMS_ENVIRONMENT"] = "production"

    done = subprocess.run([*LIMS, *(part.format(tmp=tmp_path) for part in command)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)

    assert "refuses to start" not in done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
