"""Messages ingest rejected, with the reason, for whoever operates the service."""

from __future__ import annotations

from fastapi import APIRouter

from api.db import fetch_all
from api.deps import DbConn, Limit
from api.errors import error_responses
from api.schemas import DeadLetter

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


@router.get(
    "",
    response_model=list[DeadLetter],
    summary="Rejected messages with their reasons",
    responses=error_responses(422),
)
async def dead_letters(conn: DbConn, limit: Limit = 100) -> list[dict]:
    rows = await fetch_all(
        conn,
        "SELECT id, received_at, topic, band_id, stream, reason, payload"
        " FROM dead_letters ORDER BY id DESC LIMIT %s",
        (limit,),
    )
    for r in rows:
        r["payload"] = bytes(r["payload"]).decode("utf-8", errors="replace")
    return rows
