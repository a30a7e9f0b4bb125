"""Sending ZPL to a network Zebra printer over raw TCP (port 9100, "JetDirect")."""

from __future__ import annotations

import socket
from typing import Final

DEFAULT_PORT: Final = 9100


class PrinterError(RuntimeError):
    """The printer could not be reached or did not take the whole label."""


class PrinterConnection:
    """An open connection to a Zebra, made before the print is recorded.

    Connecting is what can take seconds (a printer switched off, a wrong address); the
    caller connects before it locks anything in the database, then sends and records.
    """

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.where = f"printer {host}:{port}"
        self.timeout = timeout
        try:
            self._socket = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise self._error(exc) from exc

    def send(self, zpl: str) -> None:
        """Send `zpl` (UTF-8, as `^CI28` declares) and close; raise `PrinterError` on failure.

        Raw port 9100 has no acknowledgement: success means the printer accepted every
        byte. Whether the label came out right is checked by scanning it back.
        """
        if not zpl:
            raise ValueError("no ZPL to send")
        try:
            self._socket.sendall(zpl.encode("utf-8"))
            self._socket.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise self._error(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> PrinterConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _error(self, exc: OSError) -> PrinterError:
        if isinstance(exc, ConnectionRefusedError):
            return PrinterError(f"{self.where} refused the connection; is it on and on the "
                                f"network?")
        if isinstance(exc, TimeoutError):
            return PrinterError(f"{self.where} did not answer within {self.timeout:g} s")
        return PrinterError(f"{self.where}: {exc.strerror or exc}")


def send_zpl(host: str, port: int, zpl: str, timeout: float = 5.0) -> None:
    """Connect to the printer at `host`:`port` (normally `DEFAULT_PORT`, 9100) and send `zpl`."""
    if not zpl:
        raise ValueError("no ZPL to send")
    with PrinterConnection(host, port, timeout) as printer:
        printer.send(zpl)
