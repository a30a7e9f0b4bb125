"""The people at the bench, as the browser test drives them: a keyboard, a wedge scanner
(types the code and presses Enter) and a label printer whose PDF the scanner reads back."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdfium2
import zxingcpp

from lims.config import get_settings
from lims.demo import PASSWORDS

# Screenshots refresh docs/screenshots/ only when asked (UPDATE_SCREENSHOTS=1), so a test
# run leaves the tree clean; otherwise they go to a scratch folder.
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
               if os.environ.get("UPDATE_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "lims-screenshots")
PASSWORDS_ALL = {**PASSWORDS, "admin": "demo-admin-pass"}


def datamatrix_of(pdf: bytes) -> str:
    """What a 2-D scanner reads from a printed label: its one Data Matrix symbol."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=300 / 72).to_pil().convert("L")
    finally:
        document.close()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.barcode_formats_from_str("DataMatrix"))
    texts = {symbol.text for symbol in found}
    assert len(texts) == 1, f"expected one Data Matrix on the label, found {texts}"
    return texts.pop()


def clock(start: datetime) -> Any:
    """Times as the bench types them ("YYYY-MM-DD HH:MM", site zone), minutes after `start`."""
    zone = ZoneInfo(get_settings().time_zone)

    def at(minutes: float) -> str:
        return (start + timedelta(minutes=minutes)).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return at


class Bench:
    """One browser tab and whoever is signed in on it."""

    def __init__(self, page: Any, url: str) -> None:
        self.page, self.url = page, url

    # --- people ----------------------------------------------------------------------------
    def sign_in(self, username: str) -> None:
        self.page.goto(self.url + "/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORDS_ALL[username])
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        assert self.page.locator(".who").count() == 1, self.page.content()[:2000]

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.wait_for_url("**/login**")

    # --- the scanner: types the code and presses Enter -------------------------------------
    def scan(self, selector: str, code: str) -> None:
        field = self.page.locator(selector)
        field.focus()
        field.press("Control+a")
        self.page.keyboard.type(code)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def scan_anywhere(self, code: str) -> None:
        self.scan("#scan-anywhere", code)

    # --- forms -----------------------------------------------------------------------------
    def enter(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            field = self.page.locator(f"#v_{name}")
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)

    def check(self) -> None:
        """Enter in the form: the check (computed values, warnings), never the save."""
        with self.page.expect_navigation():
            self.page.locator("form.stepform input").last.press("Enter")

    def sign_as_physician(self, username: str, password: str | None = None) -> None:
        """The administering physician's own signature at the bedside (before the witness)."""
        self.page.fill("#physician_username", username)
        self.page.fill("#physician_password", password or PASSWORDS_ALL[username])

    def witness_and_save(self, witness: str | None) -> None:
        if witness is not None:
            self.page.fill("#witness_username", witness)
            self.page.fill("#witness_password", PASSWORDS_ALL[witness])
            with self.page.expect_navigation():
                self.page.locator("#witness_password").press("Enter")
        else:
            with self.page.expect_navigation():
                self.page.get_by_role("button", name="Save step").press("Enter")

    def confirm_qc(self) -> None:
        """On the QC check page (after Enter in the QC form): "Confirm and save"."""
        assert "Check the QC results" in self.page.locator("h1").inner_text(), self.flash()
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Confirm and save").click()

    # --- labels ----------------------------------------------------------------------------
    def print_label(self, container: str, reason: str | None = None, index: int = 0) -> str:
        """Print (or reprint) the container's label; return what its Data Matrix says."""
        row = self.page.locator("table.containers tbody tr").filter(
            has=self.page.locator(f'td:text-is("{container}")')).filter(
            has=self.page.get_by_role("button")).nth(index)
        if reason is not None:
            row.locator("input[name=reason]").fill(reason)
        # "Download PDF" records the print and comes back to the product page, which
        # offers that print's PDF for download (and has the cursor in the scan-back field).
        with self.page.expect_navigation():
            row.locator("button[value=pdf]").press("Enter")
        with self.page.expect_download() as download:
            self.page.locator("a.label-pdf").click()
        path = download.value.path()
        return datamatrix_of(Path(path).read_bytes())

    def scan_back(self, code: str) -> None:
        self.scan("#verify-scan", code)

    def label_and_scan_back(self, container: str, index: int = 0) -> str:
        code = self.print_label(container, index=index)
        self.scan_back(code)
        assert "confirmed by scan" in self.flash(), self.flash()
        return code

    # --- QA review ---------------------------------------------------------------------------
    def acknowledge_exceptions(self, comment: str = "Read; no impact on the release") -> int:
        """QA acknowledges each exception of the review, one by one (Enter in its comment);
        returns how many."""
        count = 0
        while (forms := self.page.locator("form.acknowledge")).count():
            field = forms.first.locator("input[name=comment]")
            field.fill(comment)
            with self.page.expect_navigation():
                field.press("Enter")
            assert "acknowledged" in self.flash(), self.page.locator("main").inner_text()[:1500]
            count += 1
        return count

    # --- reading the page ------------------------------------------------------------------
    def flash(self) -> str:
        flash = self.page.locator(".flash")
        return flash.inner_text() if flash.count() else ""

    def wait_for_focus(self, element_id: str) -> None:
        """The cursor is in `element_id` (autofocus is applied when the page first renders).

        Polled from here: the pages' CSP (script-src 'self') forbids the string evaluation
        that `wait_for_function` injects into the page."""
        deadline = time.monotonic() + 10
        while (focused := self.focused()) != element_id:
            assert time.monotonic() < deadline, f"the cursor is in {focused!r}, not {element_id!r}"
            time.sleep(0.05)

    def focused(self) -> str:
        """The id of the element that has the cursor ("" for none)."""
        return str(self.page.evaluate(
            "document.activeElement ? document.activeElement.id : ''"))

    def state(self) -> str:
        return self.page.locator(".product-head .state").inner_text().strip()

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
