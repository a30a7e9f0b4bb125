"""Password hashing: argon2id at the recommended cost unless a test database asks otherwise."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from lims.config import Settings, get_settings
from lims.secret_keys import new_secret_key
from lims.security import hash_password, password_matches
from tests.production import LAB_SETTINGS


@pytest.fixture
def profile(monkeypatch):
    def use(name: str) -> None:
        monkeypatch.setenv("LIMS_PASSWORD_HASHING", name)
        get_settings.cache_clear()
    yield use
    get_settings.cache_clear()


def test_the_standard_profile_hashes_with_argon2id_at_the_recommended_cost(profile):
    profile("standard")
    stored = hash_password("correct horse battery")
    parameters = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert parameters.memory_cost >= 65536 and parameters.time_cost >= 3
    assert password_matches(stored, "correct horse battery")
    assert not password_matches(stored, "correct horse battery!")


def test_hashes_of_the_test_profile_still_verify_and_are_cheap(profile):
    profile("fast-for-tests")
    stored = hash_password("correct horse battery")
    assert extract_parameters(stored).memory_cost == 1024
    profile("standard")
    assert password_matches(stored, "correct horse battery")


def test_an_unknown_profile_is_refused_with_a_clear_error(profile):
    profile("md5")
    with pytest.raises(ValueError, match="unknown LIMS_PASSWORD_HASHING 'md5'"):
        hash_password("correct horse battery")


def test_production_refuses_the_test_profile(tmp_path):
    settings = Settings(environment="production", secret_key=new_secret_key(),
                        password_hashing="fast-for-tests")
    with pytest.raises(RuntimeError, match="LIMS_PASSWORD_HASHING"):
        settings.check_production_ready()
    (tmp_path / "signing.pem").write_text("the audit signing key")
    Settings(environment="production", secret_key=new_secret_key(),
             password_hashing="standard", audit_key=new_secret_key(),
             audit_signing_key_file=str(tmp_path / "signing.pem"),
             **LAB_SETTINGS).check_production_ready()
