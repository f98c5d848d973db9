"""E-mail to account holders (address verification, password reset, invitations).

Sent in the background after the response; a mail server that is down is logged and
never turns a request into an error (the user can ask again)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from bandhub import smtp
from bandhub.settings import Settings

log = logging.getLogger(__name__)


def public_url(settings: Settings) -> str:
    return (settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}").rstrip(
        "/"
    )


def send_mail(settings: Settings, to: str, subject: str, body: str) -> bool:
    mail = EmailMessage()
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    try:
        smtp.send(settings, mail)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send %r to %s: %s", subject, to, exc)
        return False
