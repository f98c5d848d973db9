"""A band's local day from its stored epochs and heart rate: the figures of the daily
summary, computed by analytics.daily so that the route only asks and answers. The
day is the wearer's local day (docs/time.md), and its night is the sleep that ends
in it.

Days that ingest keeps rollups for (``band_days``, migration 011) take their heart
rate figures from the rollup, and the computed summary is stored with the day's
rollup version (and what computed it): later reads return it until new data for
that day arrives, or other code or fitted parameters answer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
from fastapi.encoders import jsonable_encoder
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from analytics import daily, energy
from api.db import fetch_all, fetch_one

_FORMAT = "3"  # bump when the code behind the summary changes what it answers


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


_SLEEP_REACH = dt.timedelta(hours=12)  # a night that ends on a day began the evening before


async def day_bounds(conn: AsyncConnection, band_id: str, date: dt.date) -> dict:
    """The local day's interval [start, end) and the zone it began in (migration 022)."""
    return await fetch_one(
        conn,
        "SELECT t0, t1, band_zone_at(%(b)s, t0) AS zone FROM (SELECT band_day_start(%(b)s, %(d)s)"
        " AS t0, band_day_start(%(b)s, %(d)s + 1) AS t1) x",
        {"b": band_id, "d": date},
    )


async def summary_days(conn: AsyncConnection, band_id: str) -> list[dt.date]:
    """The local days a band has epochs on: the kept days with epochs (``band_days``),
    and for epochs outside them (written by other means than ingest) their local days,
    looked up per quarter hour of epochs (its first and last: a day's edge inside a
    quarter hour gives both days)."""
    rows = await fetch_all(
        conn,
        "WITH q AS (SELECT min(t) AS a, max(t) AS z FROM epochs WHERE band_id = %(b)s"
        "   GROUP BY date_bin('15 minutes', t, TIMESTAMPTZ '2000-01-01 00:00+00'))"
        " SELECT day FROM band_days WHERE band_id = %(b)s AND epochs > 0 UNION"
        " SELECT band_local_day(%(b)s, x) FROM q, LATERAL (VALUES (q.a), (q.z)) v(x)"
        " WHERE NOT EXISTS (SELECT 1 FROM band_days d WHERE d.band_id = %(b)s"
        "   AND d.day BETWEEN (q.a AT TIME ZONE 'UTC')::date - 2"
        "   AND (q.a AT TIME ZONE 'UTC')::date + 2"
        "   AND d.epochs > 0 AND d.t0 <= q.a AND q.z < d.t1)"
        " ORDER BY 1",
        {"b": band_id},
    )
    return [r["day"] for r in rows]


async def local_today(conn: AsyncConnection, band_id: str) -> dt.date:
    """The wearer's local today."""
    row = await fetch_one(conn, "SELECT band_local_day(%s, now()) AS day", (band_id,))
    return row["day"]


async def daily_summary(
    conn: AsyncConnection, band_id: str, date: dt.date, *, store: bool = True
) -> dict:
    """The day's summary with the figures the wearer's profile gives (activity, heart-rate
    zones), applied to the stored profile-free part as it is read."""
    stored = await _stored_summary(conn, band_id, date, store=store)
    band = await fetch_one(
        conn,
        "SELECT height_cm, weight_kg, birth_year, sex, step_goal, sleep_goal_min FROM bands"
        " WHERE band_id = %s",
        (band_id,),
    )
    band = band or {"step_goal": None, "sleep_goal_min": None}
    goals = {"step_goal": band.pop("step_goal"), "sleep_goal_min": band.pop("sleep_goal_min")}
    profile = energy.Profile(**band)
    summary = {k: v for k, v in stored.items() if k != "basis"}
    basis = stored["basis"]
    start = stored["start"]
    start = dt.datetime.fromisoformat(start) if isinstance(start, str) else start
    so_far = (dt.datetime.now(dt.UTC) - start).total_seconds() // 60
    minutes = int(min(stored["hours"] * 60, max(0, so_far)))
    summary["activity"] = energy.activity(basis, summary["steps"], profile, date, minutes)
    summary["hr_zones"] = energy.hr_zones(basis["hr_minutes"], profile.age(date))
    advice = energy.sleep_recommendation(profile.age(date))
    summary["sleep"] = {**summary["sleep"], "recommended": advice}
    steps_goal = goals["step_goal"] or energy.DEFAULT_STEP_GOAL
    sleep_goal = goals["sleep_goal_min"] or advice["min_h"] * 60
    summary["goals"] = {
        "steps": steps_goal,
        "steps_met": summary["steps"] >= steps_goal,
        "sleep_min": sleep_goal,
        "sleep_met": summary["sleep"]["minutes"] >= sleep_goal,
    }
    return summary


async def stored_summary(conn: AsyncConnection, band_id: str, date: dt.date) -> dict:
    """The day's profile-free summary, computed and stored unless the stored one is
    current: what the summary refresher (api/summary_refresh.py) keeps warm."""
    return await _stored_summary(conn, band_id, date)


async def computed_summary(conn: AsyncConnection, band_id: str, date: dt.date) -> dict:
    """The day's profile-free summary computed from the data now, as JSON stores it
    (what a stored summary must equal while it is current)."""
    day = await fetch_one(
        conn,
        "SELECT t0, t1, zone, hr_n, hr_sum, hr_min, hr_max FROM band_days"
        " WHERE band_id = %s AND day = %s",
        (band_id, date),
    )
    bounds = day if day is not None else await day_bounds(conn, band_id, date)
    summary = await _compute(conn, band_id, date, bounds, day)
    return json.loads(json.dumps(jsonable_encoder(summary)))


async def _stored_summary(
    conn: AsyncConnection, band_id: str, date: dt.date, *, store: bool = True
) -> dict:
    """The local day's profile-free summary: the stored one while it is current (neither its day's
    rollup nor its neighbours' has changed since: the night ending on a day began the
    day before), else computed and stored for the next reader (unless ``store`` is
    off: an export reads in a read-only snapshot)."""
    day = await fetch_one(
        conn,
        "SELECT d.version, d.t0, d.t1, d.zone, d.hr_n, d.hr_sum, d.hr_min, d.hr_max,"
        " ARRAY[coalesce(p.version, 0), d.version, coalesce(n.version, 0)] AS deps,"
        " s.depends_on, s.summary FROM band_days d"
        " LEFT JOIN band_days p ON p.band_id = d.band_id AND p.day = d.day - 1"
        " LEFT JOIN band_days n ON n.band_id = d.band_id AND n.day = d.day + 1"
        " LEFT JOIN day_summaries s"
        " ON s.band_id = d.band_id AND s.day = d.day AND s.computed_with = %s"
        " WHERE d.band_id = %s AND d.day = %s",
        (COMPUTED_WITH, band_id, date),
    )
    if day is not None and day["depends_on"] == day["deps"]:
        return day["summary"]
    bounds = day if day is not None else await day_bounds(conn, band_id, date)
    summary = await _compute(conn, band_id, date, bounds, day)
    if day is not None and store:
        # only while the day is kept, under a lock an erasure's delete of it waits for:
        # a summary computed as the band was erased is never stored after the erasure
        await conn.execute(
            "WITH kept AS (SELECT 1 FROM band_days WHERE band_id = %(b)s AND day = %(d)s"
            " FOR KEY SHARE)"
            " INSERT INTO day_summaries (band_id, day, version, depends_on, computed_with,"
            " summary) SELECT %(b)s, %(d)s, %(v)s, %(deps)s, %(c)s, %(s)s FROM kept"
            " ON CONFLICT (band_id, day) DO UPDATE SET"
            " version = EXCLUDED.version, depends_on = EXCLUDED.depends_on,"
            " computed_with = EXCLUDED.computed_with, summary = EXCLUDED.summary,"
            " computed_at = EXCLUDED.computed_at",
            {
                "b": band_id,
                "d": date,
                "v": day["version"],
                "deps": day["deps"],
                "c": COMPUTED_WITH,
                "s": Jsonb(jsonable_encoder(summary)),
            },
        )
    return summary


def _midpoint_local(sleep: daily.DaySleep, zone: str) -> str | None:
    if sleep.onset_s is None or sleep.end_s is None:
        return None
    mid = dt.datetime.fromtimestamp((sleep.onset_s + sleep.end_s) / 2, ZoneInfo(zone))
    return mid.strftime("%H:%M")


async def _compute(
    conn: AsyncConnection, band_id: str, date: dt.date, bounds: dict, day: dict | None
) -> dict:
    """Steps, heart rate, sleep, HRV, falls and coverage of one local day, and the sums
    the profile's figures are derived from (``basis``, not shown as such)."""
    start, end, zone = bounds["t0"], bounds["t1"], bounds["zone"]
    epochs = await fetch_all(
        conn,
        "SELECT t, steps, activity_count, enmo_mg, hr_mean, worn FROM epochs"
        " WHERE band_id = %s AND t >= %s AND t < %s ORDER BY t",
        (band_id, start - _SLEEP_REACH, end + _SLEEP_REACH),
    )
    falls = await fetch_one(
        conn,
        "SELECT count(*) AS n FROM falls WHERE band_id = %s AND t >= %s AND t < %s AND confirmed",
        (band_id, start, end),
    )
    t_s = np.array([e["t"].timestamp() for e in epochs], dtype=float)
    inside = (t_s >= start.timestamp()) & (t_s < end.timestamp())
    activity = np.array([e["activity_count"] for e in epochs], dtype=float)
    worn = np.array([e["worn"] for e in epochs], dtype=bool)
    hr_mean = np.array(
        [np.nan if e["hr_mean"] is None else e["hr_mean"] for e in epochs], dtype=float
    )
    enmo_g = np.array([e["enmo_mg"] for e in epochs], dtype=float) / 1000.0
    asleep = daily.asleep_minutes(enmo_g, worn)
    sleep = daily.sleep_ending_in(t_s, asleep, hr_mean, enmo_g, start.timestamp(), end.timestamp())
    stats = await _hr_stats(conn, day, band_id, start, end)
    minutes = (end - start) / dt.timedelta(minutes=1)
    return {
        "band_id": band_id,
        "date": date,
        "time_zone": zone,
        "start": start,
        "end": end,
        "hours": round(minutes / 60, 2),
        "steps": int(sum(e["steps"] for e, i in zip(epochs, inside, strict=True) if i)),
        "heart_rate": {
            "min": stats.min,
            "avg": stats.avg,
            "max": stats.max,
            "resting": daily.resting_heart_rate(hr_mean[inside], activity[inside], asleep[inside]),
            "unit": "bpm",
        },
        "sleep_minutes": sleep.minutes,
        "sleep": {
            "minutes": sleep.minutes,
            "start": _utc(sleep.onset_s),
            "end": _utc(sleep.end_s),
            "midpoint_local": _midpoint_local(sleep, zone),
            "efficiency": sleep.efficiency,
            "waso_min": sleep.waso_min,
            "awakenings": sleep.awakenings,
            "stages_estimate_min": sleep.stage_minutes,
            "hypnogram": [
                {"start": _utc(a), "end": _utc(b), "stage": stage}
                for a, b, stage in sleep.hypnogram
            ],
        },
        "hrv": await _day_hrv(conn, band_id, sleep, start, end),
        "falls": falls["n"],
        "coverage": round(int(worn[inside].sum()) / minutes, 4) if minutes else 0.0,
        "basis": energy.day_basis(
            np.array([e["steps"] for e in epochs], dtype=float)[inside],
            hr_mean[inside],
            worn[inside],
        ),
    }
