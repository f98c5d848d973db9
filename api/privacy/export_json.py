"""Everything bandhub holds about a wearer, as one JSON document written as it is read
(format: docs/privacy.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from api.db import fetch_all, fetch_one
from api.privacy.snapshot import RECORD_STREAMS, SOURCES, chunks, dumps, snapshot
from api.summary import daily_summary, summary_days

FORMAT = "bandhub-export"
VERSION = 1

_SECTIONS = {  # name: (SQL with one %s for the band id)
    "contacts": "SELECT id, name, channel, address, position, quiet_start, quiet_end,"
    " opted_out_at FROM contacts WHERE band_id = %s ORDER BY position, id",
    "shares": "SELECT s.id, s.email, s.role, s.scopes, s.invited_at, s.accepted_at,"
    " s.revoked_at FROM shares s WHERE s.band_id = %s ORDER BY s.id",
    "consents": "SELECT c.id, c.grantee, c.scopes, a.email AS given_by, c.granted_at,"
    " c.revoked_at FROM consents c LEFT JOIN accounts a ON a.id = c.given_by"
    " WHERE c.band_id = %s ORDER BY c.id",
    "audit_log": "SELECT l.id, l.at, a.email AS who, l.actor, l.action, l.detail, l.client_ip"
    " FROM audit_log l LEFT JOIN accounts a ON a.id = l.account_id WHERE l.band_id = %s"
    " ORDER BY l.id",
}


async def export_json(database_url: str, band_id: str) -> AsyncIterator[str]:
    async with snapshot(database_url) as conn:
        band = await fetch_one(
            conn,
            "SELECT b.band_id, b.name, b.registered_at, b.claimed_at, b.last_seen,"
            " b.fall_countdown_s, b.time_zone, b.height_cm, b.weight_kg, b.birth_year, b.sex,"
            " b.step_goal, b.sleep_goal_min, o.name AS organisation, a.email AS owner_email,"
            " a.display_name AS owner_name FROM bands b"
            " LEFT JOIN accounts a ON a.id = b.owner_id"
            " LEFT JOIN organisations o ON o.id = b.org_id WHERE b.band_id = %s",
            (band_id,),
        )
        head = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": dt.datetime.now(dt.UTC),
            "wearer": band,
        }
        yield dumps(head)[:-1]  # the object stays open for the sections that follow
        for name, sql in _SECTIONS.items():
            yield f',"{name}":' + dumps(await fetch_all(conn, sql, (band_id,)))
        yield ',"alerts":' + dumps(await _alerts(conn, band_id))
        yield ',"daily_summaries":['
        days = await summary_days(conn, band_id)
        for i, row in enumerate(days):
            yield ("," if i else "") + dumps(await daily_summary(conn, band_id, row, store=False))
        yield '],"records":{'
        for i, (stream, columns) in enumerate(RECORD_STREAMS.items()):
            yield ("," if i else "") + f'"{stream}":['
            first = True
            source = SOURCES.get(stream, stream)
            sql = f"SELECT {columns} FROM {source} WHERE band_id = %s ORDER BY t, seq"
            async for rows in chunks(conn, sql, (band_id,)):
                body = ",".join(dumps(r) for r in rows)
                yield ("" if first else ",") + body
                first = False
            yield "]"
        yield "}}"


async def _alerts(conn, band_id: str) -> list[dict]:
    alerts = await fetch_all(
        conn,
        "SELECT id, kind, state, event_t, confidence, created_at, dispatch_at, details,"
        " acknowledged_at, resolved_at, outcome FROM alerts WHERE band_id = %s ORDER BY id",
        (band_id,),
    )
    for alert in alerts:
        alert["deliveries"] = await fetch_all(
            conn,
            "SELECT d.kind, c.name AS contact, d.state, d.attempts, d.delivered_at"
            " FROM deliveries d JOIN contacts c ON c.id = d.contact_id"
            " WHERE d.alert_id = %s ORDER BY d.id",
            (alert["id"],),
        )
        alert["timeline"] = await fetch_all(
            conn,
            "SELECT at, event, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id",
            (alert["id"],),
        )
    return alerts
