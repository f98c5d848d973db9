"""The alert lifecycle's one owner: every state transition, the ids and the channel.

An alert moves ``pending`` (a fall's countdown; an SOS has none) -> ``dispatched``
-> ``acknowledged`` -> ``resolved``; a fall may instead end ``cancelled_by_wearer``, and a sedentary
reminder is born ``band_reminded``. Each alert has one ``deliveries`` row per contact
and message (the outbox the dispatcher sends). Nothing outside this module writes
those two tables; triggers add the timeline and the live events (migrations 005/006).

Ingest and the monitor call the synchronous functions inside their own transaction
(an alert is never stored without its deliveries); the API and the dispatcher call
the ``async`` ones.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import tuple_row

ALERT_CHANNEL = "bandhub_alerts"  # NOTIFY'd when deliveries may have become due
EVENTS_CHANNEL = "bandhub_alert_events"  # JSON per new alert or state change (a trigger)

Outcome = Literal["ok", "needed_help", "false_alarm"]


def webhook_id_sql(alert: str, contact: str, suffix: str = "") -> str:
    """SQL for a delivery's ``webhook-id``: ``msg_<alert>_<contact>[_<suffix>]``.

    Receivers drop a message whose id they have seen, so the id of one message to one
    contact must stay the same across re-sends and differ between messages."""
    tail = f" || '_' || {suffix}" if suffix else ""
    return f"'msg_' || {alert} || '_' || {contact}{tail}"


_HANDLED_ID = webhook_id_sql("alert_id", "contact_id", "'handled'")
_REPEAT_ID = webhook_id_sql("%s", "id", "'r' || %s")  # params: alert id, round

# the next end of a contact's quiet window, in the wearer's local time (the window may
# wrap midnight; a daylight-saving change moves it with the clocks)
_ZONE = "(SELECT b.time_zone FROM bands b WHERE b.band_id = c.band_id)"
_LOCAL_NOW = f"(now() AT TIME ZONE {_ZONE})"
_QUIET_HOURS_END = f"""
CASE WHEN c.quiet_start IS NULL OR NOT (CASE
    WHEN c.quiet_start <= c.quiet_end
    THEN {_LOCAL_NOW}::time >= c.quiet_start AND {_LOCAL_NOW}::time < c.quiet_end
    ELSE {_LOCAL_NOW}::time >= c.quiet_start OR {_LOCAL_NOW}::time < c.quiet_end END)
  THEN now()
  ELSE ((date_trunc('day', {_LOCAL_NOW}) + c.quiet_end
         + CASE WHEN c.quiet_end <= {_LOCAL_NOW}::time
                THEN interval '1 day' ELSE interval '0' END) AT TIME ZONE {_ZONE})
END
"""


class AlertError(Exception):
    """A transition that is not allowed; ``code`` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownAlert(AlertError):
    def __init__(self, alert_id: int) -> None:
        super().__init__("unknown_alert", f"no alert {alert_id}")


class UnknownContact(AlertError):
    def __init__(self, contact_id: int) -> None:
        super().__init__("unknown_contact", f"contact {contact_id} is not this wearer's")


class WrongState(AlertError):
    """409: the alert is in a state where this transition makes no sense."""


@dataclass(frozen=True)
class OpenedAlert:
    """An alert a band record raised (a fall, or the help button)."""

    band_id: str
    alert_id: int
    kind: str
    countdown_s: float  # until contacts are alerted (for a fall the band asks "Are you OK?")


# --- opened by ingest and the monitor (synchronous, inside the caller's transaction) ---


def open_fall(
    conn: psycopg.Connection,
    band_id: str,
    seq: int,
    t: dt.datetime,
    confidence: float,
    *,
    countdown_s: float,
    escalation_s: float,
    repeat_s: float,
) -> OpenedAlert | None:
    """A confirmed fall: a pending alert whose countdown is the wearer's own (or
    ``countdown_s``), so "I'm OK" can still cancel it. None when this fall already
    has its alert."""
    return _open_band_event(
        conn, band_id, "fall", seq, t, confidence, countdown_s, escalation_s, repeat_s,
        wearers_countdown=True,
    )  # fmt: skip


def open_sos(
    conn: psycopg.Connection,
    band_id: str,
    seq: int,
    t: dt.datetime,
    *,
    escalation_s: float,
    repeat_s: float,
) -> OpenedAlert | None:
    """The band's help button (a long press): the wearer asked for help, so there is
    no countdown; contacts are alerted at once, escalated and repeated like a fall."""
    return _open_band_event(
        conn, band_id, "sos", seq, t, None, 0.0, escalation_s, repeat_s, wearers_countdown=False
    )


def _open_band_event(
    conn: psycopg.Connection,
    band_id: str,
    kind: str,
    seq: int,
    t: dt.datetime,
    confidence: float | None,
    countdown_s: float,
    escalation_s: float,
    repeat_s: float,
    *,
    wearers_countdown: bool,
) -> OpenedAlert | None:
    """An alert raised by one band record (unique per band, kind and record ``seq``),
    and its contacts' deliveries in their order, each an escalation delay after the
    previous one, from the end of the countdown."""
    countdown = "COALESCE(fall_countdown_s, %s)" if wearers_countdown else "%s::real"
    row = conn.execute(
        f"WITH b AS (SELECT {countdown} AS countdown,"
        "   (SELECT count(*) FROM contacts WHERE band_id = %s AND opted_out_at IS NULL)"
        "   AS contacts"
        "   FROM bands WHERE band_id = %s)"
        " INSERT INTO alerts (band_id, kind, state, event_t, fall_seq, confidence,"
        "   dispatch_at, next_repeat_at)"
        " SELECT %s, %s, 'pending', %s, %s, %s, now() + make_interval(secs => countdown),"
        "   CASE WHEN %s > 0 AND contacts > 0 THEN now() + make_interval(secs =>"
        "     countdown + %s * (contacts - 1) + %s) END"
        " FROM b ON CONFLICT DO NOTHING RETURNING id, EXTRACT(EPOCH FROM dispatch_at - now())",
        (countdown_s, band_id, band_id, band_id, kind, t, seq, confidence,
         repeat_s, escalation_s, repeat_s),
    ).fetchone()  # fmt: skip
    if row is None:
        return None
    alert_id = row[0]
    _deliver_to_contacts(
        conn,
        alert_id,
        band_id,
        "a.dispatch_at + make_interval(secs => %s"
        " * (row_number() OVER (ORDER BY c.position, c.id) - 1))",
        (escalation_s,),
    )
    return OpenedAlert(band_id, alert_id, kind, max(float(row[1]), 0.0))


def cancel_by_wearer(conn: psycopg.Connection, band_id: str) -> list[int]:
    """ "I'm OK" on the band before the countdown ends: its pending falls are cancelled
    and nobody is alerted. Returns the cancelled alerts."""
    cancelled = [
        r[0]
        for r in conn.execute(
            "UPDATE alerts SET state = 'cancelled_by_wearer' WHERE band_id = %s"
            " AND state = 'pending' AND dispatch_at > now() RETURNING id",
            (band_id,),
        ).fetchall()
    ]
    if cancelled:
        conn.execute(
            "UPDATE deliveries SET state = 'cancelled'"
            " WHERE alert_id = ANY(%s) AND state = 'pending'",
            (cancelled,),
        )
    return cancelled


def open_rule_alert(
    conn: psycopg.Connection,
    band_id: str,
    kind: str,
    details: dict,
    *,
    rate_window_s: float,
    notify_contacts: bool = True,
) -> int | None:
    """A non-fall alert (silent band, battery, heart rate, rhythm, sedentary), at most
    once per band and kind within ``rate_window_s``. Contacts in quiet hours get it when
    their window ends. A reminder for the wearer only (``notify_contacts=False``) is
    stored as ``band_reminded`` with no deliveries. None when rate-limited."""
    state = "dispatched" if notify_contacts else "band_reminded"
    row = conn.execute(
        "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at, details)"
        " SELECT %s, %s, %s, now(), now(), %s WHERE NOT EXISTS (SELECT 1 FROM alerts a"
        "   WHERE a.band_id = %s AND a.kind = %s"
        "   AND a.created_at > now() - make_interval(secs => %s))"
        " RETURNING id",
        (band_id, kind, state, json.dumps(details), band_id, kind, rate_window_s),
    ).fetchone()
    if row is None:
        return None
    if notify_contacts:
        _deliver_to_contacts(conn, row[0], band_id, _QUIET_HOURS_END, ())
    return row[0]


def _deliver_to_contacts(
    conn: psycopg.Connection, alert_id: int, band_id: str, not_before_sql: str, params: tuple
) -> None:
    """One outbox row per contact of the band, due at ``not_before_sql`` (may use ``c``
    for the contact and ``a`` for the alert), and a wake-up for the dispatchers."""
    conn.execute(_deliveries_sql(not_before_sql), (*params, alert_id, band_id))
    conn.execute(f"NOTIFY {ALERT_CHANNEL}")


def _deliveries_sql(not_before_sql: str) -> str:
    """Params: those of ``not_before_sql``, the alert id, the band id. Contacts who
    opted out get nothing."""
    return (
        "INSERT INTO deliveries (alert_id, contact_id, webhook_id, next_attempt_at)"
        f" SELECT a.id, c.id, {webhook_id_sql('a.id', 'c.id')}, {not_before_sql}"
        " FROM contacts c JOIN alerts a ON a.id = %s"
        " WHERE c.band_id = %s AND c.opted_out_at IS NULL"
    )


async def open_test(conn: AsyncConnection, band_id: str) -> int:
    """The owner's test alert: every contact gets a message marked as a test at once;
    no escalation, no repeats."""
    async with conn.transaction():
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(
            "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at, details)"
            " VALUES (%s, 'test', 'dispatched', now(), now(), %s) RETURNING id",
            (band_id, json.dumps({"test": True})),
        )
        (alert_id,) = await cur.fetchone()
        await conn.execute(_deliveries_sql("now()"), (alert_id, band_id))
        await conn.execute(f"NOTIFY {ALERT_CHANNEL}")
    return alert_id


# --- the people: acknowledge and resolve (the API) -----------------------------------


async def acknowledge(
    conn: AsyncConnection,
    alert_id: int,
    contact_id: int | None = None,
    *,
    account_id: int | None = None,
) -> None:
    """A contact (through their link) or a signed-in person takes charge. The first
    acknowledgement wins: the escalation stops and the contacts already alerted are
    told; a second one changes nothing."""
    async with conn.transaction():
        # tuple rows whatever the connection's row factory (the API's gives dicts)
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT band_id, state FROM alerts WHERE id = %s FOR UPDATE", (alert_id,))
        alert = await cur.fetchone()
        if alert is None:
            raise UnknownAlert(alert_id)
        band_id, state = alert
        if contact_id is not None:
            cur = await conn.execute(
                "SELECT 1 FROM contacts WHERE id = %s AND band_id = %s", (contact_id, band_id)
            )
            if await cur.fetchone() is None:
                raise UnknownContact(contact_id)
        if state in ("pending", "cancelled_by_wearer", "resolved"):
            raise WrongState("not_acknowledgeable", f"alert {alert_id} is {state}")
        if state != "dispatched":
            return  # already acknowledged
        await conn.execute(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s,"
            " acknowledged_by_account = %s, acknowledged_at = now() WHERE id = %s",
            (contact_id, account_id, alert_id),
        )
        await _stop_pending(conn, alert_id)
        await conn.execute(
            "INSERT INTO deliveries (alert_id, contact_id, webhook_id, kind)"
            " SELECT DISTINCT ON (contact_id) alert_id, contact_id,"
            f"   {_HANDLED_ID}, 'handled'"
            " FROM deliveries WHERE alert_id = %s AND kind IN ('alert', 'repeat')"
            " AND state = 'delivered' AND contact_id IS DISTINCT FROM %s",
            (alert_id, contact_id),
        )
        await conn.execute(f"NOTIFY {ALERT_CHANNEL}")


async def resolve(conn: AsyncConnection, alert_id: int, outcome: Outcome) -> None:
    """Close an alert with what happened; deliveries still waiting are not needed."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE alerts SET state = 'resolved', outcome = %s, resolved_at = now()"
            " WHERE id = %s AND state <> 'resolved' RETURNING id",
            (outcome, alert_id),
        )
        if await cur.fetchone() is None:
            cur = await conn.execute("SELECT 1 FROM alerts WHERE id = %s", (alert_id,))
            if await cur.fetchone() is None:
                raise UnknownAlert(alert_id)
            raise WrongState("already_resolved", f"alert {alert_id} is already resolved")
        await _stop_pending(conn, alert_id)


async def _stop_pending(conn: AsyncConnection, alert_id: int) -> None:
    await conn.execute(
        "UPDATE deliveries SET state = 'not_needed' WHERE alert_id = %s AND state = 'pending'",
        (alert_id,),
    )


# --- the dispatcher: repeats, claiming a due delivery and recording how it went -------


async def repeat_due(conn: AsyncConnection, repeat_s: float) -> tuple[int, int] | None:
    """Everyone has been alerted and nobody acknowledged: all contacts again (one
    alert per call). Returns (alert id, round) or None when nothing is due."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE alerts SET repeats = repeats + 1,"
            " next_repeat_at = now() + make_interval(secs => %s)"
            " WHERE id = (SELECT id FROM alerts WHERE state = 'dispatched'"
            "   AND next_repeat_at <= now() ORDER BY next_repeat_at LIMIT 1"
            "   FOR UPDATE SKIP LOCKED) RETURNING id, band_id, repeats",
            (repeat_s,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        alert_id, band_id, n = row
        await conn.execute(
            "INSERT INTO deliveries (alert_id, contact_id, webhook_id, kind)"
            f" SELECT %s, id, {_REPEAT_ID}, 'repeat'"
            " FROM contacts WHERE band_id = %s AND opted_out_at IS NULL",
            (alert_id, alert_id, n, band_id),
        )
        await conn.execute(
            "INSERT INTO alert_timeline (alert_id, event, detail)"
            " VALUES (%s, 'repeat', jsonb_build_object('round', %s::int))",
            (alert_id, n),
        )
        return alert_id, n


_DUE = """
 d.state = 'pending' AND d.next_attempt_at <= now()
 AND (d.kind = 'handled' OR (a.state IN ('pending', 'dispatched') AND a.dispatch_at <= now()))
"""
_CLAIM = f"""
SELECT d.id, d.webhook_id, d.attempts, d.kind, c.id, c.channel, c.address, c.secret, c.name,
       a.id, a.band_id, a.kind, a.event_t, a.confidence, b.name,
       COALESCE((SELECT name FROM contacts WHERE id = a.acknowledged_by),
                (SELECT COALESCE(NULLIF(display_name, ''), email) FROM accounts
                  WHERE id = a.acknowledged_by_account)), a.details
  FROM deliveries d
  JOIN alerts a ON a.id = d.alert_id
  JOIN contacts c ON c.id = d.contact_id
  JOIN bands b ON b.band_id = a.band_id
 WHERE {_DUE}
 ORDER BY d.next_attempt_at
 LIMIT 1
 FOR UPDATE OF d SKIP LOCKED
"""


@dataclass(frozen=True)
class DueDelivery:
    """One outbox row, locked by the claiming transaction until it is recorded."""

    id: int
    webhook_id: str
    attempts: int
    message_kind: str  # alert, repeat or handled
    contact_id: int
    channel: str
    address: str
    secret: str
    contact: str
    alert_id: int
    band_id: str
    kind: str
    event_t: dt.datetime
    confidence: float | None
    wearer: str
    handled_by: str | None
    details: dict | None
    last_heart_rate_bpm: int | None
    battery_percent: int | None
    gateway_location: dict | None


async def claim_due(conn: AsyncConnection) -> DueDelivery | None:
    """Lock the delivery due first (``SKIP LOCKED``: dispatchers never send the same
    one at once). Call inside a transaction that ends after ``record_attempt``."""
    row = await (await conn.execute(_CLAIM)).fetchone()
    if row is None:
        return None
    band_id = row[10]
    latest = await (
        await conn.execute(
            "SELECT (SELECT bpm FROM hr_last(%s, 'infinity')),"
            " (SELECT level FROM battery WHERE band_id = %s ORDER BY t DESC LIMIT 1),"
            " (SELECT g.location FROM bands b JOIN gateways g"
            "   ON g.gateway_id = b.last_gateway_id WHERE b.band_id = %s)",
            (band_id, band_id, band_id),
        )
    ).fetchone()
    return DueDelivery(*row, *latest)


async def record_attempt(
    conn: AsyncConnection, d: DueDelivery, error: str | None, retry_in_s: float
) -> None:
    """How a send went: delivered, or retried after ``retry_in_s``. The first contact
    message moves the alert to ``dispatched``; every attempt goes on the timeline."""
    if error is None:
        await conn.execute(
            "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,"
            " delivered_at = now(), last_error = NULL WHERE id = %s",
            (d.id,),
        )
    else:
        await conn.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
            (error, retry_in_s, d.id),
        )
    if d.message_kind != "handled":
        await conn.execute(
            "UPDATE alerts SET state = 'dispatched' WHERE id = %s AND state = 'pending'",
            (d.alert_id,),
        )
    await conn.execute(
        "INSERT INTO alert_timeline (alert_id, event, detail) VALUES (%s, 'delivery',"
        " jsonb_strip_nulls(jsonb_build_object('message_id', %s::text, 'contact', %s::text,"
        " 'channel', %s::text, 'attempt', %s::int, 'ok', %s::bool, 'error', %s::text)))",
        (d.alert_id, d.webhook_id, d.contact, d.channel, d.attempts + 1, error is None, error),
    )


async def seconds_until_due(conn: AsyncConnection) -> float | None:
    """Until the next delivery or repeat falls due (negative: overdue); None: nothing."""
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
    return None if row[0] is None else float(row[0])
