"""Sending ZPL to a printer over raw TCP, against a listener on this machine."""

from __future__ import annotations

import socket
import threading

import pytest

from labels import PrinterError, render_zpl, send_zpl
from tests.unit.label_support import make_label


class Listener:
    """A stand-in printer on an ephemeral port that records what it receives."""

    def __init__(self, *, read: bool = True) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, args=(read,), daemon=True)
        self.thread.start()

    def _serve(self, read: bool) -> None:
        connection, _ = self.server.accept()
        self.connections.append(connection)
        if not read:
            return
        with connection:
            while chunk := connection.recv(65536):
                self.received += chunk

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self.server.close()
        self.thread.join(timeout=5)


def test_the_printer_receives_the_label_byte_for_byte():
    listener = Listener()
    zpl = render_zpl(make_label(patient_name="Zoë ÖZTÜRK"))
    try:
        send_zpl("127.0.0.1", listener.port, zpl)
        listener.thread.join(timeout=5)
    finally:
        listener.close()

    assert bytes(listener.received) == zpl.encode("utf-8")


def test_a_printer_that_refuses_the_connection_raises_a_clear_printer_error():
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    with pytest.raises(PrinterError, match=f"127.0.0.1:{port} refused the connection"):
        send_zpl("127.0.0.1", port, "^XA^XZ")


def test_a_printer_that_stops_reading_raises_a_timeout_printer_error():
    listener = Listener(read=False)
    flood = "^XA^FX" + "x" * (64 * 1024 * 1024) + "^FS^XZ"  # more than any socket buffer
    try:
        with pytest.raises(PrinterError, match=r"did not answer within 0\.5 s"):
            send_zpl("127.0.0.1", listener.port, flood, timeout=0.5)
    finally:
        listener.close()


def test_sending_nothing_is_refused_before_connecting():
    with pytest.raises(ValueError, match="no ZPL"):
        send_zpl("127.0.0.1", 9, "")
