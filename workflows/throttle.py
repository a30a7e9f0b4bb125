"""Back-off after failed sign-ins: a wait that doubles, never a lock anyone can cause.

A permanent lock after five wrong passwords lets anyone who knows a user name shut that
person out (the only administrator included). Instead every key (a user name from one
address, an address, a user name from anywhere) may fail `free` times; each further
failure makes it wait 2, 4, 8 … seconds, at most `cap_seconds`. A key whose last failure
is older than `forget_after_seconds` starts again from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    free: int  # failures allowed without waiting
    cap_seconds: int  # the longest wait
    forget_after_seconds: int = 3600


def wait_after(failures: int, rule: Rule) -> int:
    """Seconds to wait after the `failures`-th failure in a row (0: none)."""
    beyond = failures - rule.free + 1
    if beyond <= 0:
        return 0
    return min(int(2 ** min(beyond, 30)), rule.cap_seconds)


def in_words(seconds: float) -> str:
    """A wait as a person reads it: "2 seconds", "1 minute", "15 minutes"."""
    whole = max(1, int(seconds + 0.999))
    if whole < 60:
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = (whole + 59) // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
