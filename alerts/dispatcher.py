"""Deliver alert outbox rows: claim with SKIP LOCKED, send, record, retry with backoff.

Woken by LISTEN/NOTIFY when ingest opens an alert, and otherwise only when the next
delivery falls due (countdown end, retry time): no busy polling. A row stays locked
while it is sent, so two dispatchers never send the same delivery at once; a
dispatcher killed mid-send rolls back and the delivery is sent again later with the
same ``webhook-id``, which receivers use to drop the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
import psycopg

from alerts import store
from alerts.channels import DeliveryError, OutgoingMessage, channels
from alerts.links import ack_url
from alerts.store import ALERT_CHANNEL
from bandhub.settings import Settings

log = logging.getLogger(__name__)

_MAX_WAIT_S = 5.0
ONE_CLICK_KINDS = ("fall", "sos")  # messages with the one-click acknowledgement link
_BACKOFF_CAP_S = 60.0


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database_url = settings.database_url
        self.sent = 0
        self.public_url = (
            settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}"
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._serve(stop)
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("dispatcher lost the database (%s); reconnecting", exc)
                await asyncio.sleep(1.0)

    async def _serve(self, stop: asyncio.Event) -> None:
        async with (
            await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as listener,
            await psycopg.AsyncConnection.connect(self.database_url) as conn,
            httpx.AsyncClient(timeout=self.settings.webhook_timeout_s) as http,
        ):
            self._channels = channels(self.settings, http)
            key = await (
                await conn.execute("SELECT value FROM server_keys WHERE name = 'ack_link'")
            ).fetchone()
            await conn.commit()
            self._link_key = key[0]
            await listener.execute(f"LISTEN {ALERT_CHANNEL}")
            while not stop.is_set():
                while await self._repeat_one(conn):
                    pass
                while await self._deliver_one(conn):
                    pass
                await self._wait(listener, conn, stop)

    async def _repeat_one(self, conn: psycopg.AsyncConnection) -> bool:
        """Everyone has been alerted and nobody acknowledged: alert all contacts again."""
        if self.settings.alert_repeat_s <= 0:
            return False
        repeated = await store.repeat_due(conn, self.settings.alert_repeat_s)
        if repeated is None:
            return False
        log.warning("alert %s unacknowledged: alerting all contacts again (round %s)", *repeated)
        return True

    async def _wait(self, listener, conn, stop: asyncio.Event) -> None:
        """Sleep until a NOTIFY, the next due delivery, or stop; whichever comes first."""
        due_in = await store.seconds_until_due(conn)
        await conn.commit()
        wait = _MAX_WAIT_S if due_in is None else min(max(due_in, 0.0), _MAX_WAIT_S)
        if wait <= 0:
            return
        gen = listener.notifies(timeout=wait, stop_after=1)
        stopper = asyncio.ensure_future(stop.wait())
        notified = asyncio.ensure_future(_drain(gen))
        await asyncio.wait([stopper, notified], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        notified.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await notified

    async def _deliver_one(self, conn: psycopg.AsyncConnection) -> bool:
        async with conn.transaction():
            d = await store.claim_due(conn)
            if d is None:
                return False
            error = None
            try:
                await self._channels[d.channel].send(
                    OutgoingMessage(d.webhook_id, d.address, d.secret, self._payload(d))
                )
            except DeliveryError as exc:
                error = str(exc)
            delay = min(_BACKOFF_CAP_S, 2.0**d.attempts)
            await store.record_attempt(conn, d, error, delay)
        if error is None:
            self.sent += 1
            log.info("alert %s delivered to %s (%s)", d.alert_id, d.contact, d.webhook_id)
        else:
            log.warning(
                "alert %s to %s failed: %s (retry in %.0f s)", d.alert_id, d.contact, error, delay
            )
        return True

    def _payload(self, d: store.DueDelivery) -> dict:
        """The message body every channel sends (docs/alerts.md)."""
        return {
            "type": "alert_handled" if d.message_kind == "handled" else "alert",
            "repeat": d.message_kind == "repeat",
            "handled_by": d.handled_by,
            "kind": d.kind,
            "alert_id": d.alert_id,
            "band_id": d.band_id,
            "wearer": d.wearer,
            "contact": d.contact,
            "at": d.event_t.isoformat(),
            "confidence": d.confidence,
            "last_heart_rate_bpm": d.last_heart_rate_bpm,
            "battery_percent": d.battery_percent,
            "gateway_location": d.gateway_location,
            "details": d.details or None,
            "ack_url": None
            if d.message_kind == "handled" or d.kind not in ONE_CLICK_KINDS
            else ack_url(self.public_url, self._link_key, d.alert_id, d.contact_id),
        }


async def _drain(gen) -> None:
    async for _ in gen:
        pass
