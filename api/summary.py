"""A band's day from its stored epochs and heart rate: the figures of the daily
summary, computed by analytics.daily so that the route only asks and answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
from psycopg import AsyncConnection

from analytics import daily
from api.db import fetch_all, fetch_one


def _utc(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


async def _day_hrv(
    conn: AsyncConnection,
    band_id: str,
    sleep: daily.DaySleep,
    day_start: dt.datetime,
    day_end: dt.datetime,
) -> dict | None:
    """HRV from the band's RR intervals in the night (the usual nightly figure, at rest),
    or over the whole day when the day has no night's sleep."""
    night = daily.night(sleep)
    if night is not None:
        period = "sleep"
        start, end = (dt.datetime.fromtimestamp(s, dt.UTC) for s in night)
    else:
        period, start, end = "day", day_start, day_end
    rows = await fetch_all(
        conn,
        "SELECT rr_ms FROM hr WHERE band_id = %s AND t >= %s AND t < %s"
        " AND cardinality(rr_ms) > 0 ORDER BY t",
        (band_id, start, end),
    )
    result = daily.day_hrv([r["rr_ms"] for r in rows])
    if result is None:
        return None
    return {
        "period": period,
        "rmssd_ms": result.rmssd_ms,
        "sdnn_ms": result.sdnn_ms,
        "mean_nn_ms": result.mean_nn_ms,
        "pnn50_pct": result.pnn50_pct,
        "intervals": result.n_intervals,
        "removed": result.n_artefacts + result.n_ectopic,
    }


async def daily_summary(conn: AsyncConnection, band_id: str, date: dt.date) -> dict:
    """Steps, heart rate, sleep, HRV, falls and coverage of one UTC day."""
    start = dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    epochs = await fetch_all(
        conn,
        "SELECT t, steps, activity_count, enmo_mg, hr_mean, worn FROM epochs"
        " WHERE band_id = %s AND t >= %s AND t < %s ORDER BY t",
        (band_id, start, end),
    )
    bpm = await fetch_all(
        conn,
        "SELECT bpm FROM hr WHERE band_id = %s AND t >= %s AND t < %s",
        (band_id, start, end),
    )
    falls = await fetch_one(
        conn,
        "SELECT count(*) AS n FROM falls WHERE band_id = %s AND t >= %s AND t < %s AND confirmed",
        (band_id, start, end),
    )
    activity = np.array([e["activity_count"] for e in epochs], dtype=float)
    worn = np.array([e["worn"] for e in epochs], dtype=bool)
    hr_mean = np.array(
        [np.nan if e["hr_mean"] is None else e["hr_mean"] for e in epochs], dtype=float
    )
    enmo_g = np.array([e["enmo_mg"] for e in epochs], dtype=float) / 1000.0
    asleep = daily.asleep_minutes(enmo_g, worn)
    t_s = np.array([e["t"].timestamp() for e in epochs], dtype=float)
    sleep = daily.day_sleep(t_s, asleep, hr_mean, enmo_g)
    stats = daily.heart_rate_stats(np.array([r["bpm"] for r in bpm]))
    return {
        "band_id": band_id,
        "date": date,
        "steps": int(sum(e["steps"] for e in epochs)),
        "heart_rate": {
            "min": stats.min,
            "avg": stats.avg,
            "max": stats.max,
            "resting": daily.resting_heart_rate(hr_mean, activity, asleep),
            "unit": "bpm",
        },
        "sleep_minutes": sleep.minutes,
        "sleep": {
            "minutes": sleep.minutes,
            "start": _utc(sleep.onset_s),
            "end": _utc(sleep.end_s),
            "efficiency": sleep.efficiency,
            "waso_min": sleep.waso_min,
            "awakenings": sleep.awakenings,
            "stages_estimate_min": sleep.stage_minutes,
        },
        "hrv": await _day_hrv(conn, band_id, sleep, start, end),
        "falls": falls["n"],
        "coverage": round(int(worn.sum()) / 1440, 4),
    }
