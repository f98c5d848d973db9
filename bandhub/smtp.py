"""One way to hand an e-mail to the configured SMTP server (alert messages, account
mail): the connection, STARTTLS and login as the settings say."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from bandhub.settings import Settings


def send(settings: Settings, mail: EmailMessage) -> None:
    """Raises OSError or smtplib.SMTPException when the server cannot take it."""
    mail["From"] = mail["From"] or settings.smtp_from
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(mail)
