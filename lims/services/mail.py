"""Sending one e-mail by SMTP (standard library), with the LIMS_SMTP_* settings."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from lims.config import Settings


class DeliveryError(Exception):
    """The message could not be handed to the mail server; the text says why."""


def build_message(settings: Settings, *, to: str, subject: str, body: str,
                  reference: str) -> EmailMessage:
    """A plain-text message; `reference` (e.g. 'notification-12') is carried in a header
    so a delivered message can be traced to its outbox row."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=reference, domain=_domain(settings.smtp_from))
    message["X-LIMS-Reference"] = reference
    message.set_content(body)
    return message


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "lims.invalid"


def send(settings: Settings, message: EmailMessage) -> None:
    """Hand `message` to the configured mail server, or raise DeliveryError."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if not settings.smtp_host:
        raise DeliveryError("no mail server is configured: an administrator must set "
                            "LIMS_SMTP_HOST")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                          timeout=settings.smtp_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)
    except smtplib.SMTPNotSupportedError as error:
        raise DeliveryError(f"the mail server at {where} does not offer STARTTLS "
                            f"(or login): {error}") from error
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryError(f"the mail server at {where} refused the address "
                            f"{message['To']}: {_reasons(error.recipients)}") from error
    except smtplib.SMTPResponseException as error:
        text = error.smtp_error.decode(errors="replace") if isinstance(
            error.smtp_error, bytes) else str(error.smtp_error)
        raise DeliveryError(f"the mail server at {where} refused the message: "
                            f"{error.smtp_code} {text}") from error
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"the mail server at {where} could not be reached: "
                            f"{error or type(error).__name__}") from error


def _reasons(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{code} {text.decode(errors='replace')}"
                     for code, text in recipients.values())
