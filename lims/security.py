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
# Stateless HMAC-signed tokens:
#   "<user id>.<token version>.<session start>.<issued unix time>.<purpose>.<signature>".
# Expiry is enforced on reading, so an idle UI session ends (Part 11 §11.10(d)); the session
# start, carried unchanged through every renewal, bounds a session however active; the
# version is compared with the account's on every request, so sign-out, a password change
# or reset and deactivation end every token and cookie at once.

import hashlib  # noqa: E402
import hmac  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402


class TokenError(ValueError):
    """The token is malformed, forged or expired."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is, under which version, since when."""

    user_id: int
    version: int
    started: int  # when the person signed in (unix time)
    issued: int = 0  # when this token was issued (unix time): the last activity


def issue_token(secret: str, user_id: int, purpose: str, now: float | None = None, *,
                version: int = 0, started: int | None = None) -> str:
    issued = int(now if now is not None else time.time())
    body = f"{user_id}.{version}.{started if started is not None else issued}.{issued}.{purpose}"
    return f"{body}.{_sign(secret, body)}"


def read_claims(secret: str, token: str, purpose: str, max_age_seconds: int,
                now: float | None = None, *, lifetime_seconds: int | None = None,
                expired_too: bool = False) -> TokenClaims:
    """The claims of a valid, unexpired token of `purpose`; TokenError otherwise.

    `max_age_seconds` bounds the time since the token was issued (idle), `lifetime_seconds`
    the time since the session started (absolute). `expired_too` reads a genuine token
    whatever its age (only to tell whose session it was once it has ended: such claims
    never admit anyone); its signature, purpose and form are checked all the same."""
    parts = token.split(".")
    if len(parts) != 6:
        raise TokenError("malformed token")
    *fields, token_purpose, signature = parts
    body = ".".join([*fields, token_purpose])
    if not hmac.compare_digest(signature, _sign(secret, body)) or token_purpose != purpose:
        raise TokenError("invalid token")
    if not all(field.isdigit() for field in fields):
        raise TokenError("malformed token")
    user_id, version, started, issued = (int(field) for field in fields)
    if expired_too:
        return TokenClaims(user_id, version, started, issued)
    current = now if now is not None else time.time()
    if current - issued > max_age_seconds:
        raise TokenError("session expired; sign in again")
    if lifetime_seconds is not None and current - started > lifetime_seconds:
        raise TokenError(f"the session reached its {lifetime_seconds // 3600}-hour limit; "
                         "sign in again")
    return TokenClaims(user_id, version, started, issued)


def read_token(secret: str, token: str, purpose: str, max_age_seconds: int,
               now: float | None = None) -> int:
    """The user id in a valid, unexpired token of `purpose`; TokenError otherwise."""
    return read_claims(secret, token, purpose, max_age_seconds, now).user_id


def _sign(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
