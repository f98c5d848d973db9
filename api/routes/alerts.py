"""Alerts: the list, the live stream, one alert in full, and the contacts' answers
(acknowledge, one-click link, resolve), which alerts.store carries out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from psycopg import AsyncConnection

from alerts import links
from alerts import store as alert_store
from api import ack_page
from api.db import fetch_all, fetch_one
from api.deps import MAX_ID, BandIdFilter, DbConn, IdPath, Limit, SettingsDep
from api.errors import ApiError, error_responses
from api.schemas import AckIn, AckLinkResult, AlertDetail, AlertListItem, ResolveIn
from api.security.access import Principal, Scope, band_roles, visible_bands_sql
from api.security.policy import Anyone, BandAccess, OnAlert, SignedIn

router = APIRouter(prefix="/alerts", tags=["alerts"])
Me = Annotated[Principal, Depends(SignedIn())]
Handler = Annotated[BandAccess, Depends(OnAlert(Scope.ALERTS))]

_KEEP_ALIVE_S = 15  # a comment line this often keeps proxies from closing the stream


@router.get(
    "",
    response_model=list[AlertListItem],
    summary="Alerts of the bands whose alerts you handle, newest first",
    responses=error_responses(401, 422),
)
async def list_alerts(
    me: Me, conn: DbConn, band_id: BandIdFilter = None, limit: Limit = 100
) -> list[dict]:
    visible, params = visible_bands_sql(me, Scope.ALERTS)
    return await fetch_all(
        conn,
        "SELECT id, band_id, kind, state, event_t, confidence, created_at, dispatch_at"
        f" FROM alerts WHERE {visible} AND (%(band)s::text IS NULL OR band_id = %(band)s)"
        " ORDER BY id DESC LIMIT %(limit)s",
        {**params, "band": band_id, "limit": limit},
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
        **error_responses(401, 422),
    },
)
async def alert_stream(
    me: Me, settings: SettingsDep, band_id: BandIdFilter = None
) -> StreamingResponse:
    """Only the caller's alerts: each event's band is checked when it happens, so a share
    granted or revoked while the stream is open counts at once; a stream whose session
    ended (sign-out, password change) closes at its next keep-alive."""

    async def events() -> AsyncIterator[str]:
        async with (
            await AsyncConnection.connect(settings.database_url, autocommit=True) as listener,
            await AsyncConnection.connect(settings.database_url, autocommit=True) as checker,
        ):
            await listener.execute(f"LISTEN {alert_store.EVENTS_CHANNEL}")
            yield ": connected\n\n"
            while True:
                async for note in listener.notifies(timeout=_KEEP_ALIVE_S):
                    event_band = json.loads(note.payload)["band_id"]
                    if band_id not in (None, event_band):
                        continue
                    roles = await band_roles(checker, me, event_band)
                    if roles is not None and Scope.ALERTS in roles.scopes():
                        yield f"event: alert\ndata: {note.payload}\n\n"
                cur = await checker.execute(
                    "SELECT 1 FROM sessions WHERE id = %s AND revoked_at IS NULL"
                    " AND expires_at > now()",
                    (me.session_id,),
                )
                if await cur.fetchone() is None:  # signed out meanwhile: the stream ends
                    return
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
    responses=error_responses(401, 403, 404, 422),
)
async def get_alert(alert_id: IdPath, _: Handler, conn: DbConn) -> dict:
    return await _alert_detail(conn, alert_id)


@router.post(
    "/{alert_id}/ack",
    response_model=AlertDetail,
    summary="Take charge (as yourself, or for a contact); escalation stops",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def ack_alert(alert_id: IdPath, ack: AckIn, access: Handler, conn: DbConn) -> dict:
    await alert_store.acknowledge(conn, alert_id, ack.contact_id, account_id=access.who.account_id)
    return await _alert_detail(conn, alert_id)


_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}


def _link_responses(*statuses: int) -> dict:
    """JSON or a page, for the link's answers and its errors (422 stays JSON)."""
    errors = error_responses(*statuses)
    return {200: _HTML, **{s: {**a, **_HTML} for s, a in errors.items()}, **error_responses(422)}


Contact = Annotated[int, Query(ge=1, le=MAX_ID)]
Signature = Annotated[str, Query(max_length=100)]


async def _check_signature(conn, alert_id: int, contact: int, sig: str) -> None:
    key = await fetch_one(conn, "SELECT value FROM server_keys WHERE name = 'ack_link'")
    # a signature is hex: anything else (hmac cannot compare non-ASCII text) is forged
    if not (sig.isascii() and links.valid(key["value"], alert_id, contact, sig)):
        raise ApiError(403, "bad_signature", "this acknowledgement link is not valid")


async def _check_known(conn, alert_id: int, contact: int) -> None:
    """Showing the link needs the alert and the contact to exist still (erasure); the
    acknowledgement checks that itself."""
    known = await fetch_one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM contacts c WHERE c.band_id = a.band_id AND c.id = %s)"
        " AS contact FROM alerts a WHERE a.id = %s",
        (contact, alert_id),
    )
    if known is None:
        raise ApiError(404, "unknown_alert", f"no alert {alert_id}")
    if not known["contact"]:
        raise ApiError(404, "unknown_contact", f"contact {contact} is not one of this wearer's")


def _error_page(request: Request, exc: Exception) -> HTMLResponse:
    lang = ack_page.language(request.headers.get("accept-language"))
    status = getattr(exc, "status", 409 if isinstance(exc, alert_store.WrongState) else 404)
    return HTMLResponse(ack_page.error(lang, exc.code, str(exc)), status_code=status)


@router.get(
    "/{alert_id}/ack-link",
    response_model=AckLinkResult,
    summary="The signed link in an alert message: shows the alert (does not acknowledge)",
    description="Opening the link only shows the alert, so that a mail scanner fetching"
    " links cannot stop the escalation: a readable page in English or Chinese (by"
    ' Accept-Language) with an "I\'m on my way" button when the Accept header prefers'
    " text/html, as a browser's does; else JSON. POST to the same link acknowledges.",
    dependencies=[Depends(Anyone())],
    responses=_link_responses(403, 404),
)
async def show_ack_link(
    alert_id: IdPath, contact: Contact, sig: Signature, conn: DbConn, request: Request
) -> Response | dict:
    html = ack_page.prefers_html(request.headers.get("accept"))
    try:
        await _check_signature(conn, alert_id, contact, sig)
        await _check_known(conn, alert_id, contact)
    except ApiError as exc:
        if not html:
            raise
        return _error_page(request, exc)
    facts = await ack_page.facts(conn, alert_id, contact)
    if html:
        lang = ack_page.language(request.headers.get("accept-language"))
        if ack_page.needs_answer(facts):
            return HTMLResponse(ack_page.prompt(lang, facts, str(request.url)))
        return HTMLResponse(ack_page.confirmation(lang, facts, contact))
    return {
        "message": "POST to this link to acknowledge: the other contacts are told.",
        "alert_id": alert_id,
        "state": facts["state"],
    }


@router.post(
    "/{alert_id}/ack-link",
    response_model=AckLinkResult,
    summary='Acknowledge from the signed link in an alert message ("I\'m on my way")',
    description="Acknowledges the alert as the link's contact, stops the escalation and"
    " tells the other contacts. Answers JSON, or the readable page (en / zh-CN) when"
    " the Accept header prefers text/html (the page's button posts here).",
    dependencies=[Depends(Anyone())],
    responses=_link_responses(403, 404, 409),
)
async def ack_link(
    alert_id: IdPath, contact: Contact, sig: Signature, conn: DbConn, request: Request
) -> Response | dict:
    html = ack_page.prefers_html(request.headers.get("accept"))
    try:
        await _check_signature(conn, alert_id, contact, sig)
        await alert_store.acknowledge(conn, alert_id, contact)
    except (ApiError, alert_store.AlertError) as exc:
        if not html:
            raise
        return _error_page(request, exc)
    if html:
        lang = ack_page.language(request.headers.get("accept-language"))
        facts = await ack_page.facts(conn, alert_id, contact)
        return HTMLResponse(ack_page.confirmation(lang, facts, contact))
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
    responses=error_responses(401, 403, 404, 409, 422),
)
async def resolve_alert(alert_id: IdPath, body: ResolveIn, _: Handler, conn: DbConn) -> dict:
    await alert_store.resolve(conn, alert_id, body.outcome)
    return await _alert_detail(conn, alert_id)
