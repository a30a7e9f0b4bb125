"""Password hashing (argon2id) for sign-in and electronic signatures."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lims.config import get_settings

HASHERS = {
    "standard": PasswordHasher(),  # argon2id, RFC 9106 low-memory profile
    # Lowest cost, for test databases: seeding and signing in cost ~1 ms instead of ~60 ms.
    "fast-for-tests": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}


def _hasher() -> PasswordHasher:
    profile = get_settings().password_hashing
    try:
        return HASHERS[profile]
    except KeyError:
        raise ValueError(f"unknown LIMS_PASSWORD_HASHING {profile!r}; use "
                         f"{' or '.join(HASHERS)}") from None


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher().hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    # The cost is read from the stored hash: hashes of either profile verify.
    try:
        return HASHERS["standard"].verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- session and API tokens -------------------------------------------------------------
# Stateless HMAC-signed tokens: "<user id>.<issued unix time>.<purpose>.<signature>".
# Expiry is enforced on reading, so an idle UI session ends (Part 11 §11.10(d)).

import hashlib  # noqa: E402
import hmac  # noqa: E402
import time  # noqa: E402


class TokenError(ValueError):
    """The token is malformed, forged or expired."""


def issue_token(secret: str, user_id: int, purpose: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    body = f"{user_id}.{issued}.{purpose}"
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: str, token: str, purpose: str, max_age_seconds: int,
               now: float | None = None) -> int:
    """The user id in a valid, unexpired token of `purpose`; TokenError otherwise."""
    parts = token.split(".")
    if len(parts) != 4:
        raise TokenError("malformed token")
    user_id, issued, token_purpose, signature = parts
    body = f"{user_id}.{issued}.{token_purpose}"
    if not hmac.compare_digest(signature, _sign(secret, body)) or token_purpose != purpose:
        raise TokenError("invalid token")
    current = now if now is not None else time.time()
    if not issued.isdigit() or current - int(issued) > max_age_seconds:
        raise TokenError("session expired; sign in again")
    return int(user_id)


def _sign(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
