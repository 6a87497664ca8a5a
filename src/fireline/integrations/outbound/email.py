"""Send e-mail over SMTP (the only SMTP client in Fireline; called from the worker only).

`send_email` opens one connection per message with a timeout, upgrades with STARTTLS when
configured (refusing to continue in clear text if the server does not offer it), logs in when
a username is set, and raises `EmailError` on any failure so the worker retries the job.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from fireline.config import Settings


class EmailError(Exception):
    """Sending failed (connection, TLS, authentication or recipient refused)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    message_id: str | None = None


def build(settings: Settings, email: Email) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    domain = settings.smtp_from.rsplit("@", 1)[-1] or "fireline"
    message["Message-ID"] = make_msgid(idstring=email.message_id, domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def send_email(settings: Settings, email: Email) -> None:
    """Deliver one message through `settings.smtp_*`; raise EmailError on failure."""
    if not settings.smtp_host:
        raise EmailError("SMTP is not configured (set FIRELINE_SMTP_HOST)", permanent=True)
    message = build(settings, email)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                if not smtp.has_extn("starttls"):
                    raise EmailError("the SMTP server does not offer STARTTLS")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise EmailError(f"recipient refused: {exc.recipients}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise EmailError(f"{type(exc).__name__}: {exc}") from exc
    if refused:
        raise EmailError(f"recipient refused: {refused}", permanent=True)
