"""Messages ingest rejected, with the reason: support sees why (not what: a rejected
record may carry health data), the band's owner sees their own band's in full."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.db import fetch_all
from api.deps import DbConn, Limit
from api.errors import error_responses
from api.schemas import DeadLetter
from api.security.access import Principal, Scope
from api.security.policy import BandAccess, OnBand, SupportStaff

router = APIRouter(tags=["dead letters"])

_COLUMNS = "id, received_at, topic, band_id, stream, reason, length(payload) AS size, payload"


def _shown(rows: list[dict], with_payload: bool) -> list[dict]:
    for r in rows:
        payload = bytes(r["payload"])
        r["payload"] = payload.decode("utf-8", errors="replace") if with_payload else None
    return rows


@router.get(
    "/dead-letters",
    response_model=list[DeadLetter],
    summary="Rejected messages with their reasons (support; payloads withheld)",
    responses=error_responses(401, 403, 422),
)
async def dead_letters(
    conn: DbConn, _: Annotated[Principal, Depends(SupportStaff())], limit: Limit = 100
) -> list[dict]:
    rows = await fetch_all(
        conn, f"SELECT {_COLUMNS} FROM dead_letters ORDER BY id DESC LIMIT %s", (limit,)
    )
    return _shown(rows, with_payload=False)


@router.get(
    "/bands/{band_id}/dead-letters",
    response_model=list[DeadLetter],
    summary="Your band's rejected messages, in full",
    responses=error_responses(401, 403, 404, 422),
)
async def band_dead_letters(
    access: Annotated[BandAccess, Depends(OnBand(Scope.OWNER))], conn: DbConn, limit: Limit = 100
) -> list[dict]:
    rows = await fetch_all(
        conn,
        f"SELECT {_COLUMNS} FROM dead_letters WHERE band_id = %s ORDER BY id DESC LIMIT %s",
        (access.band_id, limit),
    )
    return _shown(rows, with_payload=True)
