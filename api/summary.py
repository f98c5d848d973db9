"""A band's day from its stored epochs and heart rate: the figures of the daily
summary, computed by analytics.daily so that the route only asks and answers.

Days that ingest keeps rollups for (``band_days``, migration 011) take their heart
rate figures from the rollup, and the computed summary is stored with the day's
rollup version (and what computed it): later reads return it until new data for
that day arrives, or other code or fitted parameters answer."""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib import resources

import numpy as np
from fastapi.encoders import jsonable_encoder
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from analytics import daily
from api.db import fetch_all, fetch_one

_FORMAT = "1"  # bump when the code behind the summary changes what it answers


def _computed_with() -> str:
    """This code's summary format and a digest of the fitted parameters it uses: a
    stored summary from other code or another fit is computed again."""
    digest = hashlib.sha256(_FORMAT.encode())
    for f in sorted(resources.files("analytics.params").iterdir(), key=lambda f: f.name):
        if f.name.endswith(".json"):
            digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:16]


COMPUTED_WITH = _computed_with()


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
        "SELECT rr_ms FROM hr_range(%s, %s, %s) WHERE cardinality(rr_ms) > 0 ORDER BY t",
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


async def _hr_stats(
    conn: AsyncConnection, day: dict | None, band_id: str, start: dt.datetime, end: dt.datetime
) -> daily.HeartRateStats:
    """From the day's rollup when ingest keeps one, else from the raw rows."""
    if day is not None:
        if not day["hr_n"]:
            return daily.HeartRateStats(None, None, None)
        avg = round(day["hr_sum"] / day["hr_n"], 1)  # what numpy's mean of the rows gives
        return daily.HeartRateStats(day["hr_min"], avg, day["hr_max"])
    bpm = await fetch_all(
        conn,
        "SELECT bpm FROM hr_range(%s, %s, %s)",
        (band_id, start, end),
    )
    return daily.heart_rate_stats(np.array([r["bpm"] for r in bpm]))


async def daily_summary(
    conn: AsyncConnection, band_id: str, date: dt.date, *, store: bool = True
) -> dict:
    """The day's summary: the stored one while it is current (its day's rollup has not
    changed since), else computed and stored for the next reader (unless ``store`` is
    off: an export reads in a read-only snapshot)."""
    day = await fetch_one(
        conn,
        "SELECT d.version, d.hr_n, d.hr_sum, d.hr_min, d.hr_max, s.version AS stored,"
        " s.summary FROM band_days d LEFT JOIN day_summaries s"
        " ON s.band_id = d.band_id AND s.day = d.day AND s.computed_with = %s"
        " WHERE d.band_id = %s AND d.day = %s",
        (COMPUTED_WITH, band_id, date),
    )
    if day is not None and day["stored"] == day["version"]:
        return day["summary"]
    summary = await _compute(conn, band_id, date, day)
    if day is not None and store:
        await conn.execute(
            "INSERT INTO day_summaries (band_id, day, version, computed_with, summary)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (band_id, day) DO UPDATE SET"
            " version = EXCLUDED.version, computed_with = EXCLUDED.computed_with,"
            " summary = EXCLUDED.summary WHERE day_summaries.version < EXCLUDED.version"
            " OR day_summaries.computed_with <> EXCLUDED.computed_with",
            (band_id, date, day["version"], COMPUTED_WITH, Jsonb(jsonable_encoder(summary))),
        )
    return summary


async def _compute(conn: AsyncConnection, band_id: str, date: dt.date, day: dict | None) -> dict:
    """Steps, heart rate, sleep, HRV, falls and coverage of one UTC day."""
    start = dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    epochs = await fetch_all(
        conn,
        "SELECT t, steps, activity_count, enmo_mg, hr_mean, worn FROM epochs"
        " WHERE band_id = %s AND t >= %s AND t < %s ORDER BY t",
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
    stats = await _hr_stats(conn, day, band_id, start, end)
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
