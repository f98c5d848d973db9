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

from bandhub.alerts.channels import DeliveryError, OutgoingMessage, channels
from bandhub.alerts.links import ack_url
from bandhub.settings import Settings
from ingest.writer import ALERT_CHANNEL

log = logging.getLogger(__name__)

_MAX_WAIT_S = 5.0
_BACKOFF_CAP_S = 60.0

_DUE = """
 d.state = 'pending' AND d.next_attempt_at <= now()
 AND (d.kind = 'handled' OR (a.state IN ('pending', 'dispatched') AND a.dispatch_at <= now()))
"""
_CLAIM = f"""
SELECT d.id, d.webhook_id, d.attempts, d.kind, c.id, c.channel, c.address, c.secret, c.name,
       a.id, a.band_id, a.kind, a.event_t, a.confidence, b.name,
       (SELECT name FROM contacts WHERE id = a.acknowledged_by), a.details
  FROM deliveries d
  JOIN alerts a ON a.id = d.alert_id
  JOIN contacts c ON c.id = d.contact_id
  JOIN bands b ON b.band_id = a.band_id
 WHERE {_DUE}
 ORDER BY d.next_attempt_at
 LIMIT 1
 FOR UPDATE OF d SKIP LOCKED
"""


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
        async with conn.transaction():
            row = await (
                await conn.execute(
                    "UPDATE alerts SET repeats = repeats + 1,"
                    " next_repeat_at = now() + make_interval(secs => %s)"
                    " WHERE id = (SELECT id FROM alerts WHERE state = 'dispatched'"
                    "   AND next_repeat_at <= now() ORDER BY next_repeat_at LIMIT 1"
                    "   FOR UPDATE SKIP LOCKED) RETURNING id, band_id, repeats",
                    (self.settings.alert_repeat_s,),
                )
            ).fetchone()
            if row is None:
                return False
            alert_id, band_id, n = row
            await conn.execute(
                "INSERT INTO deliveries (alert_id, contact_id, webhook_id, kind)"
                " SELECT %s, id, 'msg_' || %s || '_' || id || '_r' || %s, 'repeat'"
                " FROM contacts WHERE band_id = %s",
                (alert_id, alert_id, n, band_id),
            )
            await conn.execute(
                "INSERT INTO alert_timeline (alert_id, event, detail)"
                " VALUES (%s, 'repeat', jsonb_build_object('round', %s::int))",
                (alert_id, n),
            )
            log.warning(
                "alert %s unacknowledged: alerting all contacts again (round %s)", alert_id, n
            )
            return True

    async def _wait(self, listener, conn, stop: asyncio.Event) -> None:
        """Sleep until a NOTIFY, the next due delivery, or stop; whichever comes first."""
        row = await (
            await conn.execute(
                "SELECT EXTRACT(EPOCH FROM min(CASE WHEN d.kind = 'handled'"
                " THEN d.next_attempt_at ELSE GREATEST(d.next_attempt_at, a.dispatch_at) END)"
                " - now()) FROM deliveries d JOIN alerts a ON a.id = d.alert_id"
                " WHERE d.state = 'pending'"
                " AND (d.kind = 'handled' OR a.state IN ('pending', 'dispatched'))"
                " UNION ALL SELECT EXTRACT(EPOCH FROM min(next_repeat_at) - now()) FROM alerts"
                " WHERE state = 'dispatched' AND next_repeat_at IS NOT NULL ORDER BY 1 LIMIT 1"
            )
        ).fetchone()
        await conn.commit()
        wait = _MAX_WAIT_S if row[0] is None else min(max(float(row[0]), 0.0), _MAX_WAIT_S)
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
            row = await (await conn.execute(_CLAIM)).fetchone()
            if row is None:
                return False
            (d_id, webhook_id, attempts, message_kind, contact_id, channel, address, secret,
             contact, alert_id, band_id, kind, event_t, confidence, wearer, handled_by,
             details) = row  # fmt: skip
            last = await (
                await conn.execute(
                    "SELECT (SELECT bpm FROM hr WHERE band_id = %s ORDER BY t DESC LIMIT 1),"
                    " (SELECT level FROM battery WHERE band_id = %s ORDER BY t DESC LIMIT 1),"
                    " (SELECT g.location FROM bands b JOIN gateways g"
                    "   ON g.gateway_id = b.last_gateway_id WHERE b.band_id = %s)",
                    (band_id, band_id, band_id),
                )
            ).fetchone()
            payload = {
                "type": "alert_handled" if message_kind == "handled" else "alert",
                "repeat": message_kind == "repeat",
                "handled_by": handled_by,
                "kind": kind,
                "alert_id": alert_id,
                "band_id": band_id,
                "wearer": wearer,
                "contact": contact,
                "at": event_t.isoformat(),
                "confidence": confidence,
                "last_heart_rate_bpm": last[0],
                "battery_percent": last[1],
                "gateway_location": last[2],
                "details": details or None,
                "ack_url": None
                if message_kind == "handled" or kind != "fall"
                else ack_url(self.public_url, self._link_key, alert_id, contact_id),
            }
            error = None
            try:
                await self._channels[channel].send(
                    OutgoingMessage(webhook_id, address, secret, payload)
                )
            except DeliveryError as exc:
                error = str(exc)
            if error is None:
                await conn.execute(
                    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,"
                    " delivered_at = now(), last_error = NULL WHERE id = %s",
                    (d_id,),
                )
                self.sent += 1
                log.info("alert %s delivered to %s (%s)", alert_id, contact, webhook_id)
            else:
                delay = min(_BACKOFF_CAP_S, 2.0**attempts)
                await conn.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, last_error = %s,"
                    " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                    (error, delay, d_id),
                )
                log.warning(
                    "alert %s to %s failed: %s (retry in %.0f s)", alert_id, contact, error, delay
                )
            if message_kind != "handled":
                await conn.execute(
                    "UPDATE alerts SET state = 'dispatched' WHERE id = %s AND state = 'pending'",
                    (alert_id,),
                )
            await conn.execute(
                "INSERT INTO alert_timeline (alert_id, event, detail) VALUES (%s, 'delivery',"
                " jsonb_strip_nulls(jsonb_build_object('message_id', %s::text, 'contact', %s::text,"
                " 'channel', %s::text, 'attempt', %s::int, 'ok', %s::bool, 'error', %s::text)))",
                (alert_id, webhook_id, contact, channel, attempts + 1, error is None, error),
            )
            return True


async def _drain(gen) -> None:
    async for _ in gen:
        pass
