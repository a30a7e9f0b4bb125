"""Characters a scanner or a keyboard should not send, named so a person can see them.

A label's codes are printable ASCII. A Cyrillic 'А', a full-width '３' or a control
character looks like (or hides behind) an ordinary one: a message quoting the text back
("unknown data identifier '=Х'") then contradicts what the person sees. Every check of a
scan or an identifier names such characters the same way, from here, and every record of
a refused scan stores it escaped so the stored value shows them too.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# The C0 control characters by their standard abbreviations (unicodedata has no names for
# them), and DEL.
_CONTROL = ("NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT",
            "FF", "CR", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB",
            "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US")
_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "HEBREW", "ARABIC", "COPTIC",
                      "GEORGIAN", "CHEROKEE", "PERSIAN", "DEVANAGARI", "THAI"})
# Letters of other scripts drawn like Latin capitals or digits (the ones keyboards and
# scanners set to another layout actually produce); full-width forms are found by NFKC.
_LOOKS_LIKE = dict(zip("АВЕЅІЈКМНОРСТХУаеорсухіјѕΑΒΕΖΗΙΚΜΝΟΡΤΥΧο",
                       "ABESIJKMHOPCTXYaeopcyxijsABEZHIKMNOPTYXo", strict=True))
# Printed where a character cannot be seen (controls, spaces, joiners, combining marks).
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


@dataclass(frozen=True)
class Odd:
    """A character outside printable ASCII, where it is (1-based) and what it is called."""

    position: int
    char: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} at position {self.position}"


def is_plain(ch: str) -> bool:
    """Printable ASCII: what a scanner of our labels and a Latin keyboard send."""
    return " " <= ch <= "~"


def looks_like(ch: str) -> str | None:
    """The ASCII character `ch` is drawn like, if any (Cyrillic 'А' → 'A', '３' → '3')."""
    if ch in _LOOKS_LIKE:
        return _LOOKS_LIKE[ch]
    folded = unicodedata.normalize("NFKC", ch)
    return folded if len(folded) == 1 and is_plain(folded) and folded != ch else None


def describe(ch: str) -> str:
    """The character in words: "a space", "a NUL control character (U+0000)",
    "Cyrillic capital letter A ‘А’ (U+0410, looks like A)", "'x'" for plain ASCII."""
    code = ord(ch)
    if ch == " ":
        return "a space"
    if is_plain(ch):
        return f"'{ch}'"
    if code < 0x20 or code == 0x7F:
        abbreviation = _CONTROL[code] if code < 0x20 else "DEL"
        return f"a {abbreviation} control character (U+{code:04X})"
    name = _words(unicodedata.name(ch, ""))
    category = unicodedata.category(ch)
    shown = "" if category in _INVISIBLE else f" ‘{ch}’"
    similar = looks_like(ch)
    hint = f", looks like {similar}" if similar is not None and similar != " " else ""
    if not name:
        return f"the character U+{code:04X}{shown}"
    return f"{name}{shown} (U+{code:04X}{hint})"


def _words(name: str) -> str:
    """A Unicode name as a phrase: 'CYRILLIC CAPITAL LETTER A' → 'Cyrillic capital letter A'."""
    words = name.replace("FULLWIDTH", "FULL-WIDTH").replace("HALFWIDTH", "HALF-WIDTH").split()
    capital = "CAPITAL" in words
    out = []
    for index, word in enumerate(words):
        if word in _SCRIPTS:
            out.append(word.capitalize())
        elif index > 0 and words[index - 1] == "LETTER":  # the letter's own name
            out.append(word.capitalize() if capital and len(word) > 1 else
                       word if capital else word.lower())
        else:
            out.append(word.lower())
    return " ".join(out)


def odd_characters(text: str) -> list[Odd]:
    """Every character of `text` outside printable ASCII, in order."""
    return [Odd(index + 1, ch, describe(ch)) for index, ch in enumerate(text)
            if not is_plain(ch)]


def name_odd_characters(text: str, *, most: int = 3) -> str | None:
    """The characters of `text` a scanner or Latin keyboard would not send, named with their
    positions ("Cyrillic capital letter A ‘А’ (U+0410, looks like A) at position 1"), or
    None when there are none. At most `most` are named, then how many more."""
    found = odd_characters(text)
    if not found:
        return None
    named = "; ".join(str(odd) for odd in found[:most])
    if len(found) > most:
        named += f"; and {len(found) - most} more"
    return named


def escaped(text: str) -> str:
    """`text` with every character outside printable ASCII as a visible escape (\\x00,
    \\u0410) and backslashes doubled, so the stored value shows what was sent."""
    return "".join(_escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if is_plain(ch):
        return ch
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def for_the_record(text: str, *, limit: int = 500) -> str:
    """`text` escaped and, when that is longer than `limit` characters, cut (never inside an
    escape) with a note of its full length, so any scan, however long or strange, fits a
    record of `limit` characters. Plain text that fits is stored as it is."""
    pieces = [_escape(ch) for ch in text]
    shown = "".join(pieces)
    if shown == text and len(text) <= limit:
        return text
    note = f" [{len(text)} characters" + (", escaped" if shown != text else "") + "]"
    if len(shown) + len(note) <= limit:
        return shown + note
    note = "…" + note
    kept, size = [], 0
    for piece in pieces:
        if size + len(piece) > limit - len(note):
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + note
