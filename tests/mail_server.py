"""A real SMTP server on 127.0.0.1 for the notification tests (aiosmtpd), and the settings
that point the LIMS at it.

`mail_server` accepts every message; `refusing_mail_server` answers 554 to every message;
`no_mail_server` points the LIMS at a port where nothing listens. tests/conftest.py loads
this module as a plugin, so every test can ask for these fixtures.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from lims.config import get_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the server received: one parsed message per delivery, in arrival order."""

    refuse: bool = False
    delay_seconds: float = 0.0
    messages: list[Message] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.refuse:
            return "554 5.7.1 message refused by policy"
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def references(self) -> list[str]:
        return [str(m["X-LIMS-Reference"]) for m in self.messages]


def point_lims_at(monkeypatch: pytest.MonkeyPatch, port: int, **more: str) -> None:
    """Settings for a plain local server (no STARTTLS, no login); cached settings reset."""
    values = {"LIMS_SMTP_HOST": "127.0.0.1", "LIMS_SMTP_PORT": str(port),
              "LIMS_SMTP_STARTTLS": "false", "LIMS_SMTP_TIMEOUT_SECONDS": "5",
              "LIMS_SMTP_FROM": "lims@lab.invalid", **more}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """Forget the cached settings after the test's environment is restored (request it
    before `monkeypatch`, so it is torn down after it)."""
    yield
    get_settings.cache_clear()


def _serve(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    point_lims_at(monkeypatch, inbox.port)
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def mail_server(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    yield from _serve(Inbox(), monkeypatch)


@pytest.fixture
def refusing_mail_server(fresh_settings: None, monkeypatch: pytest.MonkeyPatch
                         ) -> Iterator[Inbox]:
    yield from _serve(Inbox(refuse=True), monkeypatch)


@pytest.fixture
def no_mail_server(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> int:
    port = free_port()  # nothing listens there
    point_lims_at(monkeypatch, port)
    return port
