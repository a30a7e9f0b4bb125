"""Whether a secret key (LIMS_SECRET_KEY, LIMS_AUDIT_KEY) is strong enough for production.

A key must carry at least 256 bits: 43 URL-safe base64 characters as
`secrets.token_urlsafe(32)` (`lims secret-key`) prints them, or 64 hexadecimal digits
(`openssl rand -hex 32`). Its strength is judged from the smallest usual alphabet its
characters come from, so a long key of lower-case letters or digits is held to the length
that alphabet needs; keys typed by a person rather than generated (a placeholder, a word
from a README, one character repeated, a repeated block, a run like "abcdef") are refused
whatever their length. A generated key fails these checks with a probability far below one
in a million (the tests check generated keys).
"""

from __future__ import annotations

import itertools
import math
import re
import secrets
import string

MIN_BITS = 256
MIN_LENGTH = 43  # 43 × 6 bits of URL-safe base64 ≥ 256
URL_SAFE = string.ascii_letters + string.digits + "-_"
KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]+={0,2}")  # base64url, padding allowed
HOW_TO_MAKE_ONE = ("make one with `lims secret-key` or "
                   "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`")
# The small alphabets, smallest first: a key is judged by the first that holds it, else as
# URL-safe base64 (a generated key lacks "-", "_" and digits one time in 10⁴, but both cases
# of letters almost never).
ALPHABETS = (string.digits, "0123456789abcdef", "0123456789ABCDEF", string.ascii_lowercase,
             string.ascii_uppercase, string.digits + string.ascii_lowercase,
             string.digits + string.ascii_uppercase)
# Words of keys written by hand, copied from a README, an example or a default. Six letters
# or more, compared without case: a generated key holds one with odds below 1 in 10⁶.
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "replace", "example", "placeholder",
                     "secret", "password", "passwd", "default", "development", "insecure",
                     "sample", "qwerty", "letmein", "12345678", "abcdefgh", "yourkey",
                     "your-key", "your_key")
# Runs of 8, not 6: `openssl rand -hex 32` holds "123456" or "abcdef" about once in 140,000
# keys, and a generated key must never be refused (a run of 8 hex digits: 1 in 75 million).
MIN_DISTINCT = 12  # a generated 43-character key has ~31 different characters, hex ~16


def new_secret_key() -> str:
    """A key of 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def secret_key_problem(name: str, key: str) -> str | None:
    """Why `key` (the value of the variable `name`) is too weak for production, with how to
    make a good one; None when it is strong."""
    why = _weakness(key)
    return None if why is None else f"{name} {why}; {HOW_TO_MAKE_ONE}"


def estimated_bits(key: str) -> float:
    """The most a key can hold: its length × the bits a character of its alphabet carries."""
    body = key.rstrip("=")
    characters = set(body)
    size = next((len(a) for a in ALPHABETS if characters <= set(a)), len(URL_SAFE))
    return len(body) * math.log2(size)


def _weakness(key: str) -> str | None:
    if not key:
        return "is not set"
    if not KEY_SHAPE.fullmatch(key):
        return ("may hold only URL-safe base64 characters (A-Z a-z 0-9 - _), no spaces or "
                "punctuation")
    lowered = key.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return "is a placeholder or holds a word, not a generated key"
    if len(key.rstrip("=")) < MIN_LENGTH:
        return f"is too short: at least {MIN_LENGTH} characters (256 bits)"
    if _typed_by_hand(key.rstrip("=")) or estimated_bits(key) < MIN_BITS:
        return ("is not random enough for 256 bits (its characters repeat or follow a "
                "pattern, or come from too small an alphabet for its length)")
    return None


def _typed_by_hand(body: str) -> bool:
    """Too few different characters, a block repeated, or mostly runs and repeats."""
    if len(set(body)) < MIN_DISTINCT:
        return True
    for period in range(1, len(body) // 2 + 1):
        if all(body[i] == body[i + period] for i in range(len(body) - period)):
            return True
    # A random URL-safe key steps by one or repeats between neighbours ~5 % of the time
    # (hex ~17 %): more than half is a run ("abcdef…", "aabbcc…").
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(body))
    return steps * 2 > len(body) - 1
