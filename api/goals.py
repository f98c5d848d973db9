"""Streaks of daily goals met, and step challenges among wearers with their leaderboard.

A streak counts the wearer's local days in a row, back from today, on which a goal was
met; today counts once met, and does not break a streak while it is still going. Steps
come from the day's rollup; sleep from the stored daily summary (missing ones are
computed a few per read, after the answer, as for trends), so a night not yet summed
up ends the streak for now.
"""

from __future__ import annotations

import datetime as dt

from psycopg import AsyncConnection

from analytics.energy import DEFAULT_STEP_GOAL, sleep_recommendation
from api.db import fetch_all, fetch_one
from api.security.access import BandRoles, Principal, Scope, band_roles
from api.trends import trends


def _streaks(met: list[bool | None]) -> dict:
    """``met`` per day, oldest first, today last: the current run and the best one."""
    current = 0
    days = list(reversed(met))
    if days and not days[0]:
        days = days[1:]  # today may still come good
    for m in days:
        if not m:
            break
        current += 1
    best = run = 0
    for m in met:
        run = run + 1 if m else 0
        best = max(best, run)
    return {"current": current, "best": best}


async def goal_streaks(
    conn: AsyncConnection, band_id: str, today: dt.date
) -> tuple[dict, list[dt.date]]:
    """The streaks, and the days whose summaries are yet to compute (api/trends.py)."""
    band = await fetch_one(
        conn,
        "SELECT step_goal, sleep_goal_min, birth_year FROM bands WHERE band_id = %s",
        (band_id,),
    )
    age = None if band["birth_year"] is None else today.year - band["birth_year"]
    step_goal = band["step_goal"] or DEFAULT_STEP_GOAL
    sleep_goal = band["sleep_goal_min"] or sleep_recommendation(age)["min_h"] * 60
    year, stale = await trends(conn, band_id, "year", today)
    days = year["days"]
    return {
        "band_id": band_id,
        "today": today,
        "step_goal": step_goal,
        "sleep_goal_min": sleep_goal,
        "steps": _streaks([d["steps"] is not None and d["steps"] >= step_goal for d in days]),
        "sleep": _streaks(
            [d["sleep_minutes"] is not None and d["sleep_minutes"] >= sleep_goal for d in days]
        ),
    }, stale


async def may_see_all(conn: AsyncConnection, who: Principal, band_ids: list[str]) -> bool:
    """Whether the caller holds the summaries right on every one of the bands."""
    for band_id in band_ids:
        roles: BandRoles | None = await band_roles(conn, who, band_id)
        if roles is None or Scope.SUMMARIES not in roles.scopes():
            return False
    return True


async def leaderboard(conn: AsyncConnection, challenge: dict) -> list[dict]:
    """Participants by steps over the challenge's local days, most first."""
    rows = await fetch_all(
        conn,
        "SELECT c.band_id, b.name, coalesce(sum(d.steps), 0)::bigint AS steps,"
        " count(d.day) FILTER (WHERE d.epochs > 0) AS days"
        " FROM challenge_bands c JOIN bands b ON b.band_id = c.band_id"
        " LEFT JOIN band_days d ON d.band_id = c.band_id AND d.day BETWEEN %s AND %s"
        " WHERE c.challenge_id = %s GROUP BY c.band_id, b.name ORDER BY 3 DESC, 1",
        (challenge["first_day"], challenge["last_day"], challenge["id"]),
    )
    rank, previous = 0, None
    for i, row in enumerate(rows):
        if row["steps"] != previous:
            rank, previous = i + 1, row["steps"]
        row["rank"] = rank  # a tie shares its rank
        row["name"] = row["name"] or row["band_id"]
    return rows
