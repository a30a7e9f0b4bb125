"""The password policy (NIST SP 800-63B §3.1.1.2): length and a block-list, no composition rules.

A password is counted in Unicode code points after NFKC (what the hash is made of), needs at
least 12 and at most 256, and is refused when it is a common or breached password, repeats
one piece, is built only from the person's own names and the lab's, or is otherwise guessed
in fewer than 10¹⁰ tries. The block-list ships offline: the 30,000 most common passwords
from breach corpora that zxcvbn (MIT licence) bundles, and zxcvbn's estimate, which also
knows keyboard patterns, sequences, dates and common words. No online service is asked.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 256
# zxcvbn's "very unguessable" (score 4): strong protection against offline guessing.
MIN_GUESSES_LOG10 = 10.0
_ESTIMATED_UP_TO = 72  # zxcvbn refuses longer input; a longer one is judged by the rest
_CONTEXT_MIN = 3  # shorter context words ("qa") are too common inside real phrases
_FILLER = re.compile(r"[\W\d_]+")  # digits, spaces and punctuation around context words
# zxcvbn keeps the person's own words in a module-wide dictionary while it estimates.
_ESTIMATING = threading.Lock()


class PasswordRefused(ValueError):
    """The password breaks the policy; the message says why, in the person's words."""


def normalised(password: str) -> str:
    """The password as it is hashed and counted: NFKC, so ‘ﬁ’ and ‘fi’ are one password."""
    return unicodedata.normalize("NFKC", password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    return frozenset(p.casefold() for p in FREQUENCY_LISTS["passwords"])


def check_password(password: str, *, context: Iterable[str] = ()) -> str:
    """The password as it is to be hashed (NFKC), or PasswordRefused saying why.

    `context`: the person's user name and full name, the lab's name, "lims": words an
    attacker tries first."""
    text = normalised(password)
    if len(text) < MIN_LENGTH:
        raise PasswordRefused(f"a password needs at least {MIN_LENGTH} characters; this one "
                              f"has {len(text)}: a phrase of several words is easiest to "
                              "remember")
    if len(text) > MAX_LENGTH:
        raise PasswordRefused(f"a password can have at most {MAX_LENGTH} characters; this "
                              f"one has {len(text)}")
    folded = text.casefold()
    if folded in common_passwords():
        raise PasswordRefused("this is one of the most common passwords (it is in lists of "
                              "breached passwords): choose another")
    unit = repeated_unit(folded)
    if unit is not None:
        raise PasswordRefused(f"this password only repeats {unit!r}: choose another")
    words = context_words(context)
    if words and not _FILLER.sub("", _without(folded, words)):
        raise PasswordRefused("this password is made of your own name or user name, or the "
                              "lab's, with digits or signs: choose words nobody links to you")
    _refuse_guessable(text, words)
    return text


def repeated_unit(text: str) -> str | None:
    """The piece `text` is made of when it is that piece two or more times over."""
    period = (text + text).find(text, 1)
    return text[:period] if period < len(text) else None


def context_words(context: Iterable[str]) -> list[str]:
    words = {w for item in context for w in re.split(r"[\W_]+", normalised(item).casefold())}
    return sorted((w for w in words if len(w) >= _CONTEXT_MIN), key=len, reverse=True)


def _without(text: str, words: list[str]) -> str:
    for word in words:  # longest first: "technician" before "tech"
        text = text.replace(word, "")
    return text


def _refuse_guessable(text: str, words: list[str]) -> None:
    with _ESTIMATING:
        estimate = zxcvbn(text[:_ESTIMATED_UP_TO], user_inputs=words,
                          max_length=_ESTIMATED_UP_TO)
    if len(text) <= _ESTIMATED_UP_TO and estimate["guesses_log10"] < MIN_GUESSES_LOG10:
        warning = str(estimate["feedback"].get("warning") or "").rstrip(".")
        why = f" ({warning[0].lower()}{warning[1:]})" if warning else ""
        raise PasswordRefused(f"this password is too easy to guess{why}: a phrase of three "
                              "or four unrelated words is both stronger and easier to "
                              "remember")
