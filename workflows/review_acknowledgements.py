"""QA acknowledges each exception of a product's review before signing its release.

An acknowledgement belongs to one exception as it reads: its key is the SHA-256 of the
exception's kind and text, so an exception whose text changes (a deviation closed, a result
corrected again) is a new exception that needs a new acknowledgement.

A comment is required where the exception asks for QA's judgement (a result out of
specification, a deviation, a correction, a refused scan or near miss, an alert, a missing
witness, a time window...); what only informs (a result still pending, a notification
delivered, a reprinted label, a late entry, an accepted warning) may be acknowledged without.
An unknown kind needs a comment: the safe side.
"""

from __future__ import annotations

import hashlib

# Kinds QA may acknowledge without a comment: information, not a judgement.
COMMENT_OPTIONAL: frozenset[str] = frozenset({
    "pending", "notification", "reprint", "late_entry", "warning"})
COMMENT_MAX = 2000  # the review_acknowledgement.comment column


def exception_key(kind: str, text: str) -> str:
    """The exception's identity: its kind and its words (a changed text is another one)."""
    return hashlib.sha256(f"{kind}\n{text}".encode()).hexdigest()


def needs_comment(kind: str) -> bool:
    return kind not in COMMENT_OPTIONAL


def comment_problem(kind: str, comment: str) -> str | None:
    """Why `comment` cannot acknowledge an exception of `kind`, or None."""
    if needs_comment(kind) and not comment.strip():
        return ("this exception needs QA's comment: say why it does not prevent the release "
                "(or reject the product)")
    if len(comment) > COMMENT_MAX:
        return f"the comment is {len(comment)} characters long; at most {COMMENT_MAX}"
    return None


def remaining_words(count: int) -> str:
    """How many exceptions are still to acknowledge, as the signature block says it."""
    if count == 1:
        return "1 exception remains to acknowledge"
    return f"{count} exceptions remain to acknowledge"
