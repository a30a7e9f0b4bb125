"""One Settings object, read from LIMS_* environment variables through a cached getter."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lims.secret_keys import secret_key_problem
from workflows.isbt128_core import make_din

# Keys the audit chain in development and tests only: anyone can read it here, so outside
# development the application refuses to start with it (set LIMS_AUDIT_KEY).
DEVELOPMENT_AUDIT_KEY = "development-only-audit-key-change-me"
# Signs sessions and tokens in development only (refused in production as a placeholder).
DEVELOPMENT_SECRET_KEY = "development-only-secret-change-me"
# The demo's facility identification number, fictitious (never ICCBBA-registered), and the
# example FIN of the ISBT 128 standard (ST-001 figure 2): placeholders, refused in production.
DEMO_FIN = "X9999"
PLACEHOLDER_FINS = frozenset({DEMO_FIN, "A9999"})
# What production's database URL looks like (README "Database roles", docs/deploy.md).
POSTGRESQL_URL_FORM = "postgresql+psycopg://lims_app:PASSWORD@dbhost/lims"


class UnsafeSettings(RuntimeError):
    """The configuration is not fit for a real lab: every problem found, one per line."""


# The demo's name and address: every label and batch record prints them, so a real lab's
# records must never carry them.
DEMO_FACILITY_NAME = "Cell Processing Laboratory (demo, fictitious)"
DEMO_FACILITY_ADDRESS = "1 Example Street, Tehran"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIMS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///lims.db"
    # PostgreSQL least privilege (README "Database roles"): migrations connect as the owner
    # of the tables (empty: database_url), the application as LIMS_APP_ROLE, which
    # `lims init` then grants the application's rights (lims/db_roles.py).
    migration_database_url: str = ""
    # PostgreSQL connections per server process (each `lims serve` worker has its own
    # pool): `db_pool_size` kept open, up to `db_max_overflow` more under a burst; a request
    # waits at most `db_pool_timeout_seconds` for one. A worker is one Python process on
    # about one core: more transactions at once in it only hold row locks (the audit
    # head's) longer while they wait their turn to run. Every process of every host counts
    # against the server's max_connections (docs/deploy.md §4, "Connections").
    db_pool_size: int = 4
    db_max_overflow: int = 2
    db_pool_timeout_seconds: float = 30.0
    app_role: str = ""
    # Fictitious facility identification number: never a real ICCBBA-registered FIN. In
    # production the lab's own (ICCBBA-assigned) is required: it begins every DIN.
    facility_fin: str = DEMO_FIN
    facility_name: str = DEMO_FACILITY_NAME
    facility_address: str = DEMO_FACILITY_ADDRESS
    time_zone: str = "Asia/Tehran"
    # The largest request body read (bytes), declared or streamed: larger ones are refused
    # with 413 before anything reads them. No form or API call of the lab comes near it.
    max_request_bytes: int = 1_048_576
    # Failed sign-ins are throttled, never locked (workflows/throttle.py): a user name may
    # fail this often from one address, an address 4×, a user name from anywhere 10×, before
    # each further failure makes it wait 2, 4, 8 … seconds, at most signin_max_wait_seconds.
    max_failed_logins: int = 5
    signin_max_wait_seconds: int = 900
    # A failure older than this no longer counts (its key starts again from nothing); every
    # `signin_cleanup_interval_seconds` the background jobs delete the rows of keys whose
    # last failure is older than this and than the longest wait, so the table does not grow
    # with every mistyped or made-up name (lims/services/signin_cleanup.py).
    signin_forget_after_seconds: int = 3600
    signin_cleanup_interval_seconds: float = 3600.0
    protocol_code: str = "NCT00713934"
    # Production unless said otherwise: a forgotten LIMS_ENVIRONMENT must never run a real
    # lab on development settings (`make demo`, the tests and the benches say development).
    environment: Literal["development", "production"] = "production"
    # Signs session cookies and API tokens. The default is for development only: in
    # production the application refuses to start without a strong key of its own.
    secret_key: str = DEVELOPMENT_SECRET_KEY
    session_minutes: int = 15  # idle UI session lifetime
    session_hours: int = 12  # absolute UI session lifetime, however active
    token_minutes: int = 60  # API bearer token lifetime
    printer_host: str = ""  # Zebra printer for ZPL over raw TCP (port 9100); empty: none
    printer_port: int = 9100
    # Part 11: a label must be scanned back after printing before the container is used.
    require_label_scan_back: bool = True
    # "standard": argon2id at the library's recommended cost. "fast-for-tests": its lowest
    # cost, for throw-away test databases only (refused outside development).
    password_hashing: str = "standard"
    # At start-up each serving process moves what it has loaded (modules, routes,
    # templates, metadata) out of the garbage collector's reach (gc.freeze): a full
    # collection then no longer walks it, which paused a request for 150–200 ms at p99 of
    # the QA queue. Off in the tests, whose processes build thousands of applications.
    gc_freeze_at_start: bool = True
    # Threads each serving process runs requests on (FastAPI's default is 40). Fewer queue
    # writers less on the audit head's lock: 32 clients on PostgreSQL, 2 workers, runs side
    # by side (bench/throughput.py's load): 8 threads 263–392 transitions/s, p99 174–242 ms;
    # 40 threads 233–306/s, p99 331–447 ms. No request waits for a second thread while it
    # holds a lock or a pooled connection (role checks read on their own connection, an
    # answer is checked on the route's thread, sessions end on threads of their own:
    # tests/api/test_request_threads.py), so few threads cannot stall a worker; a long
    # request (a full audit verification) holds one of them while it runs.
    threads_per_worker: int = Field(default=8, ge=1, le=200)
    # Background jobs (notification delivery, later checkpoints and expiry): `lims serve`
    # runs them every `jobs_interval_seconds` unless disabled (then `lims jobs run-once`
    # from cron does). A failed job is retried after base × 2^(attempt−1) seconds, at most
    # the maximum; a job locked longer than `jobs_stale_after_seconds` by a worker that
    # stopped is taken up again.
    jobs_enabled: bool = True
    jobs_interval_seconds: float = 30.0
    jobs_retry_base_seconds: float = 60.0
    jobs_retry_max_seconds: float = 3600.0
    jobs_stale_after_seconds: float = 900.0
    # Notifications leave by SMTP; empty host: none configured, so they stay undelivered
    # (visible as such) until one is. Port 587 with STARTTLS is the usual submission port.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "lims@lab.invalid"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 20.0
    notification_max_attempts: int = 8  # 1+2+4+…+64 min of retries at the default base
    # The audit chain's HMAC key (never stored in the database; README "Audit keys and
    # checkpoints"); after a rotation the former keys, comma-separated, verify old events.
    audit_key: str = DEVELOPMENT_AUDIT_KEY
    audit_old_keys: str = ""
    # Signed checkpoints of the audit trail, appended outside the database. The Ed25519
    # private key comes from `lims audit keygen` (in development it is made on first use);
    # the public key (default: the private key's path + ".pub") is all a checker needs.
    audit_signing_key_file: str = "audit-signing-key.pem"
    audit_public_key_file: str = ""
    audit_checkpoint_path: str = "audit-checkpoints.jsonl"
    audit_checkpoint_interval_seconds: float = 3600.0
    # How often the system marks expired the products whose expiry has passed.
    expiry_check_interval_seconds: float = 300.0

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry `Secure` in production whatever scheme the request came by: behind
        a TLS proxy that speaks plain http to the application, the browser is on https."""
        return self.environment != "development"

    def check_production_ready(self) -> None:
        """Refuse (UnsafeSettings, naming every problem) a production configuration that is
        weak: run at start-up, so a lab never runs on it until the first request."""
        if self.environment == "development":
            return
        problems = [problem for problem in (
            secret_key_problem("LIMS_SECRET_KEY", "" if self.secret_key == DEVELOPMENT_SECRET_KEY
                               else self.secret_key),  # left at its default: not set
            _audit_key_problem(self),
            None if self.password_hashing == "standard"
            else "LIMS_PASSWORD_HASHING must be 'standard' outside development",
            None if Path(self.audit_signing_key_file).is_file()
            else f"no audit signing key at {self.audit_signing_key_file}: run `lims audit "
                 "keygen` (LIMS_AUDIT_SIGNING_KEY_FILE)",
            *_database_problems(self),
            _facility_problem(self.facility_fin),
            *_facility_words_problems(self)) if problem]
        if problems:
            raise UnsafeSettings("\n".join(["the LIMS refuses to start in production "
                                            "(LIMS_ENVIRONMENT=production):", *problems]))


def _audit_key_problem(settings: Settings) -> str | None:
    if settings.audit_key == DEVELOPMENT_AUDIT_KEY:
        return ("LIMS_AUDIT_KEY must be set outside development (kept outside the database; "
                "make one with `lims secret-key`)")
    problem = secret_key_problem("LIMS_AUDIT_KEY", settings.audit_key)
    if problem is None and settings.audit_key == settings.secret_key:
        # One leaked key must not give both the sessions and the audit chain away.
        problem = "LIMS_AUDIT_KEY must differ from LIMS_SECRET_KEY: make another one"
    return problem


def _database_problems(settings: Settings) -> list[str]:
    """Production runs on PostgreSQL: a SQLite URL (the default among them) is refused."""
    urls = (("LIMS_DATABASE_URL", settings.database_url),
            ("LIMS_MIGRATION_DATABASE_URL", settings.migration_database_url))
    return [f"{name} is a SQLite database ({url}): production runs on PostgreSQL; set "
            f"{name}={POSTGRESQL_URL_FORM} (docs/deploy.md)"
            for name, url in urls if url.strip().lower().startswith("sqlite")]


def _facility_words_problems(settings: Settings) -> list[str]:
    """The facility name and address printed on labels: refused when left at the demo's."""
    checks = (("LIMS_FACILITY_NAME", settings.facility_name, DEMO_FACILITY_NAME,
               "the licensed facility's name as the labels must show it"),
              ("LIMS_FACILITY_ADDRESS", settings.facility_address, DEMO_FACILITY_ADDRESS,
               "the facility's address as the labels must show it"))
    return [f"{name} is the demo's ({value!r}), printed on every label: set it to {wanted}"
            for name, value, demo, wanted in checks
            if not value.strip() or value.strip() == demo]


def _facility_problem(fin: str) -> str | None:
    """The lab's own facility identification number begins every DIN: refused when it is
    missing, a placeholder or not in the FIN's form."""
    wanted = ("set it to the facility identification number (FIN) that ICCBBA assigned to "
              "the lab (5 characters, as in the lab's ICCBBA registration)")
    if not fin.strip():
        return f"LIMS_FACILITY_FIN is not set: {wanted}"
    if fin.strip().upper() in PLACEHOLDER_FINS:
        return f"LIMS_FACILITY_FIN {fin} is a fictitious placeholder, not the lab's: {wanted}"
    try:
        make_din(fin, 0, 0)
    except ValueError as malformed:
        return f"LIMS_FACILITY_FIN is not a facility identification number ({malformed}): " \
               f"{wanted}"
    return None


def startup_settings() -> Settings:
    """The settings a server starts with, checked: UnsafeSettings (never a traceback of the
    settings library) if a value cannot be read or production would be weak."""
    try:
        settings = get_settings()
    except ValidationError as invalid:
        lines = [f"LIMS_{'_'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
                 for error in invalid.errors()]
        raise UnsafeSettings("\n".join(["the LIMS cannot read its settings:", *lines])) \
            from None
    settings.check_production_ready()
    return settings


@lru_cache
def get_settings() -> Settings:
    return Settings()
