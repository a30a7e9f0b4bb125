"""Sending ZPL to a network Zebra printer over raw TCP (port 9100, "JetDirect")."""

from __future__ import annotations

import socket
from typing import Final

DEFAULT_PORT: Final = 9100


class PrinterError(RuntimeError):
    """The printer could not be reached or did not take the whole label."""


def send_zpl(host: str, port: int, zpl: str, timeout: float = 5.0) -> None:
    """Send `zpl` (UTF-8, as `^CI28` declares) and close; raise `PrinterError` on failure.

    `port` is normally `DEFAULT_PORT` (9100).
    Raw port 9100 has no acknowledgement: success means the printer accepted every
    byte. Whether the label came out right is checked by scanning it back.
    """
    if not zpl:
        raise ValueError("no ZPL to send")
    payload = zpl.encode("utf-8")
    where = f"printer {host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
    except ConnectionRefusedError as exc:
        raise PrinterError(f"{where} refused the connection; is it on and on the network?") from exc
    except TimeoutError as exc:
        raise PrinterError(f"{where} did not answer within {timeout:g} s") from exc
    except OSError as exc:
        raise PrinterError(f"{where}: {exc.strerror or exc}") from exc
