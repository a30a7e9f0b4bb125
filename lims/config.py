"""One Settings object, read from LIMS_* environment variables through a cached getter."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

# Keys the audit chain in development and tests only: anyone can read it here, so outside
# development the application refuses to start with it (set LIMS_AUDIT_KEY).
DEVELOPMENT_AUDIT_KEY = "development-only-audit-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIMS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///lims.db"
    # PostgreSQL least privilege (README "Database roles"): migrations connect as the owner
    # of the tables (empty: database_url), the application as LIMS_APP_ROLE, which
    # `lims init` then grants the application's rights (lims/db_roles.py).
    migration_database_url: str = ""
    app_role: str = ""
    # Fictitious facility identification number: never a real ICCBBA-registered FIN.
    facility_fin: str = "X9999"
    facility_name: str = "Cell Processing Laboratory (demo, fictitious)"
    facility_address: str = "1 Example Street, Tehran"
    time_zone: str = "Asia/Tehran"
    # The largest request body read (bytes), declared or streamed: larger ones are refused
    # with 413 before anything reads them. No form or API call of the lab comes near it.
    max_request_bytes: int = 1_048_576
    # Annex 11 / Part 11: repeated failed sign-ins lock the account.
    max_failed_logins: int = 5
    protocol_code: str = "NCT00713934"
    environment: str = "development"  # development, production
    # Signs session cookies and API tokens. The default is for development only:
    # outside development the application refuses to start with it.
    secret_key: str = "development-only-secret-change-me"
    session_minutes: int = 15  # idle UI session lifetime
    token_minutes: int = 60  # API bearer token lifetime
    printer_host: str = ""  # Zebra printer for ZPL over raw TCP (port 9100); empty: none
    printer_port: int = 9100
    # Part 11: a label must be scanned back after printing before the container is used.
    require_label_scan_back: bool = True
    # "standard": argon2id at the library's recommended cost. "fast-for-tests": its lowest
    # cost, for throw-away test databases only (refused outside development).
    password_hashing: str = "standard"
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

    def check_production_ready(self) -> None:
        if self.environment != "development" and self.secret_key.startswith("development"):
            raise RuntimeError("LIMS_SECRET_KEY must be set outside development")
        if self.environment != "development" and self.password_hashing != "standard":
            raise RuntimeError("LIMS_PASSWORD_HASHING must be 'standard' outside development")
        if self.environment != "development" and (self.audit_key == DEVELOPMENT_AUDIT_KEY
                                                  or len(self.audit_key) < 32):
            raise RuntimeError("LIMS_AUDIT_KEY must be set outside development "
                               "(at least 32 characters, kept outside the database)")
        if self.environment != "development" and not Path(self.audit_signing_key_file).is_file():
            raise RuntimeError(f"no audit signing key at {self.audit_signing_key_file}: "
                               "run `lims audit keygen` (LIMS_AUDIT_SIGNING_KEY_FILE)")


@lru_cache
def get_settings() -> Settings:
    return Settings()
