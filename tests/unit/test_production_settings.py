"""Production is the default, and it refuses to start on weak keys, naming how to make one."""

from __future__ import annotations

import base64
import os
import secrets
import string
from pathlib import Path

import pytest

from lims.config import (
    DEMO_FIN,
    DEVELOPMENT_AUDIT_KEY,
    Settings,
    UnsafeSettings,
    get_settings,
    startup_settings,
)
from lims.secret_keys import HOW_TO_MAKE_ONE, new_secret_key, secret_key_problem
from tests.production import LAB_SETTINGS

HOW = ["lims secret-key", "secrets.token_urlsafe(32)"]


@pytest.fixture
def signing_key(tmp_path: Path) -> Path:
    path = tmp_path / "signing.pem"
    path.write_text("the audit signing key (its presence is what start-up checks)")
    return path


def production(signing_key: Path, **changes: str) -> Settings:
    values = {"environment": "production", "secret_key": new_secret_key(),
              "audit_key": new_secret_key(), "password_hashing": "standard",
              "audit_signing_key_file": str(signing_key),
              **LAB_SETTINGS, **changes}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_without_lims_environment_the_settings_are_production(monkeypatch):
    monkeypatch.delenv("LIMS_ENVIRONMENT", raising=False)

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.environment == "production"
    with pytest.raises(UnsafeSettings, match="LIMS_SECRET_KEY is not set"):
        settings.check_production_ready()


def test_a_forgotten_environment_with_default_keys_does_not_start(monkeypatch):
    monkeypatch.delenv("LIMS_ENVIRONMENT", raising=False)
    get_settings.cache_clear()

    with pytest.raises(UnsafeSettings) as refused:
        startup_settings()

    assert "LIMS_SECRET_KEY" in str(refused.value) and "LIMS_AUDIT_KEY" in str(refused.value)


@pytest.mark.parametrize("name", ["prod", "dev", "test", "Production"])
def test_an_unknown_environment_name_is_refused_at_start_up(monkeypatch, name):
    monkeypatch.setenv("LIMS_ENVIRONMENT", name)
    get_settings.cache_clear()

    with pytest.raises(UnsafeSettings, match="LIMS_ENVIRONMENT: Input should be 'development' "
                                             "or 'production'"):
        startup_settings()


def test_a_strong_production_configuration_starts(signing_key):
    production(signing_key).check_production_ready()


@pytest.mark.parametrize("make", [
    pytest.param(new_secret_key, id="lims secret-key"),
    pytest.param(lambda: secrets.token_urlsafe(48), id="a longer URL-safe key"),
    pytest.param(lambda: secrets.token_hex(32), id="openssl rand -hex 32"),
    pytest.param(lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(), id="padded"),
])
def test_generated_keys_are_accepted(make):
    for _ in range(2000):
        key = make()
        assert secret_key_problem("LIMS_SECRET_KEY", key) is None, key


WEAK = {
    "empty": ("", "is not set"),
    "a vault-looking phrase": ("a-real-secret-from-the-vault-0123456789abcdefXYZ",
                               "is a placeholder"),
    "a README-style placeholder": ("replace-with-the-output-of-lims-secret-key-0000",
                                   "is a placeholder"),
    "one character": ("a" * 64, "is not random enough"),
    "a repeated block": ("Xy3_" * 16, "is not random enough"),
    "a run of the alphabet": (string.ascii_uppercase[6:] + string.ascii_lowercase[6:]
                              + "56789", "is not random enough"),
    "one short of 256 bits": (secrets.token_urlsafe(32)[:42], "is too short"),
    "a 128-bit key": (secrets.token_urlsafe(16), "is too short"),
    "160 bits of hex": (secrets.token_hex(20), "is too short"),
    "48 hex digits": (secrets.token_hex(24), "is not random enough"),
    "lower-case letters only": ("".join(secrets.choice(string.ascii_lowercase)
                                        for _ in range(50)), "is not random enough"),
    "digits only": ("".join(secrets.choice(string.digits) for _ in range(70)),
                    "is not random enough"),
    "with spaces": ("correct horse battery staple " * 2, "may hold only URL-safe base64"),
    "with punctuation": (secrets.token_urlsafe(32) + "!", "may hold only URL-safe base64"),
}


@pytest.mark.parametrize(("key", "why"), WEAK.values(), ids=WEAK.keys())
def test_a_weak_session_key_is_refused_with_how_to_make_one(signing_key, key, why):
    with pytest.raises(UnsafeSettings) as refused:
        production(signing_key, secret_key=key).check_production_ready()

    message = str(refused.value)
    assert f"LIMS_SECRET_KEY {why}" in message
    assert all(words in message for words in HOW)
    assert "LIMS_AUDIT_KEY" not in message  # only what is wrong is named


@pytest.mark.parametrize(("key", "why"), WEAK.values(), ids=WEAK.keys())
def test_a_weak_audit_key_is_refused_with_how_to_make_one(signing_key, key, why):
    with pytest.raises(UnsafeSettings) as refused:
        production(signing_key, audit_key=key).check_production_ready()

    assert f"LIMS_AUDIT_KEY {why}" in str(refused.value)
    assert HOW_TO_MAKE_ONE in str(refused.value)


def test_the_development_audit_key_and_a_copy_of_the_session_key_are_refused(signing_key):
    with pytest.raises(UnsafeSettings, match="LIMS_AUDIT_KEY must be set outside development"):
        production(signing_key, audit_key=DEVELOPMENT_AUDIT_KEY).check_production_ready()
    key = new_secret_key()
    with pytest.raises(UnsafeSettings, match="LIMS_AUDIT_KEY must differ from LIMS_SECRET_KEY"):
        production(signing_key, secret_key=key, audit_key=key).check_production_ready()


def test_every_problem_is_named_at_once(tmp_path):
    with pytest.raises(UnsafeSettings) as refused:
        Settings(_env_file=None, environment="production",  # type: ignore[call-arg]
                 password_hashing="fast-for-tests",
                 audit_signing_key_file=str(tmp_path / "none.pem")).check_production_ready()

    lines = str(refused.value).splitlines()
    assert lines[0].startswith("the LIMS refuses to start in production")
    assert [line.split()[0] for line in lines[1:]] == [
        "LIMS_SECRET_KEY", "LIMS_AUDIT_KEY", "LIMS_PASSWORD_HASHING", "no",
        "LIMS_DATABASE_URL", "LIMS_FACILITY_FIN", "LIMS_FACILITY_NAME", "LIMS_FACILITY_ADDRESS"]


@pytest.mark.parametrize(("field", "variable"), [("facility_name", "LIMS_FACILITY_NAME"),
                                                 ("facility_address", "LIMS_FACILITY_ADDRESS")])
@pytest.mark.parametrize("value", ["", "  ", None], ids=["empty", "blank", "the demo's"])
def test_the_demo_facility_name_or_address_is_refused_in_production(signing_key, field,
                                                                    variable, value):
    demo = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
    given = getattr(demo, field) if value is None else value

    with pytest.raises(UnsafeSettings) as refused:
        production(signing_key, **{field: given}).check_production_ready()

    assert [line.split()[0] for line in str(refused.value).splitlines()[1:]] == [variable]
    assert "printed on every label" in str(refused.value)


def test_development_starts_on_its_marked_defaults(tmp_path):
    settings = Settings(_env_file=None, environment="development",  # type: ignore[call-arg]
                        audit_signing_key_file=str(tmp_path / "none.pem"))

    settings.check_production_ready()
    assert not settings.secure_cookies
    assert (settings.database_url, settings.facility_fin) == ("sqlite:///lims.db", DEMO_FIN)


def test_cookies_are_secure_in_production_whatever_the_scheme(signing_key):
    assert production(signing_key).secure_cookies


# --- what is not real: a SQLite database, a placeholder facility number -------------------

POSTGRESQL_FORM = "postgresql+psycopg://lims_app:PASSWORD@dbhost/lims"


@pytest.mark.parametrize("url", ["sqlite:///lims.db", "sqlite:////srv/lims/lims.db",
                                 "sqlite+pysqlite:///lims.db", "SQLite:///lims.db"])
def test_a_sqlite_database_is_refused_in_production_naming_the_postgresql_form(signing_key,
                                                                               url):
    with pytest.raises(UnsafeSettings) as refused:
        production(signing_key, database_url=url).check_production_ready()

    assert str(refused.value).splitlines()[1:] == [
        f"LIMS_DATABASE_URL is a SQLite database ({url}): production runs on PostgreSQL; "
        f"set LIMS_DATABASE_URL={POSTGRESQL_FORM} (docs/deploy.md)"]


def test_the_default_database_and_a_sqlite_migration_url_are_refused(signing_key,
                                                                     monkeypatch):
    monkeypatch.delenv("LIMS_DATABASE_URL", raising=False)
    values = production(signing_key).model_dump(exclude={"database_url"})
    settings = Settings(_env_file=None, **{**values,  # type: ignore[call-arg]
                                           "migration_database_url": "sqlite:///owner.db"})

    with pytest.raises(UnsafeSettings) as refused:
        settings.check_production_ready()

    assert [line.split(" is ")[0] for line in str(refused.value).splitlines()[1:]] == [
        "LIMS_DATABASE_URL", "LIMS_MIGRATION_DATABASE_URL"]
    assert f"LIMS_MIGRATION_DATABASE_URL={POSTGRESQL_FORM}" in str(refused.value)


FINS = {
    "not set": ("", "LIMS_FACILITY_FIN is not set"),
    "blank": ("   ", "LIMS_FACILITY_FIN is not set"),
    "the demo's": (DEMO_FIN, "LIMS_FACILITY_FIN X9999 is a fictitious placeholder"),
    "the demo's in lower case": ("x9999", "LIMS_FACILITY_FIN x9999 is a fictitious "
                                          "placeholder"),
    "the standard's example": ("A9999", "LIMS_FACILITY_FIN A9999 is a fictitious "
                                        "placeholder"),
    "too short": ("K734", "LIMS_FACILITY_FIN is not a facility identification number (FIN "
                          "'K734' has 4 characters; expected 5)"),
    "a letter O": ("O1234", "LIMS_FACILITY_FIN is not a facility identification number (FIN "
                            "'O1234' has 'O' at character 1"),
}


@pytest.mark.parametrize(("fin", "why"), FINS.values(), ids=FINS.keys())
def test_a_missing_or_placeholder_facility_number_is_refused_saying_what_to_set(signing_key,
                                                                                fin, why):
    with pytest.raises(UnsafeSettings) as refused:
        production(signing_key, facility_fin=fin).check_production_ready()

    [problem] = str(refused.value).splitlines()[1:]
    assert problem.startswith(why)
    assert problem.endswith("set it to the facility identification number (FIN) that ICCBBA "
                            "assigned to the lab (5 characters, as in the lab's ICCBBA "
                            "registration)")


def test_without_lims_facility_fin_production_refuses_the_demo_one(signing_key, monkeypatch):
    monkeypatch.delenv("LIMS_FACILITY_FIN", raising=False)
    values = production(signing_key).model_dump(exclude={"facility_fin"})
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert settings.facility_fin == DEMO_FIN
    with pytest.raises(UnsafeSettings, match="LIMS_FACILITY_FIN X9999 is a fictitious"):
        settings.check_production_ready()
