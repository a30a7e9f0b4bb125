"""The secret keys of the audit chain: the current one that keys new events, and the
former ones kept so events written before a rotation still verify.

An event's chain hash is HMAC-SHA-256 under a key that never enters the database
(LIMS_AUDIT_KEY), so someone who can write the database but not read the key cannot
append, rewrite or re-chain an event that verifies. Each event records the id of its
key (the first 8 hex digits of the key's SHA-256: it names the key without revealing
it); after a rotation the old key moves to LIMS_AUDIT_OLD_KEYS (verification only).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from lims.config import DEVELOPMENT_AUDIT_KEY, Settings, get_settings


@dataclass(frozen=True)
class AuditKey:
    key_id: str
    secret: bytes

    def mac(self) -> hmac.HMAC:
        """A fresh HMAC-SHA-256 under this key, to be fed the event's text."""
        return hmac.new(self.secret, digestmod=hashlib.sha256)


def key_id_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@lru_cache(maxsize=16)  # a key id is a SHA-256 of the secret: once per key, not per event
def _key(secret: str) -> AuditKey:
    return AuditKey(key_id_of(secret), secret.encode())


def current_key(settings: Settings | None = None) -> AuditKey:
    """The key new events are chained with; refused outside development if unset."""
    settings = settings or get_settings()
    if settings.environment != "development" and settings.audit_key == DEVELOPMENT_AUDIT_KEY:
        raise RuntimeError("LIMS_AUDIT_KEY must be set outside development")
    return _key(settings.audit_key)


def keyring(settings: Settings | None = None) -> dict[str, AuditKey]:
    """Every key an event may have been chained with, by key id (current and former)."""
    settings = settings or get_settings()
    keys = [_key(old.strip()) for old in settings.audit_old_keys.split(",") if old.strip()]
    keys.append(current_key(settings))
    return {key.key_id: key for key in keys}
