"""Bands: the ones you may see, claiming with the code from the box, giving away and
transferring, the wearer's settings, and the support view (diagnostics)."""

from __future__ import annotations

import logging
import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api import gateway_admin
from api.account_schemas import TransferIn
from api.accounts import confirmed_account
from api.db import fetch_all, fetch_one
from api.deps import DbConn, SettingsDep
from api.errors import ApiError, error_responses
from api.schemas import (
    PROFILE_COLUMNS,
    BandCreated,
    BandIn,
    BandListItem,
    BandSettings,
    BandSettingsIn,
    ClaimIn,
    ClaimResult,
    Diagnostics,
)
from api.security.access import BandRoles, Principal, Scope, visible_bands_sql
from api.security.policy import BandAccess, OnBand, SignedIn, SupportStaff
from bandhub import claims
from bandhub.contracts.messages import BAND_ID_PATTERN, CommandRequest
from bandhub.db import ROLLUP_LOCK
from bandhub.principals.gateways import bind_band, unbind_everywhere

log = logging.getLogger(__name__)

router = APIRouter(prefix="/bands", tags=["bands"])
Me = Annotated[Principal, Depends(SignedIn())]


PAGE_DEFAULT, PAGE_MAX = 500, 1000
_NEXT = {
    "Link": {
        "description": "the next page, when there is one: `</bands?after=BH-0500&limit=500>;"
        ' rel="next"`',
        "schema": {"type": "string"},
    }
}


@router.get(
    "",
    response_model=list[BandListItem],
    summary="The bands you may see: record counts, when last seen, the latest battery level",
    responses={
        200: {"description": "a page of bands, by band id", "headers": _NEXT},
        **error_responses(401, 422),
    },
)
async def list_bands(
    me: Me,
    conn: DbConn,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="bands per page")] = PAGE_DEFAULT,
    after: Annotated[
        str | None,
        Query(pattern=BAND_ID_PATTERN, description="the page after this band id (the cursor)"),
    ] = None,
) -> list[dict]:
    """A page of the bands you may see, in band id order. A family's or a care team's
    bands fit the default page; past it the `Link` header names the next page (the
    last band id of this one is the cursor). The counts are kept per band by ingest."""
    visible, params = visible_bands_sql(me, Scope.DIAGNOSTICS)
    rows = await fetch_all(
        conn,
        "SELECT b.band_id, b.name, b.registered_at, b.last_seen, b.records,"
        " b.owner_id IS NOT DISTINCT FROM %(viewer)s AS owner,"
        " (SELECT array_agg(DISTINCT s ORDER BY s) FROM shares sh, unnest(sh.scopes) s"
        "   WHERE sh.band_id = b.band_id AND sh.account_id = %(viewer)s"
        "   AND sh.accepted_at IS NOT NULL AND sh.revoked_at IS NULL) AS shared,"
        " (SELECT m.role FROM org_members m WHERE m.org_id = b.org_id"
        "   AND m.account_id = %(viewer)s) AS org_role,"
        " y.level AS battery_percent, y.t AS battery_at"
        " FROM bands b LEFT JOIN LATERAL (SELECT level, t FROM battery"
        "   WHERE battery.band_id = b.band_id ORDER BY t DESC LIMIT 1) y ON true"
        f" WHERE {visible} AND (%(after)s::text IS NULL OR b.band_id > %(after)s)"
        " ORDER BY b.band_id LIMIT %(limit)s",
        {**params, "viewer": me.account_id, "after": after, "limit": limit + 1},
    )
    if len(rows) > limit:
        del rows[limit:]
        response.headers["Link"] = (
            f'</bands?after={quote(rows[-1]["band_id"])}&limit={limit}>; rel="next"'
        )
    for row in rows:
        row.update(_role(row, me))
    return rows


def _role(row: dict, me: Principal) -> dict:
    shared = frozenset(row.pop("shared") or ())
    roles = BandRoles(row.pop("owner"), shared, row.pop("org_role"), me.is_support)
    return {"role": roles.actor(), "scopes": sorted(roles.scopes())}


@router.post(
    "",
    status_code=201,
    response_model=BandCreated,
    summary="Register a band ahead of its sale (support)",
    responses=error_responses(401, 403, 422),
)
async def add_band(
    band: BandIn, conn: DbConn, _: Annotated[Principal, Depends(SupportStaff())]
) -> dict:
    return await fetch_one(
        conn,
        "INSERT INTO bands (band_id, name) VALUES (%s, %s) ON CONFLICT (band_id)"
        " DO UPDATE SET name = EXCLUDED.name RETURNING band_id, name, registered_at",
        (band.band_id, band.name),
    )


@router.post(
    "/{band_id}/claim",
    response_model=ClaimResult,
    summary="Become the band's owner with the claim code from its box",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def claim_band(
    band_id: Annotated[str, Path(pattern=BAND_ID_PATTERN, description="e.g. BH-0001")],
    body: ClaimIn,
    me: Me,
    conn: DbConn,
    settings: SettingsDep,
) -> dict:
    """The band need not be known yet: the code from its box is the proof. With
    ``gateway_id`` (one of your gateways), the band is also bound to it; if the broker
    is away then, the claim stands and the answer is a 503: bind it again with
    ``PUT /gateways/{gateway_id}/bands/{band_id}``."""
    if not claims.valid(settings.claim_secret, band_id, body.claim_code):
        raise ApiError(403, "bad_claim_code", "the claim code does not match this band")
    if body.gateway_id is not None:
        await _own_gateway(conn, me, body.gateway_id)
    claimed = await _claim(conn, me, band_id, body.name)
    await conn.commit()  # claimed even if the broker is away for the binding
    if body.gateway_id is not None:
        gw = body.gateway_id
        await gateway_admin.apply(settings, lambda c, admin: bind_band(c, admin, gw, band_id))
    return {**claimed, "gateway_id": body.gateway_id}


async def _own_gateway(conn, me: Principal, gateway_id: str) -> None:
    row = await fetch_one(
        conn,
        "SELECT 1 AS ok FROM gateways WHERE gateway_id = %s AND account_id = %s"
        " AND registered_at IS NOT NULL AND revoked_at IS NULL",
        (gateway_id, me.account_id),
    )
    if row is None:
        raise ApiError(404, "unknown_gateway", f"no gateway {gateway_id!r} of yours")


async def _claim(conn, me: Principal, band_id: str, name: str | None) -> dict:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO bands (band_id) VALUES (%s) ON CONFLICT DO NOTHING", (band_id,)
        )
        band = await fetch_one(
            conn, "SELECT owner_id FROM bands WHERE band_id = %s FOR UPDATE", (band_id,)
        )
        if band["owner_id"] not in (None, me.account_id):
            raise ApiError(409, "claimed", f"band {band_id} belongs to someone else")
        return await fetch_one(
            conn,
            "UPDATE bands SET owner_id = %s, name = COALESCE(%s, name),"
            " claimed_at = COALESCE(claimed_at, now())"
            " WHERE band_id = %s RETURNING band_id, name, owner_id, claimed_at",
            (me.account_id, name, band_id),
        )


async def _end_shares(conn, access: BandAccess) -> None:
    """A band changing hands: every share, organisation care and Home Assistant exposure
    ends (and its consent)."""
    band_id, me = access.band_id, access.who.account_id
    await conn.execute(
        "UPDATE shares SET revoked_at = now() WHERE band_id = %s AND revoked_at IS NULL",
        (band_id,),
    )
    await conn.execute(
        "UPDATE consents SET revoked_at = now(), revoked_by = %s"
        " WHERE band_id = %s AND revoked_at IS NULL",
        (me, band_id),
    )
    await conn.execute("UPDATE bands SET org_id = NULL WHERE band_id = %s", (band_id,))
    # and the band leaves Home Assistant (its consent was revoked above with the rest)
    await conn.execute("DELETE FROM ha_exposure WHERE band_id = %s", (band_id,))


@router.delete(
    "/{band_id}/owner",
    status_code=204,
    summary="Give the band away: it becomes unclaimed; shares, care and contacts end",
    responses=error_responses(401, 403, 404, 422),
)
async def unclaim(
    access: Annotated[BandAccess, Depends(OnBand(Scope.OWNER))],
    conn: DbConn,
    settings: SettingsDep,
) -> None:
    await _end_shares(conn, access)
    await conn.execute("DELETE FROM contacts WHERE band_id = %s", (access.band_id,))
    await conn.execute(
        "UPDATE bands SET owner_id = NULL, claimed_at = NULL WHERE band_id = %s",
        (access.band_id,),
    )
    await conn.commit()
    await _leave_gateways(settings, access)


async def _leave_gateways(settings, access: BandAccess) -> None:
    """A band changing hands leaves its former owner's gateways."""
    band_id, previous = access.band_id, access.who.account_id
    await gateway_admin.apply_or_log(
        settings,
        lambda c, admin: unbind_everywhere(c, admin, band_id, account_id=previous),
        f"{band_id} changed hands but stays bound to its former owner's gateways",
    )


@router.post(
    "/{band_id}/transfer",
    response_model=ClaimResult,
    summary="Hand the band to another account (shares and care end; contacts stay)",
    responses=error_responses(401, 403, 404, 422),
)
async def transfer(
    body: TransferIn,
    access: Annotated[BandAccess, Depends(OnBand(Scope.OWNER))],
    conn: DbConn,
    settings: SettingsDep,
) -> dict:
    target = await confirmed_account(conn, body.email)
    await _end_shares(conn, access)
    moved = await fetch_one(
        conn,
        "UPDATE bands SET owner_id = %s, claimed_at = now() WHERE band_id = %s"
        " RETURNING band_id, name, owner_id, claimed_at",
        (target["id"], access.band_id),
    )
    await conn.commit()
    await _leave_gateways(settings, access)
    return moved


_SETTINGS = ", ".join(
    ("band_id", "name", "time_zone", "fall_countdown_s", "sedentary_reminder", *PROFILE_COLUMNS)
)


@router.get(
    "/{band_id}",
    response_model=BandSettings,
    summary="A wearer's settings, profile and goals",
    responses=error_responses(401, 403, 404, 422),
)
async def read_band_settings(
    access: Annotated[BandAccess, Depends(OnBand(Scope.SETTINGS))], conn: DbConn
) -> dict:
    return await fetch_one(
        conn, f"SELECT {_SETTINGS} FROM bands WHERE band_id = %s", (access.band_id,)
    )


@router.patch(
    "/{band_id}",
    response_model=BandSettings,
    summary="A wearer's settings, profile and goals (null clears a profile field or goal)",
    responses=error_responses(401, 403, 404, 422),
)
async def band_settings(
    body: BandSettingsIn,
    request: Request,
    access: Annotated[BandAccess, Depends(OnBand(Scope.SETTINGS))],
    conn: DbConn,
) -> dict:
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    for column in ("name", "time_zone", "sedentary_reminder"):  # null: unchanged
        if column in changes and changes[column] is None:
            changes.pop(column)
    assignments = ", ".join(f"{column} = %({column})s" for column in changes) or "name = name"
    if "time_zone" in changes:  # the band's days are rebuilt (migration 022): take ingest's
        # per-band lock before the band's row, in the order ingest takes them
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (ROLLUP_LOCK, access.band_id)
        )
    band = await fetch_one(
        conn,
        f"UPDATE bands SET {assignments} WHERE band_id = %(band_id)s RETURNING {_SETTINGS}",
        {**changes, "band_id": access.band_id},
    )
    if "time_zone" in changes and changes["time_zone"] != access.band["time_zone"]:
        await _tell_band_zone(request, access.band_id, band["time_zone"])
    return band


async def _tell_band_zone(request: Request, band_id: str, zone: str) -> None:
    """The band's gateway keeps the wearer's zone and writes its offset to the band at
    every sync, so that the band's day (its step count) starts at local midnight
    (docs/gatt.md). Kept by the gateway for an absent band up to a week; the days the
    API answers do not depend on it, so a broker that is away does not fail the change."""
    command = CommandRequest(
        v=1,
        id=f"zone-{band_id}-{time.time_ns()}",
        cmd="set_time_zone",
        args={"zone": zone},
        ttl_s=7 * 86400,
        issued_at=time.time(),
    )
    try:
        await request.app.state.commands.publish(band_id, command)
    except ApiError as exc:
        log.warning("band %s: its gateway was not told the zone %s: %s", band_id, zone, exc)


@router.get(
    "/{band_id}/diagnostics",
    response_model=Diagnostics,
    summary="Connection, battery and clock, for support (no health data)",
    responses=error_responses(401, 403, 404, 422),
)
async def diagnostics(
    access: Annotated[BandAccess, Depends(OnBand(Scope.DIAGNOSTICS))],
    conn: DbConn,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> Diagnostics:
    band, band_id = access.band, access.band_id
    status = await fetch_one(
        conn,
        "SELECT gateway_id, status, updated_at FROM band_status WHERE band_id = %s",
        (band_id,),
    )
    battery = await fetch_all(
        conn,
        "SELECT date_trunc('hour', t) AS t, min(level) AS level FROM battery"
        " WHERE band_id = %s AND t > now() - make_interval(days => %s)"
        " GROUP BY 1 ORDER BY 1",
        (band_id, days),
    )
    return Diagnostics(
        band_id=band_id,
        last_seen=band["last_seen"],
        gateway=status["gateway_id"] if status else band["last_gateway_id"],
        link=status["status"] if status else None,
        link_reported_at=status["updated_at"] if status else None,
        battery_hourly=battery,
    )
