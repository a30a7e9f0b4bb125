"""User names and full names as they are stored: one spelling for one person.

A user name is typed at every sign-in and every witness or signer check, and printed in
the audit trail: it is NFKC-normalised, lower case, 2–64 characters of a–z, 0–9, '.', '_'
and '-', starting with a letter or digit. Anything else (a trailing space, a no-break space,
a newline, a Cyrillic 'е') is refused with the character named, never silently dropped,
so "tech1 " can never become a second tech1. A full name is printed on signatures: it is
trimmed, its spaces single, and it holds no control or invisible character.
"""

from __future__ import annotations

import re
import unicodedata

from workflows.characters import describe

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
_USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
FULL_NAME_MAX = 200
# Control, format (zero-width, bidi), private-use, unassigned and line/paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


class NameRefused(ValueError):
    """The name cannot be stored as given; the message says which character and where."""


def lookup_key(username: str) -> str:
    """What a typed user name is looked up by: NFKC, trimmed, lower case (never refused:
    a name no account has simply matches none)."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def checked_username(username: str) -> str:
    """The user name as stored (lower case), or NameRefused naming what is wrong."""
    for position, ch in enumerate(username, start=1):
        if ch.lower() not in _USERNAME_CHARS or not ch.isascii():
            raise NameRefused(f"a user name may hold only the letters a–z, digits, '.', '_' "
                              f"and '-': it has {describe(ch)} at position {position}")
    name = username.lower()
    if not USERNAME.fullmatch(name):
        raise NameRefused("a user name has 2 to 64 characters and starts with a letter or "
                          f"a digit: {name!r} does not")
    return name


def checked_full_name(full_name: str) -> str:
    """The full name as printed: NFKC, trimmed, single spaces; NameRefused for an empty
    name or one with a control or invisible character."""
    text = unicodedata.normalize("NFKC", full_name)
    for position, ch in enumerate(text, start=1):
        if unicodedata.category(ch) in _HIDDEN or (ch.isspace() and ch != " "):
            raise NameRefused(f"a full name cannot hold {describe(ch)} (at position "
                              f"{position}): type it on one line with ordinary spaces")
    text = " ".join(text.split())
    if not text:
        raise NameRefused("the full name cannot be empty")
    if len(text) > FULL_NAME_MAX:
        raise NameRefused(f"a full name has at most {FULL_NAME_MAX} characters")
    return text


def same_printed_name(name: str) -> str:
    """The key two full names share when a reader could not tell them apart on a signature."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())
