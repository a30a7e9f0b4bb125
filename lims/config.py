"""One Settings object, read from LIMS_* environment variables through a cached getter."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIMS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///lims.db"
    # Fictitious facility identification number: never a real ICCBBA-registered FIN.
    facility_fin: str = "X9999"
    facility_name: str = "Cell Processing Laboratory (demo, fictitious)"
    facility_address: str = "1 Example Street, Tehran"
    time_zone: str = "Asia/Tehran"
    # Annex 11 / Part 11: repeated failed sign-ins lock the account.
    max_failed_logins: int = 5
    protocol_code: str = "NCT00713934"


@lru_cache
def get_settings() -> Settings:
    return Settings()
