"""What typed text may hold: identifiers are plain ASCII, free text is any script.

An identifier (a lot number, an equipment ID, an MRN, a subject ID, a bag sample ID, an
operating room, a QC method or instrument) is matched against labels, certificates and
other systems character by character: a Cyrillic 'А' or a full-width '３' in it looks
right on screen and matches nothing, and a control character hides in it. Both are
refused with the character named (workflows.characters).

Free text (adverse events, reasons, descriptions, people's names) keeps every script —
Persian and Arabic names are real, with their zero-width non-joiners — but never control
characters, which no keyboard types into a field (a NUL, an escape, a form feed), nor the
direction overrides that make text read differently from what it stores. Text of several
lines keeps its line breaks and tabs.
"""

from __future__ import annotations

import unicodedata

from workflows.characters import describe, is_plain, name_odd_characters

# Line breaks and tabs a text area sends (a browser sends CR LF).
_LINE_BREAKS = frozenset("\n\r\t")
# Explicit direction embeddings, overrides and isolates: they reorder what is shown, so a
# reader sees other text than the record holds (the marks U+200E/U+200F stay allowed).
_DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def identifier_problem(text: str) -> str | None:
    """Why `text` cannot be an identifier ("it has Cyrillic capital letter A ‘А’ (U+0410,
    looks like A) at position 1; ..."), or None when it is printable ASCII."""
    odd = name_odd_characters(text)
    if odd is None:
        return None
    return (f"it has {odd}: an identifier is typed with Latin letters, digits and the "
            "symbols of a Latin keyboard; check the keyboard layout or the scanner's "
            "settings and type it again")


def free_text_problem(text: str, *, lines: bool = False) -> str | None:
    """Why `text` cannot be stored as typed (a control character, a direction override),
    or None. `lines`: line breaks and tabs are allowed (a text area)."""
    found = [(index + 1, ch) for index, ch in enumerate(text) if _forbidden(ch, lines)]
    if not found:
        return None
    named = "; ".join(f"{describe(ch)} at position {at}" for at, ch in found[:3])
    if len(found) > 3:
        named += f"; and {len(found) - 3} more"
    return f"it has {named}, which no keyboard types into this field: type it again"


def _forbidden(ch: str, lines: bool) -> bool:
    if is_plain(ch):
        return False
    if ch in _LINE_BREAKS:
        return not lines
    if ch in _DIRECTION_CONTROLS:
        return True
    return unicodedata.category(ch) in ("Cc", "Cs")
