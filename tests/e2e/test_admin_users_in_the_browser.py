"""Issue 12: accounts in the browser. The administrator creates an account, and its person
signs in with the temporary password and is made to choose their own (a wrong current
password and a weak new one refused in the policy's words); sign-in pauses after wrong
passwords, saying for how long in the same words for an unknown user name; the
administrator sees the pause and clears it, and resets a password."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tests.e2e.bench import PASSWORDS_ALL, Bench
from tests.e2e.conftest import Lab

TEMPORARY = "amber kettle sixty lanterns"
OWN = "violet harbour pencil orchard"


def sign_in_with(bench: Bench, username: str, password: str) -> str:
    """Submit the sign-in form; the message of the page it lands on (or '')."""
    bench.page.goto(bench.url + "/login")
    bench.page.fill("#username", username)
    bench.page.fill("#password", password)
    with bench.page.expect_navigation():
        bench.page.keyboard.press("Enter")
    error = bench.page.locator(".error-box")
    return error.inner_text() if error.count() else ""


def change_password(bench: Bench, current: str, new: str) -> str:
    bench.page.fill("#current_password", current)
    bench.page.fill("#new_password", new)
    bench.page.fill("#new_password_again", new)
    with bench.page.expect_navigation():
        bench.page.get_by_role("button", name="Change password").click()
    error = bench.page.locator(".error-box")
    return error.inner_text() if error.count() else ""


def open_account(bench: Bench, username: str) -> None:
    bench.page.goto(bench.url + "/admin/users")
    with bench.page.expect_navigation():
        bench.page.get_by_role("link", name=username, exact=True).click()
    assert bench.page.locator("h1").inner_text() == f"Account {username}"


def submit(bench: Bench, button: str) -> None:
    with bench.page.expect_navigation():
        bench.page.get_by_role("button", name=button).click()


def test_a_new_account_s_person_is_made_to_choose_their_own_password(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    admin, person = open_bench(), open_bench()
    # given: the administrator creates an account with a temporary password
    admin.sign_in("admin")
    admin.page.goto(lab.url + "/admin/users")
    admin.page.fill("#username", "tech9")
    admin.page.fill("#full_name", "Nina Newcomer")
    admin.page.select_option("#role", label="Technician")
    admin.page.fill("#email", "nina@example.org")
    admin.page.fill("#temporary_password", TEMPORARY)
    admin.page.fill("#temporary_password_again", TEMPORARY)
    submit(admin, "Create the account")
    assert "Account tech9 created for Nina Newcomer (Technician)" in admin.flash()
    admin.page.goto(lab.url + "/admin/users")
    row = admin.page.locator("tr", has=admin.page.get_by_role("link", name="tech9", exact=True))
    assert "Temporary: must be changed" in row.inner_text()

    # when: the person signs in with it
    assert sign_in_with(person, "tech9", TEMPORARY) == ""

    # then: they are on the password page, and nothing else opens until they change it
    assert person.page.url.endswith("/account/password")
    assert "choose your own before you continue" in person.page.content()
    person.page.goto(lab.url + "/")
    assert person.page.url.endswith("/account/password")
    wrong = change_password(person, "not the temporary one", OWN)
    assert "current password did not verify" in wrong
    weak = change_password(person, TEMPORARY, "password123456")
    assert "too easy to guess" in weak and "commonly used password" in weak
    assert change_password(person, TEMPORARY, OWN) == ""
    assert "Your password was changed" in person.flash()
    assert person.page.locator(".who").inner_text().startswith("Nina Newcomer")
    person.page.goto(lab.url + "/")
    assert not person.page.url.endswith("/account/password")


def test_sign_in_pauses_in_the_same_words_for_an_unknown_name_and_the_admin_clears_it(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    person, stranger, admin = open_bench(), open_bench(), open_bench()

    def paused(bench: Bench, username: str) -> tuple[str, int]:
        """A wrong password; the refusal, and the seconds it says to wait (0: none)."""
        message = sign_in_with(bench, username, "wrong-password")
        if "paused" not in message:
            assert "user name or password is incorrect" in message, message
            return message, 0
        waiting = re.search(r"wait (\d+) seconds?", message)
        assert waiting is not None, message
        return message, int(waiting.group(1))

    # when: wrong passwords for an account, and for a name no account has, until each must
    # wait 16 seconds (each wait doubles: 2, 4, 8, 16; a pause is let run out, then the
    # next wrong password makes the next one)
    for _ in range(20):
        (known, known_wait), (unknown, unknown_wait) = (paused(person, "tech2"),
                                                        paused(stranger, "nobody-here"))
        if min(known_wait, unknown_wait) >= 16:
            break
        time.sleep(max(known_wait, unknown_wait) + 0.3)
    else:
        raise AssertionError("sign-in never paused for 16 seconds")

    # then: the same words, saying that sign-in is paused and for how long
    assert re.search(r"Sign-in is paused\. .* wait \d+ seconds? and try again", known), known
    assert re.sub(r"\d+", "N", known) == re.sub(r"\d+", "N", unknown)
    assert "account" not in known.lower().replace("nothing is locked", "")
    # the right password waits too
    assert "paused" in sign_in_with(person, "tech2", PASSWORDS_ALL["tech2"])

    # when: the administrator sees the pause on the list and clears it
    admin.sign_in("admin")
    admin.page.goto(lab.url + "/admin/users")
    row = admin.page.locator("tr", has=admin.page.get_by_role("link", name="tech2", exact=True))
    assert "Paused after failed sign-ins" in row.inner_text()
    open_account(admin, "tech2")
    admin.page.fill("#unlock_reason", "identified by telephone")
    submit(admin, "Let them sign in again now")
    assert "tech2 may sign in again at once" in admin.flash()

    # then: the person signs in at once
    assert sign_in_with(person, "tech2", PASSWORDS_ALL["tech2"]) == ""
    assert person.page.locator(".who").count() == 1


def test_the_admin_resets_a_password_and_the_person_is_made_to_change_it(
        open_bench: Callable[[], Bench], lab: Lab) -> None:
    admin, person = open_bench(), open_bench()
    person.sign_in("doc2")
    admin.sign_in("admin")
    open_account(admin, "doc2")
    # a typing slip between the two fields is refused, the reason kept, no password shown
    admin.page.fill("#temporary_password", TEMPORARY)
    admin.page.fill("#temporary_password_again", TEMPORARY + "!")
    admin.page.fill("#password_reason", "forgotten over the weekend")
    submit(admin, "Set the temporary password")
    assert "two temporary passwords differ" in admin.page.locator("#password-error").inner_text()
    assert admin.page.input_value("#password_reason") == "forgotten over the weekend"
    assert admin.page.input_value("#temporary_password") == ""
    admin.page.fill("#temporary_password", TEMPORARY)
    admin.page.fill("#temporary_password_again", TEMPORARY)
    submit(admin, "Set the temporary password")
    assert "Temporary password set for doc2" in admin.flash()

    # the person's open session has ended: they sign in with the temporary password
    person.page.goto(lab.url + "/")
    assert "/login" in person.page.url
    assert sign_in_with(person, "doc2", TEMPORARY) == ""
    assert person.page.url.endswith("/account/password")
    assert change_password(person, TEMPORARY, OWN) == ""
    assert "Your password was changed" in person.flash()
