"""The message a new emergency contact gets: who added them, for whom, and a link to
opt out. Sent through the contact's own channel, after the response."""

from __future__ import annotations

import logging

import httpx

from alerts.channels import DeliveryError, OutgoingMessage, WebhookChannel
from api.mail import send_mail
from bandhub.settings import Settings

log = logging.getLogger(__name__)


async def send_contact_notice(
    settings: Settings, contact: dict, wearer: str, added_by: str, opt_out_url: str
) -> None:
    text = (
        f"{added_by} added you as an emergency contact for {wearer} on bandhub. If {wearer}'s"
        " band detects a fall or the help button is pressed, you will be alerted here."
        f" Not you, or you cannot help? Opt out: {opt_out_url}"
    )
    if contact["channel"] == "email":
        send_mail(settings, contact["address"], f"You are {wearer}'s emergency contact", text)
        return
    payload = {
        "type": "contact_added",
        "band_id": contact["band_id"],
        "wearer": wearer,
        "added_by": added_by,
        "opt_out_url": opt_out_url,
        "message": text,
    }
    message = OutgoingMessage(
        f"msg_contact_{contact['id']}_added", contact["address"], contact["secret"], payload
    )
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_s) as http:
        try:
            await WebhookChannel(http).send(message)
        except DeliveryError as exc:
            log.warning("contact %s: the 'you were added' notice failed: %s", contact["id"], exc)
