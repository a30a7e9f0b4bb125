"""Browser tests: a real uvicorn server on a fresh SQLite database, driven by Playwright
in Debian's Chromium (/usr/bin/chromium; `make test` installs it, no browser download)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.e2e.bench import Bench

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]



@dataclass(frozen=True)
class Lab:
    """The running LIMS: its address, its database and the patients of the test."""

    url: str
    database_url: str
    subject_id: str  # taken through every step in the browser
    mrn: str  # on that patient's wristband
    other_subject_id: str  # whose bag is scanned by mistake


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the LIMS server stopped:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the LIMS server did not answer in 30 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A migrated, seeded database with earlier products and two enrolled patients,
    served by uvicorn in its own process."""
    from lims.config import get_settings
    from tests.e2e.setup_lab import prepare

    folder = tmp_path_factory.mktemp("lab")
    database_url = f"sqlite:///{folder / 'lims.db'}"
    with pytest.MonkeyPatch.context() as patch:
        # The set-up releases products, and each release writes an audit checkpoint.
        patch.setenv("LIMS_AUDIT_CHECKPOINT_PATH", str(folder / "audit-checkpoints.jsonl"))
        patch.setenv("LIMS_AUDIT_SIGNING_KEY_FILE", str(folder / "audit-signing-key.pem"))
        get_settings.cache_clear()
        cast = prepare(database_url)
    get_settings.cache_clear()
    port = _free_port()
    env = {**os.environ, "LIMS_DATABASE_URL": database_url, "LIMS_ENVIRONMENT": "development",
           "LIMS_PRINTER_HOST": "",
           # The lab's own audit checkpoints: each test lab starts its trail afresh.
           "LIMS_AUDIT_CHECKPOINT_PATH": str(folder / "audit-checkpoints.jsonl"),
           "LIMS_AUDIT_SIGNING_KEY_FILE": str(folder / "audit-signing-key.pem")}
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "lims.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log)
        yield Lab(url=url, database_url=database_url, subject_id=cast.subject_id,
                  mrn=cast.mrn, other_subject_id=cast.other_subject_id)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium under Playwright; the test is skipped only when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's Chromium at /usr/bin/chromium "
                    "(apt-get install -y chromium; `make test` installs it)")
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests need the playwright package (`make test`)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_bench(browser: object, lab: Lab) -> Iterator[Callable[[], Bench]]:
    """A new browser tab for each person at the bench (each its own session cookie)."""
    from tests.e2e.bench import Bench

    contexts = []

    def open_tab() -> Bench:
        context = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": 1280, "height": 900}, accept_downloads=True)
        contexts.append(context)
        return Bench(context.new_page(), lab.url)

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture
def bench(open_bench: Callable[[], Bench]) -> Bench:
    return open_bench()
