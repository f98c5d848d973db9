"""Goals met in a row (streaks) and step challenges among wearers with a leaderboard.

A challenge is reached through one of its wearers (the band in the path); it is shown
only to a caller who may see the summaries of every participant, and may only be set
up by one (a stranger's steps are never shown, nor is the challenge named to them)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request

from api.db import fetch_all, fetch_one
from api.deps import MAX_ID, DbConn, SettingsDep
from api.errors import ApiError, error_responses
from api.goals import goal_streaks, leaderboard, may_see_all
from api.schemas import Challenge, ChallengeIn, ChallengeListItem, Streaks
from api.security.access import Scope
from api.security.policy import BandAccess, OnBand
from api.security.throttle import Expensive
from api.summary import local_today
from api.trends import compute_summaries

router = APIRouter(prefix="/bands/{band_id}", tags=["goals"])
Reader = Annotated[BandAccess, Depends(OnBand(Scope.SUMMARIES))]


@router.get(
    "/streaks",
    response_model=Streaks,
    summary="Days in a row the step and sleep goals were met, up to the local today",
    responses=error_responses(401, 403, 404, 422, 429),
    dependencies=[Expensive],
)
async def streaks(
    band: Reader, conn: DbConn, settings: SettingsDep, request: Request, tasks: BackgroundTasks
) -> dict:
    today = await local_today(conn, band.band_id)
    answer, stale = await goal_streaks(conn, band.band_id, today)
    if stale[: settings.trends_compute_days]:  # for the next read, as trends do
        tasks.add_task(
            compute_summaries,
            request.app.state.pool,
            band.band_id,
            stale[: settings.trends_compute_days],
        )
    return answer


@router.post(
    "/challenges",
    status_code=201,
    response_model=Challenge,
    summary="Start a step challenge between this wearer and others you may see",
    responses=error_responses(401, 403, 404, 422),
)
async def create_challenge(body: ChallengeIn, band: Reader, conn: DbConn) -> dict:
    members = list(dict.fromkeys([band.band_id, *body.with_bands]))
    if not await may_see_all(conn, band.who, members):
        raise ApiError(404, "unknown_band", "every wearer must be one whose summaries you see")
    if body.last_day - body.first_day >= dt.timedelta(days=31):
        raise ApiError(422, "invalid_request", "a challenge lasts at most 31 days")
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO challenges (name, created_by, first_day, last_day)"
            " VALUES (%s, %s, %s, %s) RETURNING id, name, first_day, last_day",
            (body.name, band.who.account_id, body.first_day, body.last_day),
        )
        for member in members:
            await conn.execute(
                "INSERT INTO challenge_bands (challenge_id, band_id) VALUES (%s, %s)",
                (row["id"], member),
            )
    return {**row, "leaderboard": await leaderboard(conn, row)}


async def _visible(conn, band: BandAccess, challenge_id: int | None = None) -> list[dict]:
    """The wearer's challenges whose every participant the caller may see."""
    rows = await fetch_all(
        conn,
        "SELECT c.id, c.name, c.first_day, c.last_day,"
        " array_agg(m.band_id ORDER BY m.band_id) AS band_ids FROM challenges c"
        " JOIN challenge_bands me ON me.challenge_id = c.id AND me.band_id = %s"
        " JOIN challenge_bands m ON m.challenge_id = c.id"
        " WHERE %s::bigint IS NULL OR c.id = %s"
        " GROUP BY c.id ORDER BY c.last_day DESC, c.id DESC",
        (band.band_id, challenge_id, challenge_id),
    )
    return [r for r in rows if await may_see_all(conn, band.who, r["band_ids"])]


@router.get(
    "/challenges",
    response_model=list[ChallengeListItem],
    summary="The wearer's step challenges that you may see whole",
    responses=error_responses(401, 403, 404, 422),
)
async def list_challenges(band: Reader, conn: DbConn) -> list[dict]:
    return await _visible(conn, band)


@router.get(
    "/challenges/{challenge_id}",
    response_model=Challenge,
    summary="A step challenge's leaderboard",
    responses=error_responses(401, 403, 404, 422),
)
async def challenge(
    band: Reader,
    conn: DbConn,
    challenge_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> dict:
    found = await _visible(conn, band, challenge_id)
    if not found:
        raise ApiError(404, "unknown_challenge", f"no challenge {challenge_id}")
    return {**found[0], "leaderboard": await leaderboard(conn, found[0])}
