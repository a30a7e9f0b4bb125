"""The password policy, user names and the sign-in back-off: pure rules, no database."""

from __future__ import annotations

import pytest

from workflows.passwords import MAX_LENGTH, PasswordRefused, check_password, repeated_unit
from workflows.throttle import Rule, in_words, wait_after
from workflows.usernames import NameRefused, checked_full_name, checked_username

CONTEXT = ["tech1", "Sara Technician", "lims", "Cell Processing Laboratory (demo, fictitious)"]


@pytest.mark.parametrize(("password", "why"), [
    ("password", "at least 12 characters; this one has 8"),
    ("12345678", "at least 12"),
    ("passwordpassword", "only repeats 'password'"),
    ("password1234", "most common passwords"),
    ("123456789012", "password"),  # digits only: made of nothing but filler
    ("qwertyuiop12", "password"),
    ("Summer2024!!", "too easy to guess"),
    ("sara technician1", "your own name"),
    ("LIMS-Laboratory-2024", "your own name"),
    ("x" * (MAX_LENGTH + 1), "at most 256"),
])
def test_a_weak_password_is_refused_with_the_reason(password, why):
    with pytest.raises(PasswordRefused) as refused:
        check_password(password, context=CONTEXT)
    assert why in str(refused.value)


@pytest.mark.parametrize("password", ["purple monkey dishwasher", "Tr0ub4dor&3xx",
                                      "ZxhRt9-kLp2q", "Żółta łódź płynie rzeką",
                                      "кот спит на тёплой печке",
                                      "violet tram under snow, " * 3 + "and more"])
def test_a_long_uncommon_password_of_any_characters_is_accepted(password):
    assert check_password(password, context=CONTEXT) == password


def test_length_is_counted_in_code_points_after_nfkc():
    # the ligature 'ﬁ' is two characters after NFKC, and hashes as 'fi'
    assert check_password("ﬁve amber kettles", context=()) == "five amber kettles"
    with pytest.raises(PasswordRefused, match="has 11"):
        check_password("é" * 11)


def test_a_repeated_unit_is_found():
    assert (repeated_unit("abcabcabc"), repeated_unit("abcabca")) == ("abc", None)


@pytest.mark.parametrize(("name", "named"), [
    ("tech1 ", "a space at position 6"), ("tech\u00a01", "no-break space"),
    ("tech1\n", "LF control character"), ("t\u0435ch1", "Cyrillic small letter"),
    ("ｔｅｃｈ1", "full-width"), ("-tech", "starts with a letter"), ("a", "2 to 64"),
])
def test_a_user_name_outside_the_safe_set_is_refused_by_name(name, named):
    with pytest.raises(NameRefused) as refused:
        checked_username(name)
    assert named in str(refused.value)


def test_user_names_are_stored_in_lower_case():
    assert checked_username("Dr.Who_2-x") == "dr.who_2-x"


def test_full_names_are_trimmed_and_hidden_characters_refused():
    assert checked_full_name("  Sara \u00a0 Technician ") == "Sara Technician"
    for bad in ("Sara\nTechnician", "Sara\u200bTechnician", "   "):
        with pytest.raises(NameRefused):
            checked_full_name(bad)


def test_the_wait_doubles_after_the_free_failures_and_is_capped():
    rule = Rule(free=5, cap_seconds=900)
    assert [wait_after(n, rule) for n in range(1, 16)] == [
        0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert wait_after(10_000, rule) == 900
    assert (in_words(1), in_words(2), in_words(61), in_words(900)) == (
        "1 second", "2 seconds", "2 minutes", "15 minutes")
