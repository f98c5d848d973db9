"""Delivery channels for alert messages. Adding one (SMS, push) means writing a class
with ``async def send(self, message: OutgoingMessage) -> None`` that raises
``DeliveryError`` on failure, and registering it in ``channels()`` under the name
stored in ``contacts.channel`` (and allowing that name in the contacts CHECK)."""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from alerts.signing import sign
from bandhub import smtp
from bandhub.settings import Settings

SUBJECTS = {
    "fall": "FALL ALERT: {who} may need help",
    "sos": "SOS: {who} pressed the help button",
    "test": "TEST (nothing happened): {who}'s alerts reach you",
    "band_silent": "No data from {who}'s band",
    "low_battery": "{who}'s band battery is low",
    "hr_high": "{who}: heart rate high while resting",
    "hr_low": "{who}: heart rate low while resting",
    "irregular_rhythm": "{who}: irregular heart rhythm",
}


class DeliveryError(RuntimeError):
    """The channel could not deliver; the dispatcher retries with backoff."""


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str  # stable across retries: receivers deduplicate on it
    address: str
    secret: str
    payload: dict


class Channel(Protocol):
    async def send(self, message: OutgoingMessage) -> None: ...


class WebhookChannel:
    """JSON POST signed per Standard Webhooks (webhook-id, -timestamp, -signature)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def send(self, message: OutgoingMessage) -> None:
        body = json.dumps(message.payload, separators=(",", ":")).encode()
        headers = sign(message.secret, message.message_id, int(time.time()), body)
        headers["content-type"] = "application/json"
        try:
            resp = await self.http.post(message.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 300:
            raise DeliveryError(f"HTTP {resp.status_code}")


class EmailChannel:
    """Plain-text e-mail over SMTP; Message-ID carries the stable message id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: OutgoingMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: OutgoingMessage) -> None:
        s = self.settings
        p = message.payload
        mail = EmailMessage()
        mail["To"] = message.address
        mail["Message-ID"] = f"<{message.message_id}@bandhub>"
        who = p["wearer"] or p["band_id"]
        if p["type"] == "alert_handled":
            mail["Subject"] = f"Handled: {who} — {p['handled_by']} is on it"
        else:
            again = "again: " if p.get("repeat") else ""
            subject = SUBJECTS.get(p["kind"], p["kind"] + ": {who}").format(who=who)
            mail["Subject"] = again + subject
        ack = p.get("ack_url")
        mail.set_content(
            "\n".join(f"{k}: {v}" for k, v in p.items() if v is not None and k != "ack_url")
            + (f'\n\nOpen to answer "I\'m on my way": {ack}\n' if ack else "\n")
        )
        try:
            smtp.send(s, mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


def channels(settings: Settings, http: httpx.AsyncClient) -> dict[str, Channel]:
    return {"webhook": WebhookChannel(http), "email": EmailChannel(settings)}
