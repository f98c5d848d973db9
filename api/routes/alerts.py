"""Alerts: the list, the live stream, one alert in full, and the contacts' answers
(acknowledge, one-click link, resolve), which alerts.store carries out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from psycopg import AsyncConnection

from alerts import links
from alerts import store as alert_store
from api.db import fetch_all, fetch_one
from api.deps import BandIdFilter, DbConn, Limit, SettingsDep
from api.errors import ApiError, error_responses
from api.schemas import AckIn, AckLinkResult, AlertDetail, AlertListItem, ResolveIn

router = APIRouter(prefix="/alerts", tags=["alerts"])

_KEEP_ALIVE_S = 15  # a comment line this often keeps proxies from closing the stream


@router.get(
    "",
    response_model=list[AlertListItem],
    summary="Alerts, newest first",
    responses=error_responses(422),
)
async def list_alerts(conn: DbConn, band_id: BandIdFilter = None, limit: Limit = 100) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT id, band_id, kind, state, event_t, confidence, created_at, dispatch_at"
        " FROM alerts WHERE %s::text IS NULL OR band_id = %s ORDER BY id DESC LIMIT %s",
        (band_id, band_id, limit),
    )


@router.get(
    "/stream",
    response_class=StreamingResponse,
    summary="Live alert events (Server-Sent Events) for the companion app",
    responses={
        200: {
            "description": "`event: alert` with JSON data (id, band_id, kind, state, event_t,"
            " confidence) per new alert or state change; a comment line every 15 s",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **error_responses(422),
    },
)
async def alert_stream(settings: SettingsDep, band_id: BandIdFilter = None) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        async with await AsyncConnection.connect(
            settings.database_url, autocommit=True
        ) as listener:
            await listener.execute(f"LISTEN {alert_store.EVENTS_CHANNEL}")
            yield ": connected\n\n"
            while True:
                async for note in listener.notifies(timeout=_KEEP_ALIVE_S):
                    if band_id is None or json.loads(note.payload)["band_id"] == band_id:
                        yield f"event: alert\ndata: {note.payload}\n\n"
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def _alert_detail(conn: AsyncConnection, alert_id: int) -> dict:
    alert = await fetch_one(conn, "SELECT * FROM alerts WHERE id = %s", (alert_id,))
    if alert is None:
        raise alert_store.UnknownAlert(alert_id)
    alert["deliveries"] = await fetch_all(
        conn,
        "SELECT d.id, d.kind, d.webhook_id, c.name AS contact, d.state, d.attempts,"
        " d.last_error, d.delivered_at FROM deliveries d JOIN contacts c"
        " ON c.id = d.contact_id WHERE d.alert_id = %s ORDER BY d.id",
        (alert_id,),
    )
    alert["timeline"] = await fetch_all(
        conn,
        "SELECT at, event, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id",
        (alert_id,),
    )
    return alert


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    summary="One alert with its delivery log and timeline",
    responses=error_responses(404, 422),
)
async def get_alert(alert_id: int, conn: DbConn) -> dict:
    return await _alert_detail(conn, alert_id)


@router.post(
    "/{alert_id}/ack",
    response_model=AlertDetail,
    summary="A contact takes charge; escalation stops",
    responses=error_responses(404, 409, 422),
)
async def ack_alert(alert_id: int, ack: AckIn, conn: DbConn) -> dict:
    await alert_store.acknowledge(conn, alert_id, ack.contact_id)
    return await _alert_detail(conn, alert_id)


@router.get(
    "/{alert_id}/ack-link",
    response_model=AckLinkResult,
    summary="One-click acknowledgement from the signed link in an alert message",
    responses=error_responses(403, 404, 409, 422),
)
async def ack_link(alert_id: int, contact: int, sig: str, conn: DbConn) -> dict:
    key = await fetch_one(conn, "SELECT value FROM server_keys WHERE name = 'ack_link'")
    # a signature is hex: anything else (hmac cannot compare non-ASCII text) is forged
    if not (sig.isascii() and links.valid(key["value"], alert_id, contact, sig)):
        raise ApiError(403, "bad_signature", "this acknowledgement link is not valid")
    await alert_store.acknowledge(conn, alert_id, contact)
    alert = await fetch_one(conn, "SELECT state FROM alerts WHERE id = %s", (alert_id,))
    return {
        "message": "Thank you: the other contacts are told that you are handling it.",
        "alert_id": alert_id,
        "state": alert["state"],
    }


@router.post(
    "/{alert_id}/resolve",
    response_model=AlertDetail,
    summary="Close an alert with its outcome",
    responses=error_responses(404, 409, 422),
)
async def resolve_alert(alert_id: int, body: ResolveIn, conn: DbConn) -> dict:
    await alert_store.resolve(conn, alert_id, body.outcome)
    return await _alert_detail(conn, alert_id)
