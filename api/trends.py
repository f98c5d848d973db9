"""A band's local days over a week, a month or a year, read from what is kept per day
(docs/time.md): steps, active minutes and the day's length from the rollup
(``band_days``); resting heart rate, sleep and HRV from the stored daily summary
while it is current. A read answers from what is stored at once; after it has answered,
at most ``trends_compute_days`` missing or stale summaries (the newest first) are
computed and stored, so a figure from a summary not yet computed is null until a later
read (a summary read of the day computes it too)."""

from __future__ import annotations

import datetime as dt
import statistics

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.db import fetch_all, fetch_one
from api.local_days import day_hours, zone_history
from api.summary import COMPUTED_WITH, daily_summary

PERIOD_DAYS = {"week": 7, "month": 30, "year": 365}


def _midpoint_minutes(hhmm: str) -> int:
    """Minutes from local midnight, in (-720, 720]: nights around midnight stay close."""
    h, m = hhmm.split(":")
    minutes = int(h) * 60 + int(m)
    return minutes - 1440 if minutes > 720 else minutes


def regularity(midpoints: list[str]) -> dict:
    """The spread (sample SD, minutes) of the nights' local sleep midpoints."""
    values = [_midpoint_minutes(m) for m in midpoints]
    sd = round(statistics.stdev(values), 1) if len(values) >= 2 else None
    return {"midpoint_sd_min": sd, "nights": len(values)}


async def _rows(conn: AsyncConnection, band_id: str, first: dt.date, last: dt.date):
    return await fetch_all(
        conn,
        "SELECT g::date AS day, d.epochs, d.steps, d.active_min,"
        " extract(epoch FROM d.t1 - d.t0)::float / 3600 AS hours,"
        " d.version IS NOT NULL AS kept,"
        " s.depends_on = ARRAY[coalesce(p.version, 0), d.version, coalesce(n.version, 0)]"
        "   AS current, s.summary -> 'heart_rate' ->> 'resting' AS resting,"
        " (s.summary ->> 'sleep_minutes')::int AS sleep_minutes,"
        " s.summary -> 'sleep' ->> 'midpoint_local' AS midpoint,"
        " (s.summary -> 'hrv' ->> 'sdnn_ms')::float AS sdnn"
        " FROM generate_series(%(f)s::date, %(l)s::date, interval '1 day') g"
        " LEFT JOIN band_days d ON d.band_id = %(b)s AND d.day = g::date"
        " LEFT JOIN band_days p ON p.band_id = %(b)s AND p.day = g::date - 1"
        " LEFT JOIN band_days n ON n.band_id = %(b)s AND n.day = g::date + 1"
        " LEFT JOIN day_summaries s ON s.band_id = %(b)s AND s.day = g::date"
        "   AND s.computed_with = %(c)s"
        " ORDER BY 1",
        {"b": band_id, "f": first, "l": last, "c": COMPUTED_WITH},
    )


def stale_days(rows: list[dict], limit: int) -> list[dt.date]:
    """Kept days whose stored summary is missing or out of date, newest first."""
    return [r["day"] for r in reversed(rows) if r["kept"] and not r["current"]][:limit]


async def compute_summaries(pool: AsyncConnectionPool, band_id: str, days: list[dt.date]) -> None:
    """Compute and store the summaries of ``days`` (after a trends read has answered)."""
    async with pool.connection() as conn:
        for day in days:
            await daily_summary(conn, band_id, day)
            await conn.commit()


async def trends(
    conn: AsyncConnection, band_id: str, period: str, last: dt.date
) -> tuple[dict, list[dt.date]]:
    """The period's days as stored, and the days whose summaries are yet to compute."""
    first = last - dt.timedelta(days=PERIOD_DAYS[period] - 1)
    rows = await _rows(conn, band_id, first, last)
    history = await zone_history(conn, band_id)
    days = []
    for r in rows:
        current = bool(r["current"])
        sleep_minutes = r["sleep_minutes"] if current else None
        days.append(
            {
                "day": r["day"],
                "hours": round(r["hours"], 2)
                if r["hours"] is not None
                else day_hours(history, r["day"]),
                "steps": r["steps"] if r["epochs"] else None,
                "active_minutes": r["active_min"] if r["epochs"] else None,
                "resting_hr_bpm": float(r["resting"]) if current and r["resting"] else None,
                "sleep_minutes": sleep_minutes,
                "sleep_midpoint_local": r["midpoint"] if current else None,
                "hrv_sdnn_ms": r["sdnn"] if current else None,
            }
        )
    zone = await fetch_one(conn, "SELECT time_zone FROM bands WHERE band_id = %s", (band_id,))
    answer = {
        "band_id": band_id,
        "time_zone": zone["time_zone"],
        "period": period,
        "from": first,
        "to": last,
        "days": days,
        "sleep_regularity": regularity(
            [d["sleep_midpoint_local"] for d in days if d["sleep_midpoint_local"]]
        ),
    }
    return answer, stale_days(rows, PERIOD_DAYS[period])
