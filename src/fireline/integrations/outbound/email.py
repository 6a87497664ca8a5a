"""Send e-mail over SMTP (the only SMTP client in Fireline; called from the worker only).

`send_email` connects with a timeout, upgrades with STARTTLS when configured (refusing to
continue in clear text if the server does not offer it), logs in when a username is set, and
raises `EmailError` on any failure so the worker retries the job. Each sending thread keeps
its connection for its next message (checked with RSET first, closed after a failure or
`IDLE_LIMIT_SECONDS` idle).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
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


# A sender thread keeps its SMTP connection for the next message (a new connection costs a TCP
# handshake, EHLO, maybe STARTTLS and AUTH: most of a message's cost to a nearby relay) unless
# it sat idle this long; servers drop idle clients after a few minutes (RFC 5321: 5).
IDLE_LIMIT_SECONDS = 30.0
_kept = threading.local()


def _connect(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_host
    smtp = smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    )
    try:
        smtp.ehlo()
        if settings.smtp_starttls:
            if not smtp.has_extn("starttls"):
                raise EmailError("the SMTP server does not offer STARTTLS")
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _key(settings: Settings) -> tuple[object, ...]:
    return (
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_starttls,
        settings.smtp_username,
        settings.smtp_password,
    )


def _connection(settings: Settings) -> smtplib.SMTP:
    """This thread's kept connection if it is for these settings and still answers RSET,
    else a new one (the old one closed)."""
    kept: tuple[tuple[object, ...], smtplib.SMTP, float] | None = getattr(_kept, "smtp", None)
    _kept.smtp = None
    if kept is not None:
        key, smtp, used = kept
        if key == _key(settings) and time.monotonic() - used < IDLE_LIMIT_SECONDS:
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                smtp.close()
            else:
                return smtp
        else:
            _close(smtp)
    return _connect(settings)


def send_email(settings: Settings, email: Email) -> None:
    """Deliver one message through `settings.smtp_*`; raise EmailError on failure. The
    connection is kept for this thread's next message and dropped after any failure."""
    if not settings.smtp_host:
        raise EmailError("SMTP is not configured (set FIRELINE_SMTP_HOST)", permanent=True)
    message = build(settings, email)
    smtp: smtplib.SMTP | None = None
    try:
        smtp = _connection(settings)
        refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        _keep(settings, smtp)  # the session is fine; only this recipient was refused
        raise EmailError(f"recipient refused: {exc.recipients}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        if smtp is not None:
            _close(smtp)
        raise EmailError(f"{type(exc).__name__}: {exc}") from exc
    _keep(settings, smtp)
    if refused:
        raise EmailError(f"recipient refused: {refused}", permanent=True)


def _keep(settings: Settings, smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        _kept.smtp = (_key(settings), smtp, time.monotonic())
