"""The wearer's audit log, for the owner: who read or changed what, when, from where."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.account_schemas import AuditEntry
from api.db import fetch_all
from api.deps import DbConn, Limit
from api.errors import error_responses
from api.security.access import Scope
from api.security.policy import BandAccess, OnBand

router = APIRouter(tags=["audit"])


@router.get(
    "/bands/{band_id}/audit",
    response_model=list[AuditEntry],
    summary="Who read or changed the wearer's data, newest first",
    responses=error_responses(401, 403, 404, 422),
)
async def audit_log(
    access: Annotated[BandAccess, Depends(OnBand(Scope.OWNER))],
    conn: DbConn,
    limit: Limit = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**53 - 1, description="older pages")] = None,
) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT l.id, l.at, a.email AS who, l.actor, l.action, l.detail, l.client_ip"
        " FROM audit_log l LEFT JOIN accounts a ON a.id = l.account_id"
        " WHERE l.band_id = %s AND (%s::bigint IS NULL OR l.id < %s)"
        " ORDER BY l.id DESC LIMIT %s",
        (access.band_id, before_id, before_id, limit),
    )
